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
//
// This file: the round loop, the grants and the serving of steps. The class is declared in coordinator.h; what
// ends a round or the run (evaluation, checkpoints, restore, stopping the ranks) is in server_round_end.cpp.
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
#include "coordinator.h"
#include "recorder.h"
#include "resources.h"
#include "resume.h"
#include "roles.h"
#include "server_core.h"
#include "steps.h"

namespace mesl::train {
namespace {

using comm::Direction;

std::string rank_list(const std::set<int>& ranks) {
  std::string s;
  for (int r : ranks) s += (s.empty() ? "" : ", ") + std::to_string(r);
  return s;
}

}  // namespace

Coordinator::Coordinator(const RunContext& ctx, comm::Transport& t, Recorder& rec, const Schedule& schedule,
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

int Coordinator::run() {
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

// A client's turn or round begins (start_turn, train_round): counted as its traffic in direction `d` the first
// time only. A run stopped by a signal and resumed gives a paused client a second one to continue, which a run
// that was never stopped does not send: the simulator's, not split learning's.
void Coordinator::grant(int64_t client, const Control& c, Direction d) {
  const auto bytes = c.serialize();
  t_.send(placement_.rank_of(client), kTagControl, bytes, timeout_);
  if (granted_.insert(client).second) rec_.count(d, bytes.size(), 0, client);
}

// Sequential turns: each participant in turn takes the newest bottom from the client that trained last and,
// after its steps, hands it to the next turn's client.
void Coordinator::turns(const RoundPlan& plan) {
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
void Coordinator::parallel(const RoundPlan& plan, bool fresh) {
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
void Coordinator::average(const RoundPlan& plan) {
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
void Coordinator::serve(const std::vector<int64_t>& clients, StepOrder order) {
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
std::optional<comm::Message> Coordinator::recv_telling_idle(const std::vector<std::pair<int, int>>& patterns,
                                                            double seconds, const std::set<int>& busy) {
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

comm::TimeoutError Coordinator::silent_ranks(const std::set<int>& ranks, const std::string& what) const {
  return comm::TimeoutError(::mesl::detail::concat(
      "client rank(s) ", rank_list(ranks), " did not answer within ", ctx_.config.timeout_s,
      " s (rank 0 was waiting for ", what, "): a rank died or hung (raise --timeout-s if it is really that slow)"));
}


std::unique_ptr<Role> make_server(const RunContext& ctx, comm::Transport& transport, Recorder& recorder,
                                  const Schedule& schedule, const std::optional<ResumePoint>& resume) {
  return std::make_unique<Coordinator>(ctx, transport, recorder, schedule, resume);
}

}  // namespace mesl::train
