// Rank 0 under MPI: the server and the coordinator (docs/protocol.md). It carries out the schedule's plan of every
// epoch or round: tells each participant to train (start_turn, train_round), serves their steps, averages the
// bottoms of a parallel round, has the test set evaluated, writes the metrics file and the checkpoints, and stops
// the run. The clients live on ranks 1..R (schedule.h, Placement); every message of split learning names its
// client, and is counted as if every client were its own machine (recorder.h).
//
// Stopping: SIGTERM/SIGUSR1 on any rank (a client rank reports it with a Signal message) puts the coordinator in
// stopping mode: it tells every client rank in a turn or round to pause after the step in flight, writes a
// checkpoint of the position reached (mid-round if need be), and stops everyone; the job exits 0 and --resume
// continues it exactly.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <deque>
#include <map>
#include <optional>
#include <set>

#include "mesl/error.h"
#include "mesl/train/run.h"
#include "mesl/train/signals.h"
#include "recorder.h"
#include "resources.h"
#include "resume.h"
#include "roles.h"
#include "server_core.h"
#include "steps.h"

namespace mesl::train {
namespace {

using Clock = std::chrono::steady_clock;
using comm::Direction;

std::string rank_list(const std::set<int>& ranks) {
  std::string s;
  for (int r : ranks) s += (s.empty() ? "" : ", ") + std::to_string(r);
  return s;
}

class Coordinator : public Role {
 public:
  Coordinator(const RunContext& ctx, comm::Transport& t, Recorder& rec, const Schedule& schedule,
              const std::optional<ResumePoint>& resume)
      : ctx_(ctx),
        t_(t),
        rec_(rec),
        schedule_(schedule),
        placement_{ctx.config.clients, client_ranks(ctx.config, t.size())},
        core_(ctx, parse_device(ctx.config.server_device, t.local_rank())),
        timeout_(role_timeout(ctx)),
        alive_every_(std::chrono::duration_cast<Clock::duration>(
            std::chrono::duration<double>(alive_every_s(ctx.config.timeout_s)))),
        store_(ctx.config.checkpoint_dir) {
    std::vector<int64_t> ranks;
    for (int64_t c = 1; c <= placement_.clients; ++c) ranks.push_back(placement_.rank_of(c));
    rec_.set_ranks(std::move(ranks));
    if (resume) restore(*resume->archive);
    steps_started_ = rec_.next_step();
  }

  int run() override {
    const TrainConfig& c = ctx_.config;
    for (int64_t round = round_; round < *c.epochs; ++round) {
      round_ = round;
      const RoundPlan plan = schedule_.plan(round);
      const double lr = learning_rate(c, round);
      core_.set_lr(lr);
      rec_.start_training();
      const bool fresh = !round_started_;  // not a round that a resumed run continues
      if (fresh) {
        rec_.set_participants(round, plan.participants);
        round_started_ = true;
      }
      if (plan.kind == RoundKind::turns) {
        turns(plan);
      } else {
        parallel(plan, fresh);
      }
      if (stopping_) return stop_with_checkpoint();
      rec_.end_epoch(round, evaluate(plan), lr);
      round_ = round + 1;
      done_.clear();
      granted_.clear();
      last_served_ = 0;
      round_models_.clear();
      round_started_ = false;
      check_signal();
      const bool due = (round + 1) % c.checkpoint_every == 0 && round + 1 < *c.epochs;
      if (stopping_ && round + 1 < *c.epochs) return stop_with_checkpoint();
      if (due && !c.checkpoint_dir.empty()) checkpoint();
    }
    if (!c.checkpoint_dir.empty()) checkpoint();  // the finished run, so that --resume knows it is done
    stop_ranks();
    rec_.finish();
    return 0;
  }

 private:
  int64_t steps_for(int64_t client) const {
    if (ctx_.config.local_steps > 0) return ctx_.config.local_steps;
    const auto shard = static_cast<int64_t>(ctx_.shards[static_cast<size_t>(client - 1)].size());
    return (shard + *ctx_.config.batch_size - 1) / *ctx_.config.batch_size;
  }
  int64_t done(int64_t client) const {
    const auto it = done_.find(client);
    return it == done_.end() ? 0 : it->second;
  }

  // A client's turn or round begins (start_turn, train_round): counted as its traffic in direction `d` the first
  // time only. A run stopped by a signal and resumed gives a paused client a second one to continue, which a run
  // that was never stopped does not send: the simulator's, not split learning's.
  void grant(int64_t client, const Control& c, Direction d) {
    const auto bytes = c.serialize();
    t_.send(placement_.rank_of(client), kTagControl, bytes, timeout_);
    if (granted_.insert(client).second) rec_.count(d, bytes.size(), 0, client);
  }
  // The simulator's own orchestration (evaluate, checkpoint, pause, stop): not split learning's traffic.
  void to_rank(int rank, const Control& c) { t_.send(rank, kTagControl, c.serialize(), timeout_); }

