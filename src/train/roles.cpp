// The MPI roles: rank 0 serves, ranks 1..N are clients (protocol: docs/protocol.md).
//
// Counting: every message the server sends or receives is counted by the server; a message between two clients
// (the sequential topology's hand-over of the bottom) is counted by its sender and reported to the server with
// the end of its turn.
//
// Stopping: SIGTERM/SIGUSR1 on any rank (a client reports it with a Signal message) puts the server in stopping
// mode: it tells every client in a turn to pause after the step in flight, writes a checkpoint of the position
// reached (mid-round if need be), and stops everyone; the job exits 0 and --resume continues it exactly.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <deque>
#include <map>
#include <optional>
#include <set>

#include "mesl/error.h"
#include "mesl/train/run.h"
#include "recorder.h"
#include "resume.h"
#include "mesl/train/signals.h"
#include "workers.h"

namespace mesl::train {
namespace {

using Clock = std::chrono::steady_clock;
using comm::Direction;

comm::Timeout timeout_of(const RunContext& ctx) { return std::chrono::duration<double>(ctx.config.timeout_s); }
const comm::Timeout kNoWait = std::chrono::duration<double>(0.0);

std::string rank_list(const std::set<int>& ranks) {
  std::string s;
  for (int r : ranks) s += (s.empty() ? "" : ", ") + std::to_string(r);
  return s;
}

// Where the run stands: the round in progress and how many steps each client did in it.
struct Position {
  int64_t round = 0;
  std::vector<int64_t> done;  // by client - 1
};

class Server {
 public:
  Server(const RunContext& ctx, comm::Transport& t, Recorder& rec, const std::optional<ResumePoint>& resume)
      : ctx_(ctx),
        t_(t),
        worker_(ctx, ctx.net, parse_device(ctx.config.server_device, t.local_rank())),
        rec_(rec),
        timeout_(timeout_of(ctx)),
        alive_every_(std::chrono::duration_cast<Clock::duration>(
            std::chrono::duration<double>(alive_every_s(ctx.config.timeout_s)))),
        store_(ctx.config.checkpoint_dir),
        n_(static_cast<int>(ctx.config.clients)) {
    pos_.done.assign(static_cast<size_t>(n_), 0);
    if (resume) restore(*resume->archive);
    steps_started_ = rec_.next_step();
    for (const auto& s : ctx_.shards) shard_weights_.push_back(static_cast<double>(s.size()));
  }

  int run() {
    const TrainConfig& c = ctx_.config;
    for (int64_t round = pos_.round; round < *c.epochs; ++round) {
      pos_.round = round;
      const double lr = learning_rate(c, round);
      worker_.set_lr(lr);
      rec_.start_training();
      std::vector<std::tuple<int, int64_t, int64_t>> evaluators;
      if (c.topology == Topology::sequential) {
        for (int client = 1; client <= n_ && !stopping_; ++client) {
          const int64_t done = pos_.done[client - 1], total = steps_per_turn(client);
          if (done >= total) continue;
          Control start(ControlType::start_turn, round, round, total - done);
          start.begin = done;
          if (done > 0) start.flags |= kFlagContinue;
          // The bottom goes on to the next client, except after the very last turn of the run.
          const bool last_turn = round == *c.epochs - 1 && client == n_;
          if (n_ > 1 && !last_turn) start.flags |= kFlagHandOver;
          control(client, start);
          pending_hand_over_to_ = 0;  // the client takes any hand-over waiting for it when its turn starts
          serve({client});
          if (!last_turn_paused_ && (start.flags & kFlagHandOver)) pending_hand_over_to_ = client % n_ + 1;
        }
        evaluators.emplace_back(n_, 0, ctx_.test_size);  // the last client holds the newest bottom
      } else {
        std::set<int> active;
        for (int client = 1; client <= n_; ++client) {
          const int64_t done = pos_.done[client - 1], total = steps_per_turn(client);
          if (done >= total) continue;
          Control start(ControlType::train_round, round, round, total - done);
          start.begin = done;
          control(client, start);
          active.insert(client);
        }
        serve(active);
        if (!stopping_) average_bottoms();
        for (int client = 1; client <= n_; ++client) {
          const auto [b, e] = test_slice(ctx_, client, n_);
          evaluators.emplace_back(client, b, e);
        }
      }
      if (stopping_) return stop_with_checkpoint();
      rec_.end_epoch(round, evaluate(evaluators), lr);
      pos_ = Position{round + 1, std::vector<int64_t>(static_cast<size_t>(n_), 0)};
      check_signal();
      const bool due = (round + 1) % c.checkpoint_every == 0 && round + 1 < *c.epochs;
      if (stopping_ && round + 1 < *c.epochs) return stop_with_checkpoint();
      if (due && !c.checkpoint_dir.empty()) checkpoint();
    }
    if (!c.checkpoint_dir.empty()) checkpoint();  // the finished run, so that --resume knows it is done
    for (int client = 1; client <= n_; ++client) control(client, Control(ControlType::stop));
    rec_.finish();
    return 0;
  }

