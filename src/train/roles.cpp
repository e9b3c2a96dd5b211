// The MPI roles: rank 0 serves, ranks 1..N are clients. Every message the server sends or receives is counted by
// the server; a message between two clients (the sequential topology's model hand-over) is counted by its sender
// and reported to the server with the end of its turn. Protocol: docs/protocol.md.
#include <chrono>
#include <algorithm>
#include <deque>
#include <map>
#include <set>

#include "mesl/error.h"
#include "mesl/train/run.h"
#include "recorder.h"
#include "workers.h"

namespace mesl::train {
namespace {

using Clock = std::chrono::steady_clock;
using comm::Direction;

comm::Timeout timeout_of(const RunContext& ctx) { return std::chrono::duration<double>(ctx.config.timeout_s); }

std::string rank_list(const std::set<int>& ranks) {
  std::string s;
  for (int r : ranks) s += (s.empty() ? "" : ", ") + std::to_string(r);
  return s;
}

class Server {
 public:
  Server(const RunContext& ctx, comm::Transport& t, Recorder& rec)
      : ctx_(ctx),
        t_(t),
        worker_(ctx, ctx.net, parse_device(ctx.config.server_device, t.local_rank())),
        rec_(rec),
        timeout_(timeout_of(ctx)),
        steps_started_(rec.next_step()) {}

  int run() {
    const TrainConfig& c = ctx_.config;
    const int n = static_cast<int>(c.clients);
    std::vector<double> shard_weights;
    for (const auto& s : ctx_.shards) shard_weights.push_back(static_cast<double>(s.size()));
    for (int64_t round = 0; round < *c.epochs; ++round) {
      const double lr = learning_rate(c, round);
      worker_.set_lr(lr);
      std::vector<std::tuple<int, int64_t, int64_t>> evaluators;
      if (c.topology == Topology::sequential) {
        for (int client = 1; client <= n; ++client) {
          control(client, Control(ControlType::start_turn, round, round, c.local_steps));
          serve({client});
        }
        evaluators.emplace_back(n, 0, ctx_.test_size);  // the last client holds the newest bottom
      } else {
        std::set<int> all;
        for (int client = 1; client <= n; ++client) {
          control(client, Control(ControlType::train_round, round, round, c.local_steps));
          all.insert(client);
        }
        serve(all);
        average_bottoms(shard_weights);
        worker_.average_replicas(shard_weights);
        for (int client = 1; client <= n; ++client) {
          const auto [b, e] = test_slice(ctx_, client, n);
          evaluators.emplace_back(client, b, e);
        }
      }
      rec_.end_epoch(round, evaluate(evaluators), lr);
    }
    for (int client = 1; client <= n; ++client) control(client, Control(ControlType::stop));
    rec_.finish();
    return 0;
  }

 private:
  void control(int client, const Control& c) {
    const auto bytes = c.serialize();
    t_.send(client, kTagControl, bytes, timeout_);
    rec_.traffic().count(Direction::control, bytes.size());
  }

  // Serves training steps until every client in `clients` ended its turn or round.
  void serve(std::set<int> active) {
    const bool round_robin = ctx_.config.topology == Topology::sflv2 &&
                             ctx_.config.serve_order == ServeOrder::round_robin;
    std::deque<int> rotation(active.begin(), active.end());
    std::map<int, ServerWorker::Result> pending;  // steps waiting for the client's StepDone
    comm::Traffic& traffic = rec_.traffic();
    while (!active.empty()) {
      // A client with a step in flight may only send its StepDone next; the others a step or the end of turn.
      std::vector<std::pair<int, int>> patterns;
      for (int c : active) {
        if (pending.count(c)) {
          patterns.emplace_back(c, kTagStepDone);
          continue;
        }
        if (!round_robin || rotation.front() == c) patterns.emplace_back(c, kTagStep);
        patterns.emplace_back(c, kTagControl);
      }
      comm::Message m;
      try {
        m = t_.recv_any_of(patterns, timeout_);
      } catch (const comm::TimeoutError&) {
        throw comm::TimeoutError(::mesl::detail::concat(
            "client rank(s) ", rank_list(active), " sent nothing for ", ctx_.config.timeout_s,
            " s: a rank died or hung (raise --timeout-s if a training step is really that slow)"));
      }
      const int c = m.source;
      if (m.tag == kTagStep) {
        traffic.count(Direction::control, m.data.size());
        const StepHeader h = StepHeader::parse(m.data);
        MESL_CHECK(h.kind == StepKind::train, CommError, "client ", c, " sent an evaluation step during training");
        const comm::Message payload = t_.recv(c, kTagFwd, timeout_);
        traffic.count(Direction::fwd, payload.data.size(), payload_header_bytes(payload.data));
        ServerWorker::Result r = worker_.train_step(c, h, payload.data);
        r.row.step = steps_started_++;  // steps are numbered in the order the server serves them
        t_.send(c, kTagBwd, r.grad_payload, timeout_);
        traffic.count(Direction::bwd, r.grad_payload.size(), payload_header_bytes(r.grad_payload));
        pending[c] = std::move(r);
        if (round_robin) {
          rotation.push_back(rotation.front());
          rotation.pop_front();
        }
      } else if (m.tag == kTagStepDone) {
        traffic.count(Direction::control, m.data.size());
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
        traffic.count(Direction::control, m.data.size());
        const Control end = Control::parse(m.data);
        MESL_CHECK(end.type == ControlType::turn_end || end.type == ControlType::round_end, CommError,
                   "client ", c, " sent an unexpected control message during training");
        // Bytes the client sent to another client (the sequential hand-over), counted on its behalf.
        if (end.value > 0) traffic.count(Direction::model, static_cast<uint64_t>(end.value));
        active.erase(c);
        rotation.erase(std::find(rotation.begin(), rotation.end(), c));
      }
    }
  }