  void check_signal() {
    if (stop_requested() && !stopping_) {
      stopping_ = true;
      stop_reason_ = "signal " + std::to_string(stop_signal()) + " on rank 0";
    }
  }

  // Sequential turns: each participant in turn takes the newest bottom from the client that trained last and,
  // after its steps, hands it to the next turn's client.
  void turns(const RoundPlan& plan) {
    for (const int64_t client : plan.participants) {
      if (stopping_) break;
      const int64_t d = done(client), total = steps_for(client);
      if (d >= total) continue;
      Control start(ControlType::start_turn, plan.round, plan.round, total - d);
      start.client = client;
      start.begin = d;
      start.peer = holder_;
      start.value = schedule_.next_turn(plan.round, client);
      grant(client, start, Direction::control);
      serve({client}, StepOrder::arrival);
      holder_ = client;  // its rank's module holds the newest bottom now, whole turn or not
    }
  }

  // SplitFed: every participant trains at once from the current average; FedAvg at the end.
  void parallel(const RoundPlan& plan, bool fresh) {
    // A continued round keeps the replicas the checkpoint restored.
    if (plan.top_replicas && fresh) core_.begin_round(plan.participants);
    std::map<int, int64_t> grants;  // per rank, how many train_round messages it gets
    std::vector<int64_t> order;       // participants with steps left, from the one served next
    for (const int64_t client : plan.participants) {
      if (done(client) >= steps_for(client)) continue;
      ++grants[placement_.rank_of(client)];
      order.push_back(client);
    }
    // A continued round-robin round goes on after the client served last (the ranks run their clients in the
    // order their train_round messages come, so they follow).
    std::rotate(order.begin(), std::upper_bound(order.begin(), order.end(), last_served_), order.end());
    for (const int64_t client : order) {
      const int64_t d = done(client), total = steps_for(client);
      Control start(ControlType::train_round, plan.round, plan.round, total - d);
      start.client = client;
      start.begin = d;
      start.value = grants[placement_.rank_of(client)];
      // A participant that starts the round downloads its starting bottom: the last average (round 0 starts from
      // the initial weights every rank has).
      const bool download = d == 0 && has_average_;
      if (download) start.extra = average_;
      grant(client, start, download ? Direction::model : Direction::control);
    }
    serve(order, plan.order);
    if (!stopping_) average(plan);
  }

  // FedAvg of the participants' bottoms and (with replicas) tops, weighted by shard size, in client order.
  void average(const RoundPlan& plan) {
    std::vector<std::vector<uint8_t>> states;
    std::vector<double> weights;
    for (const int64_t client : plan.participants) {
      auto it = round_models_.find(client);
      MESL_CHECK(it != round_models_.end(), CommError, "client ", client, " did not send its bottom for averaging");
      states.push_back(std::move(it->second));
      weights.push_back(static_cast<double>(ctx_.shards[static_cast<size_t>(client - 1)].size()));
    }
    round_models_.clear();
    // The coordinator never trains a bottom, so the run's own bottom module is the place to average into.
    load_average(*ctx_.net.bottom.ptr(), states, weights);
    average_ = save_state(*ctx_.net.bottom.ptr());
    has_average_ = true;
    core_.average_replicas(plan.participants, weights);
  }