 private:
  int64_t steps_per_turn(int client) const {
    if (ctx_.config.local_steps > 0) return ctx_.config.local_steps;
    const auto shard = static_cast<int64_t>(ctx_.shards[static_cast<size_t>(client - 1)].size());
    return (shard + *ctx_.config.batch_size - 1) / *ctx_.config.batch_size;
  }

  void control(int client, const Control& c, Direction d = Direction::control) {
    const auto bytes = c.serialize();
    t_.send(client, kTagControl, bytes, timeout_);
    rec_.traffic().count(d, bytes.size());
  }

  void check_signal() {
    if (stop_requested() && !stopping_) {
      stopping_ = true;
      stop_reason_ = "signal " + std::to_string(stop_signal()) + " on rank 0";
    }
  }

  // Serves training steps until every client in `active` ended its turn or round (or paused).
  void serve(std::set<int> active) {
    const bool round_robin = ctx_.config.topology == Topology::sflv2 &&
                             ctx_.config.serve_order == ServeOrder::round_robin;
    std::deque<int> rotation(active.begin(), active.end());
    std::map<int, ServerWorker::Result> pending;  // steps waiting for the client's StepDone
    std::set<int> paused;
    comm::Traffic& traffic = rec_.traffic();
    while (!active.empty()) {
      check_signal();
      if (stopping_) {
        for (int c : active) {
          if (!pending.count(c) && !paused.count(c)) {
            control(c, Control(ControlType::pause));
            paused.insert(c);
          }
        }
      }
      // A client with a step in flight may only send its StepDone next; the others a step or the end of turn.
      std::vector<std::pair<int, int>> patterns{{comm::kAnySource, kTagSignal}};
      for (int c : active) {
        if (pending.count(c)) {
          patterns.emplace_back(c, kTagStepDone);
          continue;
        }
        if (!round_robin || rotation.front() == c) patterns.emplace_back(c, kTagStep);
        patterns.emplace_back(c, kTagControl);
      }
      // A client may itself be waiting up to --timeout-s for another client (the sequential hand-over). Wait a
      // little longer than that, so that the rank next to a fault reports it first and names the rank at fault.
      constexpr double kRelaySlackS = 2.0;
      std::optional<comm::Message> got = recv_telling_idle(patterns, ctx_.config.timeout_s + kRelaySlackS, active);
      if (!got)
        throw comm::TimeoutError(::mesl::detail::concat(
            "client rank(s) ", rank_list(active), " sent nothing for ", ctx_.config.timeout_s + kRelaySlackS,
            " s: a rank died or hung (raise --timeout-s if a training step is really that slow)"));
      const comm::Message& m = *got;
      const int c = m.source;
      traffic.count(Direction::control, m.data.size());
      if (m.tag == kTagSignal) {
        note_remote_signal(m);
      } else if (m.tag == kTagStep) {
        const StepHeader h = StepHeader::parse(m.data);
        MESL_CHECK(h.kind == StepKind::train, CommError, "client ", c, " sent an evaluation step during training");
        const comm::Message payload = t_.recv(c, kTagFwd, timeout_);
        traffic.count(Direction::fwd, payload.data.size(), payload_header_bytes(payload.data));
        ServerWorker::Result r = worker_.train_step(c, h, payload.data, steps_started_);
        r.row.step = steps_started_++;  // steps are numbered in the order the server serves them
        t_.send(c, kTagBwd, r.grad_payload, timeout_);
        traffic.count(Direction::bwd, r.grad_payload.size(), payload_header_bytes(r.grad_payload));
        pending[c] = std::move(r);
        ++pos_.done[c - 1];
        if (round_robin) {
          rotation.push_back(rotation.front());
          rotation.pop_front();
        }
      } else if (m.tag == kTagStepDone) {
        ServerWorker::Result& r = pending.at(c);
        complete_row(r.row, StepDone::parse(m.data), r.server_s);
        completed_[r.row.step] = r.row;
        pending.erase(c);
        // Clients finish steps out of order; rows are written in step order.
        while (!completed_.empty() && completed_.begin()->first == rec_.next_step()) {
          rec_.add_step(completed_.begin()->second);
          completed_.erase(completed_.begin());
        }
      } else {
        const Control end = Control::parse(m.data);
        MESL_CHECK(end.type == ControlType::turn_end || end.type == ControlType::round_end, CommError,
                   "client ", c, " sent an unexpected control message during training");
        // Bytes the client sent to another client (the sequential hand-over), counted on its behalf.
        if (end.value > 0) traffic.count(Direction::model, static_cast<uint64_t>(end.value));
        last_turn_paused_ = (end.flags & kFlagPaused) != 0;
        // A finished sflv round: the client's bottom follows for FedAvg.
        if (end.type == ControlType::round_end && !(end.flags & kFlagPaused)) {
          comm::Message model = t_.recv(c, kTagModel, timeout_);
          traffic.count(Direction::model, model.data.size());
          round_models_[c] = std::move(model.data);
        }
        active.erase(c);
        rotation.erase(std::find(rotation.begin(), rotation.end(), c));
      }
    }
  }

