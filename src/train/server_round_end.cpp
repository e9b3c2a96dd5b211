// The coordinator (coordinator.h) at the end of a round and of the run: the test set evaluated on the client ranks,
// checkpoints (every rank saves its part, rank 0 marks it complete), restoring one, and stopping the ranks.
#include <cstdio>
#include <map>
#include <set>

#include "coordinator.h"
#include "mesl/error.h"
#include "resources.h"
#include "steps.h"

namespace mesl::train {

using comm::Direction;

// The test set in batches of --eval-batch-size: all of it on the rank that holds the newest bottom (turns), or
// a share per client rank with the new average (parallel). Either way the same batches, whatever N and R.
EvalCounts Coordinator::evaluate(const RoundPlan& plan) {
  std::map<int, std::pair<int64_t, int64_t>> shares;
  if (plan.kind == RoundKind::turns) {
    shares[holder_ != 0 ? placement_.rank_of(holder_) : 1] = {0, eval_batches(ctx_)};
  } else {
    for (int r = 1; r <= placement_.ranks; ++r) shares[r] = eval_share(ctx_, r, placement_.ranks);
  }
  std::set<int> active;
  for (const auto& [rank, share] : shares) {
    Control c(ControlType::evaluate);
    c.begin = share.first;
    c.end = share.second;
    if (plan.kind == RoundKind::parallel) c.extra = average_;
    to_rank(rank, c);
    active.insert(rank);
  }
  EvalCounts total;
  while (!active.empty()) {
    std::vector<std::pair<int, int>> patterns{{comm::kAnySource, kTagSignal}};
    for (int r : active) {
      patterns.emplace_back(r, kTagStep);
      patterns.emplace_back(r, kTagControl);
    }
    const std::optional<comm::Message> got = recv_telling_idle(patterns, ctx_.config.timeout_s, active);
    if (!got) throw silent_ranks(active, "the end of evaluation");
    const comm::Message& m = *got;
    if (m.tag == kTagSignal) {
      note_remote_signal(m);
    } else if (m.tag == kTagStep) {
      rec_.count(Direction::eval_fwd, m.data.size());
      const StepHeader h = StepHeader::parse(m.data);
      const comm::Message payload = t_.recv(m.source, kTagFwd, timeout_);
      rec_.count(Direction::eval_fwd, payload.data.size(), payload_header_bytes(payload.data));
      total.add(core_.eval_step(h, payload.data));
    } else {
      MESL_CHECK(Control::parse(m.data).type == ControlType::eval_end, CommError, "rank ", m.source,
                 " sent an unexpected control message during evaluation");
      active.erase(m.source);
    }
  }
  return total;
}

// Every rank saves its part; rank 0 marks the checkpoint complete once all have.
void Coordinator::checkpoint() {
  const std::string dir = store_.prepare(rec_.next_step());
  Control ck(ControlType::checkpoint, round_, round_);
  // Turns: the newest bottom lives on the rank of the client that trained last (every rank holds it before
  // the first turn of a run or of a resumed run).
  if (schedule_.kind() == RoundKind::turns) ck.value = holder_ != 0 ? holder_ : 1;
  ck.extra.assign(dir.begin(), dir.end());
  for (int r = 1; r <= placement_.ranks; ++r) to_rank(r, ck);
  torch::serialize::OutputArchive a;
  put(a, "identity", identity_json(ctx_.config));
  put(a, "round", round_);
  put(a, "round_started", static_cast<int64_t>(round_started_));
  put(a, "done", done_);
  put(a, "holder", holder_);
  put(a, "granted", std::vector<int64_t>(granted_.begin(), granted_.end()));
  put(a, "last_served", last_served_);
  std::vector<int64_t> holders;
  for (const auto& [client, state] : round_models_) {
    put(a, "round_model." + std::to_string(client), state);
    holders.push_back(client);
  }
  put(a, "round_model_clients", holders);
  put(a, "has_average", static_cast<int64_t>(has_average_));
  put(a, "average", average_);
  rec_.save(a);
  core_.save(a);
  store_.save(dir, 0, a);
  std::set<int> waiting;
  for (int r = 1; r <= placement_.ranks; ++r) waiting.insert(r);
  while (!waiting.empty()) {
    std::vector<std::pair<int, int>> patterns{{comm::kAnySource, kTagSignal}};
    for (int r : waiting) patterns.emplace_back(r, kTagControl);
    const std::optional<comm::Message> got = recv_telling_idle(patterns, ctx_.config.timeout_s, waiting);
    if (!got) throw silent_ranks(waiting, "their parts of the checkpoint");
    const comm::Message& m = *got;
    if (m.tag == kTagSignal) {
      note_remote_signal(m);
      continue;
    }
    MESL_CHECK(Control::parse(m.data).type == ControlType::checkpoint_done, CommError, "rank ", m.source,
               " answered a checkpoint with another message");
    waiting.erase(m.source);
  }
  store_.complete(dir);
  last_checkpoint_ = dir;
}

// Ends every client rank; each answers with what it used (the /ranks table).
void Coordinator::stop_ranks() {
  for (int r = 1; r <= placement_.ranks; ++r) to_rank(r, Control(ControlType::stop));
  std::vector<metrics::RankRow> rows{rank_report(0, 0, nullptr, rec_.first_step_s())};
  for (int r = 1; r <= placement_.ranks; ++r) {
    const Control report = Control::parse(t_.recv(r, kTagControl, timeout_).data);
    MESL_CHECK(report.type == ControlType::report, CommError, "rank ", r, " answered stop with another message");
    rows.push_back(parse_rank_report(report.extra));
  }
  rec_.set_rank_rows(rows);
}

int Coordinator::stop_with_checkpoint() {
  if (!ctx_.config.checkpoint_dir.empty()) checkpoint();
  stop_ranks();
  rec_.flush();
  if (ctx_.config.checkpoint_dir.empty())
    std::printf("mesl: stopped by %s at epoch %lld; no --checkpoint-dir, so nothing to resume from\n",
                stop_reason_.c_str(), static_cast<long long>(round_ + 1));
  else
    std::printf("mesl: stopped by %s at epoch %lld; checkpoint %s written, continue with --resume\n",
                stop_reason_.c_str(), static_cast<long long>(round_ + 1), last_checkpoint_.c_str());
  std::fflush(stdout);
  return 0;
}

void Coordinator::restore(torch::serialize::InputArchive& a) {
  round_ = get_int(a, "round");
  round_started_ = get_int(a, "round_started") != 0;
  done_ = get_counts(a, "done");
  // Every client rank loads the newest bottom of a sequential run from the checkpoint: no hand-over is due.
  holder_ = 0;
  for (const int64_t c : get_ints(a, "granted")) granted_.insert(c);
  last_served_ = get_int(a, "last_served");
  for (int64_t client : get_ints(a, "round_model_clients"))
    round_models_[client] = get_bytes(a, "round_model." + std::to_string(client));
  has_average_ = get_int(a, "has_average") != 0;
  average_ = get_bytes(a, "average");
  rec_.restore(a);
  core_.load(a);
}

}  // namespace mesl::train