  // FedAvg of the clients' bottoms, weighted by shard size, sent back to every client.
  void average_bottoms(const std::vector<double>& weights) {
    std::vector<std::vector<uint8_t>> states;
    for (int client = 1; client <= ctx_.config.clients; ++client) {
      comm::Message m = t_.recv(client, kTagModel, timeout_);
      rec_.traffic().count(Direction::model, m.data.size());
      states.push_back(std::move(m.data));
    }
    // The server never trains a bottom, so the run's own bottom module serves as the place to average into.
    load_average(*ctx_.net.bottom.ptr(), states, weights);
    const auto averaged = save_state(*ctx_.net.bottom.ptr());
    for (int client = 1; client <= ctx_.config.clients; ++client) {
      t_.send(client, kTagModel, averaged, timeout_);
      rec_.traffic().count(Direction::model, averaged.size());
    }
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
      std::vector<std::pair<int, int>> patterns;
      for (int c : active) {
        patterns.emplace_back(c, kTagStep);
        patterns.emplace_back(c, kTagControl);
      }
      const comm::Message m = t_.recv_any_of(patterns, timeout_);
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

  const RunContext& ctx_;
  comm::Transport& t_;
  ServerWorker worker_;
  Recorder& rec_;
  comm::Timeout timeout_;
  int64_t steps_started_ = 0;
  std::map<int64_t, metrics::StepRow> completed_;
};

class Client {
 public:
  Client(const RunContext& ctx, comm::Transport& t)
      : ctx_(ctx),
        t_(t),
        train_split_(data::open_split(ctx.dataset, true)),
        test_split_(data::open_split(ctx.dataset, false)),
        worker_(ctx, t.rank(), *train_split_, *test_split_, ctx.net.bottom,
                parse_device(ctx.config.client_device, t.local_rank())),
        timeout_(timeout_of(ctx)) {}

  int run() {
    const int n = static_cast<int>(ctx_.config.clients), me = t_.rank();
    const bool relay = ctx_.config.topology == Topology::sequential && n > 1;
    const int previous = me == 1 ? n : me - 1, next = me % n + 1;
    bool have_relay = false;
    for (;;) {
      std::vector<std::pair<int, int>> patterns{{0, kTagControl}};
      if (relay) patterns.emplace_back(previous, kTagModel);
      // Idle: waiting for our turn can take as long as the other clients' turns, so no timeout here.
      const comm::Message m = t_.recv_any_of(patterns);
      if (m.tag == kTagModel) {
        load_state(*worker_.bottom().net(), m.data);
        have_relay = true;
        continue;
      }
      const Control c = Control::parse(m.data);
      switch (c.type) {
        case ControlType::start_turn: {
          if (relay && !(c.round == 0 && me == 1) && !have_relay)
            load_state(*worker_.bottom().net(), t_.recv(previous, kTagModel, timeout_).data);
          have_relay = false;
          train(c);
          Control end(ControlType::turn_end, c.epoch, c.round);
          if (relay) {
            const auto state = save_state(*worker_.bottom().net());
            t_.send(next, kTagModel, state, timeout_);
            end.value = static_cast<int64_t>(state.size());
          }
          t_.send(0, kTagControl, end.serialize(), timeout_);
          break;
        }
        case ControlType::train_round: {
          train(c);
          t_.send(0, kTagControl, Control(ControlType::round_end, c.epoch, c.round).serialize(), timeout_);
          t_.send(0, kTagModel, save_state(*worker_.bottom().net()), timeout_);
          // The average arrives once every client finished its round: no timeout for the slowest.
          load_state(*worker_.bottom().net(), t_.recv(0, kTagModel).data);
          break;
        }
        case ControlType::evaluate: {
          Control end(ControlType::eval_end);
          end.value = worker_.evaluate(c.begin, c.end, [&](const StepHeader& h, const std::vector<uint8_t>& payload) {
            t_.send(0, kTagStep, h.serialize(), timeout_);
            t_.send(0, kTagFwd, payload, timeout_);
          });
          t_.send(0, kTagControl, end.serialize(), timeout_);
          break;
        }
        case ControlType::stop: return 0;
        default: throw CommError("client received an unexpected control message from the server");
      }
    }
  }

 private:
  void train(const Control& c) {
    worker_.begin_round(c.round, learning_rate(ctx_.config, c.epoch));
    const int64_t steps = worker_.turn_steps();
    for (int64_t i = 0; i < steps; ++i) {
      ClientWorker::Forward f = worker_.forward(c.epoch, c.round);
      const auto t0 = Clock::now();
      t_.send(0, kTagStep, f.header.serialize(), timeout_);
      t_.send(0, kTagFwd, f.payload, timeout_);
      const comm::Message grad = t_.recv(0, kTagBwd, timeout_);
      const double blocked = std::chrono::duration<double>(Clock::now() - t0).count();
      t_.send(0, kTagStepDone, worker_.backward(grad.data, blocked).serialize(), timeout_);
    }
  }

  const RunContext& ctx_;
  comm::Transport& t_;
  std::unique_ptr<data::Split> train_split_, test_split_;
  ClientWorker worker_;
  comm::Timeout timeout_;
};

}  // namespace

int run_server(const RunContext& ctx, comm::Transport& transport, Recorder& recorder) {
  return Server(ctx, transport, recorder).run();
}
int run_client(const RunContext& ctx, comm::Transport& transport) { return Client(ctx, transport).run(); }

}  // namespace mesl::train