  // t_.recv_any_of(patterns, seconds), except that meanwhile every client not in `busy` is told at least every
  // alive_every_s that the server runs (protocol.h): such a client waits for its turn with no other way to tell a
  // long turn from a stopped server. Alive messages are not counted: they are the simulator's liveness check, not
  // split learning's traffic. nullopt when nothing came in time.
  std::optional<comm::Message> recv_telling_idle(const std::vector<std::pair<int, int>>& patterns, double seconds,
                                                 const std::set<int>& busy) {
    const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(seconds));
    for (;;) {
      if (Clock::now() >= next_alive_) {
        next_alive_ = Clock::now() + alive_every_;
        for (int client = 1; client <= n_; ++client)
          if (!busy.count(client)) t_.send(client, kTagAlive, nullptr, 0, timeout_);
      }
      const Clock::duration left = std::min(deadline, next_alive_) - Clock::now();
      try {
        return t_.recv_any_of(patterns, std::max(std::chrono::duration<double>(left), kNoWait.value()));
      } catch (const comm::TimeoutError&) {
        if (Clock::now() >= deadline) return std::nullopt;
      }
    }
  }

  comm::TimeoutError silent_clients(const std::set<int>& ranks, const std::string& what) const {
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

  // FedAvg of the clients' bottoms, weighted by shard size, sent back to every client.
  void average_bottoms() {
    std::vector<std::vector<uint8_t>> states;
    for (int client = 1; client <= n_; ++client) {
      auto it = round_models_.find(client);
      MESL_CHECK(it != round_models_.end(), CommError, "client ", client, " did not send its bottom for averaging");
      states.push_back(std::move(it->second));
    }
    round_models_.clear();
    // The server never trains a bottom, so the run's own bottom module is the place to average into.
    load_average(*ctx_.net.bottom.ptr(), states, shard_weights_);
    worker_.average_replicas(shard_weights_);
    Control average(ControlType::average);
    average.extra = save_state(*ctx_.net.bottom.ptr());
    for (int client = 1; client <= n_; ++client) control(client, average, Direction::model);
  }

  EvalCounts evaluate(const std::vector<std::tuple<int, int64_t, int64_t>>& evaluators) {
    std::set<int> active;
    for (const auto& [client, begin, end] : evaluators) {
      Control c(ControlType::evaluate);
      c.begin = begin;
      c.end = end;
      control(client, c);
      active.insert(client);
    }
    EvalCounts total;
    comm::Traffic& traffic = rec_.traffic();
    while (!active.empty()) {
      std::vector<std::pair<int, int>> patterns{{comm::kAnySource, kTagSignal}};
      for (int c : active) {
        patterns.emplace_back(c, kTagStep);
        patterns.emplace_back(c, kTagControl);
      }
      const std::optional<comm::Message> got = recv_telling_idle(patterns, ctx_.config.timeout_s, active);
      if (!got) throw silent_clients(active, "the end of evaluation");
      const comm::Message& m = *got;
      if (m.tag == kTagSignal) {
        traffic.count(Direction::control, m.data.size());
        note_remote_signal(m);
        continue;
      }
      traffic.count(Direction::eval_fwd, m.data.size());
      if (m.tag == kTagStep) {
        const StepHeader h = StepHeader::parse(m.data);
        const comm::Message payload = t_.recv(m.source, kTagFwd, timeout_);
        traffic.count(Direction::eval_fwd, payload.data.size(), payload_header_bytes(payload.data));
        total.add(worker_.eval_step(h, payload.data));
      } else {
        MESL_CHECK(Control::parse(m.data).type == ControlType::eval_end, CommError, "client ", m.source,
                   " sent an unexpected control message during evaluation");
        active.erase(m.source);
      }
    }
    return total;
  }

  // Every rank saves its part; rank 0 marks the checkpoint complete once all have.
  void checkpoint() {
    const std::string dir = store_.prepare(rec_.next_step());
    Control ck(ControlType::checkpoint, pos_.round, pos_.round);
    // Sequential: the newest bottom may be on its way to the next client; it must be in that client's part.
    ck.value = pending_hand_over_to_;
    ck.extra.assign(dir.begin(), dir.end());
    for (int client = 1; client <= n_; ++client) control(client, ck);
    torch::serialize::OutputArchive a;
    put(a, "identity", identity_json(ctx_.config));
    put(a, "round", pos_.round);
    put(a, "done", pos_.done);
    put(a, "pending_hand_over_to", static_cast<int64_t>(pending_hand_over_to_));
    for (const auto& [client, state] : round_models_) put(a, "round_model." + std::to_string(client), state);
    std::vector<int64_t> holders;
    for (const auto& [client, state] : round_models_) holders.push_back(client);
    put(a, "round_model_clients", holders);
    rec_.save(a);
    worker_.save(a);
    store_.save(dir, 0, a);
    std::set<int> waiting;
    for (int client = 1; client <= n_; ++client) waiting.insert(client);
    while (!waiting.empty()) {
      std::vector<std::pair<int, int>> patterns{{comm::kAnySource, kTagSignal}};
      for (int c : waiting) patterns.emplace_back(c, kTagControl);
      const std::optional<comm::Message> got = recv_telling_idle(patterns, ctx_.config.timeout_s, waiting);
      if (!got) throw silent_clients(waiting, "their parts of the checkpoint");
      const comm::Message& m = *got;
      rec_.traffic().count(Direction::control, m.data.size());
      if (m.tag == kTagSignal) {
        note_remote_signal(m);
        continue;
      }
      MESL_CHECK(Control::parse(m.data).type == ControlType::checkpoint_done, CommError, "client ", m.source,
                 " answered a checkpoint with another message");
      waiting.erase(m.source);
    }
    store_.complete(dir);
    last_checkpoint_ = dir;
  }

  int stop_with_checkpoint() {
    if (!ctx_.config.checkpoint_dir.empty()) checkpoint();
    for (int client = 1; client <= n_; ++client) control(client, Control(ControlType::stop));
    rec_.flush();
    if (ctx_.config.checkpoint_dir.empty())
      std::printf("mesl: stopped by %s at epoch %lld; no --checkpoint-dir, so nothing to resume from\n",
                  stop_reason_.c_str(), static_cast<long long>(pos_.round + 1));
    else
      std::printf("mesl: stopped by %s at epoch %lld; checkpoint %s written, continue with --resume\n",
                  stop_reason_.c_str(), static_cast<long long>(pos_.round + 1), last_checkpoint_.c_str());
    std::fflush(stdout);
    return 0;
  }

  void restore(torch::serialize::InputArchive& a) {
    pos_.round = get_int(a, "round");
    pos_.done = get_ints(a, "done");
    pending_hand_over_to_ = static_cast<int>(get_int(a, "pending_hand_over_to"));
    MESL_CHECK(static_cast<int>(pos_.done.size()) == n_, CheckpointError, "the checkpoint has ", pos_.done.size(),
               " clients and this run ", n_);
    for (int64_t client : get_ints(a, "round_model_clients"))
      round_models_[static_cast<int>(client)] = get_bytes(a, "round_model." + std::to_string(client));
    rec_.restore(a);
    worker_.load(a);
  }

  const RunContext& ctx_;
  comm::Transport& t_;
  ServerWorker worker_;
  Recorder& rec_;
  comm::Timeout timeout_;
  const Clock::duration alive_every_;
  Clock::time_point next_alive_{};  // when idle clients are next told that the server runs (recv_telling_idle)
  CheckpointStore store_;
  int n_;
  Position pos_;
  std::vector<double> shard_weights_;
  int64_t steps_started_ = 0;
  std::map<int64_t, metrics::StepRow> completed_;
  std::map<int, std::vector<uint8_t>> round_models_;  // sflv: bottoms of clients that finished the round
  int pending_hand_over_to_ = 0;  // sequential: the client a finished turn handed the bottom to
  bool last_turn_paused_ = false;
  bool stopping_ = false;
  std::string stop_reason_;
  std::string last_checkpoint_;
};

class Client {
 public:
  Client(const RunContext& ctx, comm::Transport& t, const std::optional<ResumePoint>& resume)
      : ctx_(ctx),
        t_(t),
        train_split_(data::open_split(ctx.dataset, true)),
        test_split_(data::open_split(ctx.dataset, false)),
        worker_(ctx, t.rank(), *train_split_, *test_split_, ctx.net.bottom,
                parse_device(ctx.config.client_device, t.local_rank())),
        timeout_(timeout_of(ctx)),
        n_(static_cast<int>(ctx.config.clients)),
        me_(t.rank()) {
    if (resume) {
      worker_.load(*resume->archive);
      have_hand_over_ = get_int(*resume->archive, "have_hand_over") != 0;
    }
  }

