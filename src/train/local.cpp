// The local topology: the sequential schedule in one process, with the same client host, server core, model and
// codecs as the MPI roles but no transport: the reference that shows what the transport costs
// (docs/performance.md). Its plans come from the sequential schedule, turn by turn; the hand-over between two
// clients is the bottom staying in the one module. Payload bytes (forward, backward, evaluation) are counted as
// the codecs produce them; there are no control or model messages. Checkpoints and stop signals work as in the MPI
// roles: rank-0.pt and clients-1-of-1.bin.
#include <cstdio>

#include "client_host.h"
#include "mesl/train/signals.h"
#include "recorder.h"
#include "resources.h"
#include "resume.h"
#include "roles.h"
#include "server_core.h"
#include "steps.h"

namespace mesl::train {
namespace {

using comm::Direction;

class Local : public Role {
 public:
  Local(const RunContext& ctx, Recorder& rec, const Schedule& schedule, const std::optional<ResumePoint>& resume)
      : ctx_(ctx),
        rec_(rec),
        schedule_(schedule),
        train_split_(data::open_split(ctx.dataset, true)),
        test_split_(data::open_split(ctx.dataset, false)),
        core_(ctx, parse_device(ctx.config.server_device, 0)),
        store_(ctx.config.client_state_memory, rank_state_dir(ctx, 1)),
        host_(ctx, RoundKind::turns, *train_split_, *test_split_, all_clients(ctx),
              parse_device(ctx.config.client_device, 0), store_),
        checkpoints_(ctx.config.checkpoint_dir) {
    check_client_states(ctx, RoundKind::turns, 1);
    rec_.set_ranks(std::vector<int64_t>(static_cast<size_t>(ctx.config.clients), 0));
    if (resume) restore(*resume);
  }

  int run() override {
    const TrainConfig& c = ctx_.config;
    for (; round_ < *c.epochs; ++round_) {
      const RoundPlan plan = schedule_.plan(round_);
      const double lr = learning_rate(c, round_);
      core_.set_lr(lr);
      rec_.start_training();
      if (!round_started_) {
        rec_.set_participants(round_, plan.participants);
        round_started_ = true;
      }
      for (const int64_t client : plan.participants) {
        int64_t& d = done_[client];
        const int64_t total = steps_for(client);
        if (d >= total) continue;
        host_.activate(client);
        host_.begin(round_, d, lr);
        for (; d < total; ++d) {
          if (stop_requested()) return stop();
          ClientHost::Forward f = host_.forward(round_, round_);
          ServerCore::Result r = core_.train_step(client, f.header, f.payload, rec_.next_step());
          rec_.count(Direction::fwd, f.payload.size(), payload_header_bytes(f.payload), client);
          rec_.count(Direction::bwd, r.grad_payload.size(), payload_header_bytes(r.grad_payload), client);
          complete_row(r.row, host_.backward(r.grad_payload, r.server_s), r.server_s);
          r.row.step = rec_.next_step();
          rec_.add_step(r.row);
        }
        rec_.add_round(client);
      }
      EvalCounts test;
      host_.evaluate(0, eval_batches(ctx_), [&](const StepHeader& h, const std::vector<uint8_t>& payload) {
        rec_.count(Direction::eval_fwd, payload.size(), payload_header_bytes(payload));
        test.add(core_.eval_step(h, payload));
      });
      rec_.end_epoch(round_, test, lr);
      done_.clear();
      round_started_ = false;
      if (round_ + 1 < *c.epochs) {
        if (stop_requested()) {
          ++round_;
          return stop();
        }
        if ((round_ + 1) % c.checkpoint_every == 0 && !c.checkpoint_dir.empty()) checkpoint(round_ + 1);
      }
    }
    if (!c.checkpoint_dir.empty()) checkpoint(round_);
    host_.deactivate();
    rec_.set_rank_rows({rank_report(0, ctx_.config.clients, &store_, rec_.first_step_s())});
    store_.release_files();
    rec_.finish();
    return 0;
  }

 private:
  static std::vector<int64_t> all_clients(const RunContext& ctx) {
    std::vector<int64_t> out;
    for (int64_t c = 1; c <= ctx.config.clients; ++c) out.push_back(c);
    return out;
  }

  int64_t steps_for(int64_t client) const {
    if (ctx_.config.local_steps > 0) return ctx_.config.local_steps;
    const auto shard = static_cast<int64_t>(ctx_.shards[static_cast<size_t>(client - 1)].size());
    return (shard + *ctx_.config.batch_size - 1) / *ctx_.config.batch_size;
  }

  void checkpoint(int64_t round) {
    const std::string dir = checkpoints_.prepare(rec_.next_step());
    host_.deactivate();
    ClientFileWriter file(checkpoints_.client_file(dir, 1, 1));
    file.add(0, host_.bottom_state());
    store_.for_each([&](int64_t client, const std::vector<uint8_t>& bytes) { file.add(client, bytes); });
    file.close();
    torch::serialize::OutputArchive a;
    put(a, "identity", identity_json(ctx_.config));
    put(a, "round", round);
    put(a, "round_started", static_cast<int64_t>(round_started_ && round == round_));
    put(a, "done", done_);
    rec_.save(a);
    core_.save(a);
    checkpoints_.save(dir, 0, a);
    checkpoints_.complete(dir);
    last_checkpoint_ = dir;
  }

  void restore(const ResumePoint& resume) {
    torch::serialize::InputArchive& a = *resume.archive;
    round_ = get_int(a, "round");
    round_started_ = get_int(a, "round_started") != 0;
    done_ = get_counts(a, "done");
    rec_.restore(a);
    core_.load(a);
    for (const auto& [file, entry] : resume.entries) {
      const std::vector<uint8_t> bytes = read_client_entry(file, entry);
      if (entry.id == 0) host_.load_bottom(bytes);
      else store_.put(entry.id, ClientState::parse(bytes.data(), bytes.size(), "client state in " + file));
    }
  }

  int stop() {
    rec_.flush();
    const std::string reason = "signal " + std::to_string(stop_signal());
    if (ctx_.config.checkpoint_dir.empty()) {
      std::printf("mesl: stopped by %s at epoch %lld; no --checkpoint-dir, so nothing to resume from\n",
                  reason.c_str(), static_cast<long long>(round_ + 1));
    } else {
      checkpoint(round_);
      std::printf("mesl: stopped by %s at epoch %lld; checkpoint %s written, continue with --resume\n",
                  reason.c_str(), static_cast<long long>(round_ + 1), last_checkpoint_.c_str());
    }
    std::fflush(stdout);
    return 0;
  }

  const RunContext& ctx_;
  Recorder& rec_;
  const Schedule& schedule_;
  std::unique_ptr<data::Split> train_split_, test_split_;
  ServerCore core_;
  StateStore store_;
  ClientHost host_;
  CheckpointStore checkpoints_;
  int64_t round_ = 0;
  bool round_started_ = false;
  std::map<int64_t, int64_t> done_;  // steps each client did in round_
  std::string last_checkpoint_;
};

}  // namespace

std::unique_ptr<Role> make_local(const RunContext& ctx, Recorder& recorder, const Schedule& schedule,
                                 const std::optional<ResumePoint>& resume) {
  return std::make_unique<Local>(ctx, recorder, schedule, resume);
}

}  // namespace mesl::train