  // Serves training steps until every client in `clients` ended its turn or round (or paused).
  //
  // Round robin: the server calls every step (Control `go`), strictly in turn over the clients in the order given,
  // one step ahead (the next client's rank computes its forward while the server computes this step's top). So
  // the steps served are always a prefix of that order, also when a stop pauses the round, and a resumed round
  // continues it exactly. Otherwise a rank steps its clients on its own and the server serves in arrival order.
  void serve(const std::vector<int64_t>& clients, StepOrder order) {
    const bool round_robin = order == StepOrder::round_robin;
    std::set<int64_t> active(clients.begin(), clients.end());
    std::deque<int64_t> rotation(clients.begin(), clients.end());  // round robin: clients with steps left
    int64_t called = 0;                                            // round robin: the step called, not yet come
    std::map<int, int64_t> on_rank;  // active clients per rank
    for (int64_t c : active) ++on_rank[placement_.rank_of(c)];
    std::map<int, ServerCore::Result> pending;  // per rank: the step waiting for its StepDone
    std::set<int> paused;
    const auto call_next = [&] {
      if (!round_robin || stopping_ || called != 0 || rotation.empty()) return;
      called = rotation.front();
      Control go(ControlType::go);
      go.client = called;
      to_rank(placement_.rank_of(called), go);
    };
    call_next();
    while (!active.empty()) {
      check_signal();
      if (stopping_) {
        for (const auto& [rank, n] : on_rank) {
          const bool called_here = called != 0 && placement_.rank_of(called) == rank;
          if (n > 0 && !pending.count(rank) && !called_here && !paused.count(rank)) {
            to_rank(rank, Control(ControlType::pause));
            paused.insert(rank);
          }
        }
      }
      // A rank with a step in flight may only send its StepDone next; the others a step or the end of a turn.
      std::vector<std::pair<int, int>> patterns{{comm::kAnySource, kTagSignal}};
      std::set<int> busy;
      for (const auto& [rank, n] : on_rank) {
        if (n == 0) continue;
        if (pending.count(rank)) {
          patterns.emplace_back(rank, kTagStepDone);
          busy.insert(rank);
          continue;
        }
        if (!round_robin || (called != 0 && placement_.rank_of(called) == rank)) {
          patterns.emplace_back(rank, kTagStep);
          busy.insert(rank);
        }
        patterns.emplace_back(rank, kTagControl);
      }
      // A client rank may itself be waiting up to --timeout-s for another (the sequential hand-over). Wait a
      // little longer than that, so that the rank next to a fault reports it first and names the rank at fault.
      constexpr double kRelaySlackS = 2.0;
      std::optional<comm::Message> got = recv_telling_idle(patterns, ctx_.config.timeout_s + kRelaySlackS, busy);
      if (!got) {
        std::set<int> silent = busy;
        for (const auto& [rank, n] : on_rank)
          if (n > 0 && busy.empty()) silent.insert(rank);
        throw comm::TimeoutError(::mesl::detail::concat(
            "client rank(s) ", rank_list(silent), " sent nothing for ", ctx_.config.timeout_s + kRelaySlackS,
            " s: a rank died or hung (raise --timeout-s if a training step is really that slow)"));
      }
      const comm::Message& m = *got;
      const int rank = m.source;
      if (m.tag == kTagSignal) {
        note_remote_signal(m);
      } else if (m.tag == kTagStep) {
        const StepHeader h = StepHeader::parse(m.data);
        const int64_t c = h.client;
        MESL_CHECK(h.kind == StepKind::train && active.count(c) && placement_.rank_of(c) == rank, CommError,
                   "rank ", rank, " sent a step for client ", c, ", which is not training on it now");
        MESL_CHECK(!round_robin || c == called, CommError, "rank ", rank, " sent client ", c,
                   "'s step out of turn (round-robin called client ", called, ")");
        if (round_robin) {
          // The next client is called before this step is computed; one whose steps are done leaves the rotation.
          rotation.pop_front();
          if (done(c) + 1 < steps_for(c)) rotation.push_back(c);
          called = 0;
          call_next();
        }
        rec_.count(Direction::control, m.data.size(), 0, c);
        const comm::Message payload = t_.recv(rank, kTagFwd, timeout_);
        rec_.count(Direction::fwd, payload.data.size(), payload_header_bytes(payload.data), c);
        ServerCore::Result r = core_.train_step(c, h, payload.data, steps_started_);
        r.row.step = steps_started_++;  // steps are numbered in the order the server serves them
        t_.send(rank, kTagBwd, r.grad_payload, timeout_);
        rec_.count(Direction::bwd, r.grad_payload.size(), payload_header_bytes(r.grad_payload), c);
        pending[rank] = std::move(r);
        ++done_[c];
        last_served_ = c;
      } else if (m.tag == kTagStepDone) {
        ServerCore::Result& r = pending.at(rank);
        rec_.count(Direction::control, m.data.size(), 0, r.row.client);
        complete_row(r.row, StepDone::parse(m.data), r.server_s);
        completed_[r.row.step] = r.row;
        pending.erase(rank);
        // Ranks finish steps out of order; rows are written in step order.
        while (!completed_.empty() && completed_.begin()->first == rec_.next_step()) {
          rec_.add_step(completed_.begin()->second);
          completed_.erase(completed_.begin());
        }
      } else {
        const Control end = Control::parse(m.data);
        const int64_t c = end.client;
        MESL_CHECK((end.type == ControlType::turn_end || end.type == ControlType::round_end) && active.count(c) &&
                       placement_.rank_of(c) == rank,
                   CommError, "rank ", rank, " sent an unexpected control message during training");
        const bool was_paused = (end.flags & kFlagPaused) != 0;
        // A paused end is the simulator's (see grant()); a real one is the client's traffic.
        if (!was_paused) rec_.count(Direction::control, m.data.size(), 0, c);
        // Bytes the client handed to the next client (the sequential hand-over), counted on its behalf.
        if (end.value > 0) rec_.count(Direction::model, static_cast<uint64_t>(end.value), 0, c);
        // A finished parallel round: the client's bottom follows for FedAvg.
        if (end.type == ControlType::round_end && !was_paused) {
          comm::Message model = t_.recv(rank, kTagModel, timeout_);
          rec_.count(Direction::model, model.data.size(), 0, c);
          round_models_[c] = std::move(model.data);
        }
        if (!was_paused) rec_.add_round(c);
        active.erase(c);
        --on_rank[rank];
        if (const auto it = std::find(rotation.begin(), rotation.end(), c); it != rotation.end()) rotation.erase(it);
      }
    }
  }