  int run() {
    const bool sequential = ctx_.config.topology == Topology::sequential && n_ > 1;
    const int previous = me_ == 1 ? n_ : me_ - 1;
    const double idle_limit = idle_limit_s(ctx_.config.timeout_s);
    auto heard = Clock::now();  // the server's last sign of life
    for (;;) {
      std::vector<std::pair<int, int>> patterns{{0, kTagControl}, {0, kTagAlive}};
      if (sequential) patterns.emplace_back(previous, kTagModel);
      // Idle: waiting for a turn can take as long as the other clients' turns, so the server's alive messages
      // (protocol.h) bound the wait rather than --timeout-s. The wait wakes twice a second to pass a stop signal
      // on to the server.
      comm::Message m;
      try {
        m = t_.recv_any_of(patterns, std::chrono::duration<double>(0.5));
      } catch (const comm::TimeoutError&) {
        report_signal();
        const double silent = std::chrono::duration<double>(Clock::now() - heard).count();
        MESL_CHECK(silent < idle_limit, comm::TimeoutError, "rank 0 (the server) sent nothing for ", idle_limit,
                   " s while rank ", me_, " waited for its turn: it died or hung (raise --timeout-s if the server's",
                   " own work, such as writing a checkpoint, is really that slow)");
        continue;
      }
      if (m.source == 0) heard = Clock::now();
      if (m.tag == kTagAlive) {
        report_signal();
        continue;
      }
      if (m.tag == kTagModel) {
        load_state(*worker_.bottom().net(), m.data);
        have_hand_over_ = true;
        continue;
      }
      const Control c = Control::parse(m.data);
      switch (c.type) {
        case ControlType::start_turn: turn(c, previous); break;
        case ControlType::train_round: round(c); break;
        case ControlType::average: load_state(*worker_.bottom().net(), c.extra); break;
        case ControlType::evaluate: evaluate(c); break;
        case ControlType::checkpoint: checkpoint(c, previous); break;
        case ControlType::pause: break;  // it came after our turn had ended anyway
        case ControlType::stop: return 0;
        default: throw CommError("client received an unexpected control message from the server");
      }
      heard = Clock::now();  // the server took part until the end of what it asked for
    }
  }

