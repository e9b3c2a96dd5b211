// The local topology: sequential split learning in one process, with the same workers, model and codecs as the
// MPI roles but no transport. It is the reference that shows what the split and the transport cost. Payload bytes
// (forward, backward, evaluation) are counted as the codecs produce them; there are no control or model messages.
// Checkpoints and stop signals work as in the MPI roles; the one process writes one checkpoint file.
#include <cstdio>

#include "mesl/train/run.h"
#include "recorder.h"
#include "resume.h"
#include "mesl/train/signals.h"
#include "workers.h"

namespace mesl::train {
namespace {

class Local {
 public:
  Local(const RunContext& ctx, Recorder& rec)
      : ctx_(ctx),
        rec_(rec),
        train_split_(data::open_split(ctx.dataset, true)),
        test_split_(data::open_split(ctx.dataset, false)),
        server_(ctx, ctx.net, parse_device(ctx.config.server_device, 0)),
        store_(ctx.config.checkpoint_dir) {
    const at::Device client_device = parse_device(ctx.config.client_device, 0);
    for (int64_t k = 1; k <= ctx.config.clients; ++k)
      clients_.push_back(std::make_unique<ClientWorker>(ctx, k, *train_split_, *test_split_,
                                                        clone_sequential(ctx.net.bottom), client_device));
    done_.assign(clients_.size(), 0);
  }

  void restore(torch::serialize::InputArchive& a) {
    round_ = get_int(a, "round");
    done_ = get_ints(a, "done");
    holder_ = get_int(a, "holder");
    rec_.restore(a);
    server_.load(a);
    for (auto& w : clients_) {
      torch::serialize::InputArchive part;
      a.read("client." + std::to_string(w->client()), part);
      w->load(part);
    }
  }

  int run() {
    const TrainConfig& c = ctx_.config;
    comm::Traffic& traffic = rec_.traffic();
    for (; round_ < *c.epochs; ++round_) {
      const double lr = learning_rate(c, round_);
      server_.set_lr(lr);
      rec_.start_training();
      for (auto& w : clients_) {
        const int64_t k = w->client();
        int64_t& done = done_[static_cast<size_t>(k - 1)];
        if (done >= w->steps_per_turn()) continue;
        // Sequential split learning hands the bottom from client to client; here it is a copy in memory.
        if (holder_ != 0 && holder_ != k)
          load_state(*w->bottom().net(), save_state(*clients_[static_cast<size_t>(holder_ - 1)]->bottom().net()));
        holder_ = k;
        w->begin_turn(round_, done, lr);
        for (; done < w->steps_per_turn(); ++done) {
          if (stop_requested()) return stop();
          ClientWorker::Forward f = w->forward(round_, round_);
          ServerWorker::Result r = server_.train_step(k, f.header, f.payload, rec_.next_step());
          traffic.count(comm::Direction::fwd, f.payload.size(), payload_header_bytes(f.payload));
          traffic.count(comm::Direction::bwd, r.grad_payload.size(), payload_header_bytes(r.grad_payload));
          const StepDone step_done = w->backward(r.grad_payload, r.server_s);
          complete_row(r.row, step_done, r.server_s);
          r.row.step = rec_.next_step();
          rec_.add_step(r.row);
        }
      }
      EvalCounts test;
      clients_[static_cast<size_t>(holder_ - 1)]->evaluate(
          0, ctx_.test_size, [&](const StepHeader& h, const std::vector<uint8_t>& payload) {
            traffic.count(comm::Direction::eval_fwd, payload.size(), payload_header_bytes(payload));
            test.add(server_.eval_step(h, payload));
          });
      rec_.end_epoch(round_, test, lr);
      std::fill(done_.begin(), done_.end(), 0);
      if (round_ + 1 < *c.epochs) {
        if (stop_requested()) {
          ++round_;
          return stop();
        }
        if ((round_ + 1) % c.checkpoint_every == 0 && !c.checkpoint_dir.empty()) checkpoint(round_ + 1);
      }
    }
    if (!c.checkpoint_dir.empty()) checkpoint(round_);
    rec_.finish();
    return 0;
  }

 private:
  void checkpoint(int64_t round) {
    const std::string dir = store_.prepare(rec_.next_step());
    torch::serialize::OutputArchive a;
    put(a, "identity", identity_json(ctx_.config));
    put(a, "round", round);
    put(a, "done", done_);
    put(a, "holder", holder_);
    rec_.save(a);
    server_.save(a);
    for (auto& w : clients_) {
      torch::serialize::OutputArchive part;
      w->save(part);
      a.write("client." + std::to_string(w->client()), part);
    }
    store_.save(dir, 0, a);
    store_.complete(dir);
    last_checkpoint_ = dir;
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
  std::unique_ptr<data::Split> train_split_, test_split_;
  ServerWorker server_;
  CheckpointStore store_;
  std::vector<std::unique_ptr<ClientWorker>> clients_;
  int64_t round_ = 0;
  std::vector<int64_t> done_;  // steps each client did in round_
  int64_t holder_ = 0;         // the client whose bottom is the newest (0: none trained yet)
  std::string last_checkpoint_;
};

}  // namespace

int run_local(const RunContext& ctx, Recorder& recorder, const std::optional<ResumePoint>& resume) {
  Local local(ctx, recorder);
  if (resume) local.restore(*resume->archive);
  return local.run();
}

}  // namespace mesl::train