  // t_.recv_any_of(patterns, seconds), except that meanwhile every client rank not in `busy` is told at least every
  // alive_every_s that the server runs (protocol.h): such a rank waits for its clients' turns with no other way to
  // tell a long turn from a stopped server. Alive messages are not counted: they are the simulator's liveness
  // check, not split learning's traffic. nullopt when nothing came in time.
  std::optional<comm::Message> recv_telling_idle(const std::vector<std::pair<int, int>>& patterns, double seconds,
                                                 const std::set<int>& busy) {
    const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(seconds));
    for (;;) {
      if (Clock::now() >= next_alive_) {
        next_alive_ = Clock::now() + alive_every_;
        for (int r = 1; r <= placement_.ranks; ++r)
          if (!busy.count(r)) t_.send(r, kTagAlive, nullptr, 0, timeout_);
      }
      const Clock::duration left = std::min(deadline, next_alive_) - Clock::now();
      try {
        return t_.recv_any_of(patterns, std::max(std::chrono::duration<double>(left), kNoWait.value()));
      } catch (const comm::TimeoutError&) {
        if (Clock::now() >= deadline) return std::nullopt;
      }
    }
  }

  comm::TimeoutError silent_ranks(const std::set<int>& ranks, const std::string& what) const {
    return comm::TimeoutError(::mesl::detail::concat(
        "client rank(s) ", rank_list(ranks), " did not answer within ", ctx_.config.timeout_s,
        " s (rank 0 was waiting for ", what, "): a rank died or hung (raise --timeout-s if it is really that slow)"));
  }

  void note_remote_signal(const comm::Message& m) {
    if (!stopping_) {
      stopping_ = true;
      stop_reason_ = std::string(m.data.begin(), m.data.end());
    }
  }

  // The test set in batches of --eval-batch-size: all of it on the rank that holds the newest bottom (turns), or
  // a share per client rank with the new average (parallel). Either way the same batches, whatever N and R.
  EvalCounts evaluate(const RoundPlan& plan) {
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
  void checkpoint() {
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
  void stop_ranks() {
    for (int r = 1; r <= placement_.ranks; ++r) to_rank(r, Control(ControlType::stop));
    std::vector<metrics::RankRow> rows{rank_report(0, 0, nullptr, rec_.first_step_s())};
    for (int r = 1; r <= placement_.ranks; ++r) {
      const Control report = Control::parse(t_.recv(r, kTagControl, timeout_).data);
      MESL_CHECK(report.type == ControlType::report, CommError, "rank ", r, " answered stop with another message");
      rows.push_back(parse_rank_report(report.extra));
    }
    rec_.set_rank_rows(rows);
  }

  int stop_with_checkpoint() {
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

  void restore(torch::serialize::InputArchive& a) {
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

  const RunContext& ctx_;
  comm::Transport& t_;
  Recorder& rec_;
  const Schedule& schedule_;
  Placement placement_;
  ServerCore core_;
  comm::Timeout timeout_;
  const Clock::duration alive_every_;
  Clock::time_point next_alive_{};  // when idle ranks are next told that the server runs (recv_telling_idle)
  CheckpointStore store_;

  int64_t round_ = 0;                   // the epoch or round in progress
  bool round_started_ = false;          // its participants are recorded
  std::map<int64_t, int64_t> done_;     // steps each client did in it
  std::set<int64_t> granted_;           // clients whose turn or round in it began (and was counted)
  int64_t last_served_ = 0;             // the client whose step was served last in it
  int64_t holder_ = 0;                  // turns: the client that trained last (0: every rank has the bottom)
  std::map<int64_t, std::vector<uint8_t>> round_models_;  // parallel: bottoms of clients that finished the round
  std::vector<uint8_t> average_;        // parallel: the last FedAvg of the bottoms
  bool has_average_ = false;
  int64_t steps_started_ = 0;
  std::map<int64_t, metrics::StepRow> completed_;
  bool stopping_ = false;
  std::string stop_reason_;
  std::string last_checkpoint_;
};

}  // namespace

std::unique_ptr<Role> make_server(const RunContext& ctx, comm::Transport& transport, Recorder& recorder,
                                  const Schedule& schedule, const std::optional<ResumePoint>& resume) {
  return std::make_unique<Coordinator>(ctx, transport, recorder, schedule, resume);
}

}  // namespace mesl::train