 private:
  void report_signal() {
    if (stop_requested() && !signal_reported_) {
      const std::string why = "signal " + std::to_string(stop_signal()) + " on rank " + std::to_string(me_);
      t_.send(0, kTagSignal, std::vector<uint8_t>(why.begin(), why.end()), timeout_);
      signal_reported_ = true;
    }
  }

  void turn(const Control& c, int previous) {
    const bool sequential = n_ > 1;
    // Take the bottom the previous client handed over (the very first turn starts from the common weights).
    if (sequential && !(c.flags & kFlagContinue) && !(c.round == 0 && me_ == 1) && !have_hand_over_)
      load_state(*worker_.bottom().net(), t_.recv(previous, kTagModel, timeout_).data);
    have_hand_over_ = false;
    const bool paused = train(c);
    Control end(ControlType::turn_end, c.epoch, c.round);
    if ((c.flags & kFlagHandOver) && !paused) {
      const auto state = save_state(*worker_.bottom().net());
      t_.send(me_ % n_ + 1, kTagModel, state, timeout_);
      end.value = static_cast<int64_t>(state.size());
    }
    if (paused) end.flags |= kFlagPaused;
    t_.send(0, kTagControl, end.serialize(), timeout_);
  }

  void round(const Control& c) {
    const bool paused = train(c);
    Control end(ControlType::round_end, c.epoch, c.round);
    if (paused) end.flags |= kFlagPaused;
    t_.send(0, kTagControl, end.serialize(), timeout_);
    // The bottom goes to the server for FedAvg; the average comes back as a control message.
    if (!paused) t_.send(0, kTagModel, save_state(*worker_.bottom().net()), timeout_);
  }

  // Runs c.steps steps from batch c.begin; returns true if the server paused the turn.
  bool train(const Control& c) {
    worker_.begin_turn(c.round, c.begin, learning_rate(ctx_.config, c.epoch));
    for (int64_t i = 0; i < c.steps; ++i) {
      ClientWorker::Forward f = worker_.forward(c.epoch, c.round);
      const auto t0 = Clock::now();
      t_.send(0, kTagStep, f.header.serialize(), timeout_);
      t_.send(0, kTagFwd, f.payload, timeout_);
      const comm::Message grad = t_.recv(0, kTagBwd, timeout_);
      const double blocked = std::chrono::duration<double>(Clock::now() - t0).count();
      t_.send(0, kTagStepDone, worker_.backward(grad.data, blocked).serialize(), timeout_);
      report_signal();
      // A pause from the server ends the turn after this step (a turn that is complete anyway ends normally).
      try {
        const comm::Message m = t_.recv(0, kTagControl, kNoWait);
        MESL_CHECK(Control::parse(m.data).type == ControlType::pause, CommError,
                   "client received an unexpected control message during its turn");
        if (i + 1 < c.steps) return true;
      } catch (const comm::TimeoutError&) {
      }
    }
    return false;
  }

  void evaluate(const Control& c) {
    Control end(ControlType::eval_end);
    end.value = worker_.evaluate(c.begin, c.end, [&](const StepHeader& h, const std::vector<uint8_t>& payload) {
      t_.send(0, kTagStep, h.serialize(), timeout_);
      t_.send(0, kTagFwd, payload, timeout_);
    });
    t_.send(0, kTagControl, end.serialize(), timeout_);
  }

  void checkpoint(const Control& c, int previous) {
    // The checkpoint must hold the bottom this client trains next: take a hand-over still on its way.
    if (c.value == me_ && !have_hand_over_) {
      load_state(*worker_.bottom().net(), t_.recv(previous, kTagModel, timeout_).data);
      have_hand_over_ = true;
    }
    const std::string dir(c.extra.begin(), c.extra.end());
    torch::serialize::OutputArchive a;
    put(a, "identity", identity_json(ctx_.config));
    put(a, "have_hand_over", static_cast<int64_t>(have_hand_over_));
    worker_.save(a);
    CheckpointStore(ctx_.config.checkpoint_dir).save(dir, me_, a);
    t_.send(0, kTagControl, Control(ControlType::checkpoint_done).serialize(), timeout_);
  }

  const RunContext& ctx_;
  comm::Transport& t_;
  std::unique_ptr<data::Split> train_split_, test_split_;
  ClientWorker worker_;
  comm::Timeout timeout_;
  int n_, me_;
  bool have_hand_over_ = false;
  bool signal_reported_ = false;
};

}  // namespace

int run_server(const RunContext& ctx, comm::Transport& transport, Recorder& recorder,
               const std::optional<ResumePoint>& resume) {
  return Server(ctx, transport, recorder, resume).run();
}

int run_client(const RunContext& ctx, comm::Transport& transport, const std::optional<ResumePoint>& resume) {
  return Client(ctx, transport, resume).run();
}

}  // namespace mesl::train
