// A client rank under MPI (docs/protocol.md): it hosts a block of clients (schedule.h, Placement) and runs
// whichever of them the coordinator calls for, swapping their states in and out of its one set of modules
// (client_host.h). Who runs next is decided by the schedule, never by a race: turns in client order; in a parallel
// round a rank runs its participants' steps in turn, one step each in client order (the order a round-robin server
// asks for them), or each one's whole round in client order where the topology's results do not depend on it.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "client_host.h"
#include "mesl/error.h"
#include "mesl/train/signals.h"
#include "resources.h"
#include "resume.h"
#include "roles.h"

namespace mesl::train {
namespace {

using Clock = std::chrono::steady_clock;

class ClientRank : public Role {
 public:
  ClientRank(const RunContext& ctx, comm::Transport& t, const Schedule& schedule,
             const std::optional<ResumePoint>& resume)
      : ctx_(ctx),
        t_(t),
        schedule_(schedule),
        placement_{ctx.config.clients, client_ranks(ctx.config, t.size())},
        me_(t.rank()),
        train_split_(data::open_split(ctx.dataset, true)),
        test_split_(data::open_split(ctx.dataset, false)),
        store_(ctx.config.client_state_memory, rank_state_dir(ctx, t.rank())),
        host_(ctx, schedule.kind(), *train_split_, *test_split_, hosted(),
              parse_device(ctx.config.client_device, t.local_rank()), store_),
        timeout_(role_timeout(ctx)) {
    check_client_states(ctx, schedule.kind(), me_);
    if (resume) {
      for (const auto& [file, entry] : resume->entries) {
        const std::vector<uint8_t> bytes = read_client_entry(file, entry);
        if (entry.id == 0) {
          host_.load_bottom(bytes);  // sequential: every rank starts from the newest bottom; no hand-over is due
        } else {
          store_.put(entry.id, ClientState::parse(bytes.data(), bytes.size(),
                                                  "client " + std::to_string(entry.id) + "'s state in " + file));
        }
      }
    }
  }

  int run() override {
    const bool turns = schedule_.kind() == RoundKind::turns;
    for (;;) {
      std::vector<std::pair<int, int>> patterns{{0, kTagControl}};
      if (turns) patterns.emplace_back(comm::kAnySource, kTagModel);
      const comm::Message m = wait_idle(patterns);
      if (m.tag == kTagModel) {  // the newest bottom, handed over for a coming turn of one of this rank's clients
        host_.load_bottom(m.data);
        have_hand_over_ = true;
        continue;
      }
      const Control c = Control::parse(m.data);
      switch (c.type) {
        case ControlType::start_turn: turn(c); break;
        case ControlType::train_round: round(c); break;
        case ControlType::evaluate: evaluate(c); break;
        case ControlType::checkpoint: checkpoint(c); break;
        case ControlType::pause: break;  // it came after this rank's turns had ended anyway
        case ControlType::stop: {
          host_.deactivate();
          Control report(ControlType::report);
          report.extra = serialize(rank_report(me_, placement_.last(me_) - placement_.first(me_) + 1, &store_,
                                               first_step_s_));
          t_.send(0, kTagControl, report.serialize(), timeout_);
          store_.release_files();
          return 0;
        }
        default: throw CommError("rank " + std::to_string(me_) + " received an unexpected control message");
      }
    }
  }

 private:
  std::vector<int64_t> hosted() const {
    std::vector<int64_t> out;
    for (int64_t c = placement_.first(me_); c <= placement_.last(me_); ++c) out.push_back(c);
    return out;
  }

  // The next message matching `patterns` (from anyone) while this rank waits for the server: its turn can come
  // after as long as the other clients' turns take, so the server's Alive messages (protocol.h) bound the wait
  // rather than --timeout-s. The wait wakes twice a second to pass a stop signal on to the server.
  comm::Message wait_idle(std::vector<std::pair<int, int>> patterns) {
    patterns.emplace_back(0, kTagAlive);
    const double idle_limit = idle_limit_s(ctx_.config.timeout_s);
    auto heard = Clock::now();  // the server's last sign of life
    for (;;) {
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
      if (m.tag != kTagAlive) return m;
      report_signal();
    }
  }

  void report_signal() {
    if (stop_requested() && !signal_reported_) {
      const std::string why = "signal " + std::to_string(stop_signal()) + " on rank " + std::to_string(me_);
      t_.send(0, kTagSignal, std::vector<uint8_t>(why.begin(), why.end()), timeout_);
      signal_reported_ = true;
    }
  }

  // One training step of the active client; returns true if the server asked this rank to pause (unless the server
  // calls every step: then its next control message is for the caller to read).
  bool step(int64_t epoch, int64_t round, bool pause_check = true) {
    if (first_step_s_ < 0) first_step_s_ = seconds_since_process_start();
    ClientHost::Forward f = host_.forward(epoch, round);
    const auto t0 = Clock::now();
    t_.send(0, kTagStep, f.header.serialize(), timeout_);
    t_.send(0, kTagFwd, f.payload, timeout_);
    const comm::Message grad = t_.recv(0, kTagBwd, timeout_);
    const double blocked = std::chrono::duration<double>(Clock::now() - t0).count();
    t_.send(0, kTagStepDone, host_.backward(grad.data, blocked).serialize(), timeout_);
    report_signal();
    if (!pause_check) return false;
    try {
      const comm::Message m = t_.recv(0, kTagControl, kNoWait);
      MESL_CHECK(Control::parse(m.data).type == ControlType::pause, CommError,
                 "rank ", me_, " received an unexpected control message during a turn");
      return true;
    } catch (const comm::TimeoutError&) {
      return false;
    }
  }

  // Turns: take the newest bottom (unless this rank holds it), train, hand it to the next turn's client.
  void turn(const Control& c) {
    host_.activate(c.client);
    if (c.peer != 0 && placement_.rank_of(c.peer) != me_ && !have_hand_over_)
      host_.load_bottom(t_.recv(placement_.rank_of(c.peer), kTagModel, timeout_).data);
    have_hand_over_ = false;
    host_.begin(c.round, c.begin, learning_rate(ctx_.config, c.epoch));
    bool paused = false;
    for (int64_t i = 0; i < c.steps && !paused; ++i) {
      // A pause ends the turn after this step (a turn that is complete anyway ends normally).
      paused = step(c.epoch, c.round) && i + 1 < c.steps;
    }
    Control end(ControlType::turn_end, c.epoch, c.round);
    end.client = c.client;
    if (c.value != 0 && !paused) {
      // The hand-over is counted as the bytes a client-to-client message carries, whether the next client lives
      // on another rank (a real message) or on this one (its rank keeps the bottom in the module).
      if (placement_.rank_of(c.value) != me_) {
        const std::vector<uint8_t> state = host_.bottom_state();
        t_.send(placement_.rank_of(c.value), kTagModel, state, timeout_);
        end.value = static_cast<int64_t>(state.size());
      } else {
        end.value = static_cast<int64_t>(host_.bottom_bytes());
      }
    }
    if (paused) end.flags |= kFlagPaused;
    t_.send(0, kTagControl, end.serialize(), timeout_);
  }

  struct Grant {
    Control c;
    int64_t done = 0;
    bool started = false, ended = false;
  };

  // A parallel round: every train_round message this rank gets comes at the round's start (c.value of them).
  void round(const Control& first) {
    std::vector<Grant> grants{{first}};
    while (static_cast<int64_t>(grants.size()) < first.value) {
      const Control c = Control::parse(t_.recv(0, kTagControl, timeout_).data);
      MESL_CHECK(c.type == ControlType::train_round, CommError, "rank ", me_,
                 " expected the rest of its clients' round, got another control message");
      grants.push_back({c});
    }
    if (schedule_.order() == StepOrder::round_robin) return called_round(grants);
    const bool whole_rounds = schedule_.order() == StepOrder::by_client;
    bool paused = false;
    size_t next = 0;
    for (;;) {
      // The next grant with steps left: the same one until it ends (whole rounds), or the next in client order.
      size_t open = grants.size();
      for (size_t k = 0; k < grants.size(); ++k) {
        const size_t i = (next + k) % grants.size();
        if (!grants[i].ended) {
          open = i;
          break;
        }
      }
      if (open == grants.size()) break;
      Grant& g = grants[open];
      if (paused) {
        end_round(g, true);
        continue;
      }
      paused = step_of(g, true);
      if (!whole_rounds) next = (open + 1) % grants.size();
    }
  }

  // Round robin: the server calls every step (`go`), and a pause comes instead of the next call.
  void called_round(std::vector<Grant>& grants) {
    size_t open = grants.size();
    while (open > 0) {
      const Control c = Control::parse(wait_idle({{0, kTagControl}}).data);
      if (c.type == ControlType::pause) {
        for (Grant& g : grants)
          if (!g.ended) end_round(g, true);
        return;
      }
      const auto g =
          std::find_if(grants.begin(), grants.end(), [&](const Grant& x) { return x.c.client == c.client; });
      MESL_CHECK(c.type == ControlType::go && g != grants.end() && !g->ended, CommError, "rank ", me_,
                 " was called for client ", c.client, ", which has no steps left in this round");
      step_of(*g, false);
      if (g->ended) --open;
    }
  }

  // One step of a grant's client (and the end of its round after its last step); returns true on a pause.
  bool step_of(Grant& g, bool pause_check) {
    host_.activate(g.c.client);
    if (!g.started) {
      // A round started afresh begins from its starting bottom; a continued one has its own in its state.
      if (g.c.begin == 0) host_.start_round(g.c.extra.empty() ? nullptr : &g.c.extra);
      host_.begin(g.c.round, g.c.begin, learning_rate(ctx_.config, g.c.epoch));
      g.started = true;
    }
    const bool paused = step(g.c.epoch, g.c.round, pause_check);
    if (++g.done == g.c.steps) end_round(g, false);
    return paused;
  }

  void end_round(Grant& g, bool paused) {
    Control end(ControlType::round_end, g.c.epoch, g.c.round);
    end.client = g.c.client;
    if (paused) end.flags |= kFlagPaused;
    t_.send(0, kTagControl, end.serialize(), timeout_);
    // The bottom goes to the server for FedAvg (the client is active: it just took its last step).
    if (!paused) {
      t_.send(0, kTagModel, host_.bottom_state(), timeout_);
      host_.finish_round();
    }
    g.ended = true;
  }

  void evaluate(const Control& c) {
    if (!c.extra.empty()) host_.load_bottom(c.extra);
    Control end(ControlType::eval_end);
    end.value = host_.evaluate(c.begin, c.end, [&](const StepHeader& h, const std::vector<uint8_t>& payload) {
      t_.send(0, kTagStep, h.serialize(), timeout_);
      t_.send(0, kTagFwd, payload, timeout_);
    });
    t_.send(0, kTagControl, end.serialize(), timeout_);
  }

  // This rank's clients' states, by client id, and (turns) the newest bottom when its client lives here.
  void checkpoint(const Control& c) {
    host_.deactivate();
    const std::string dir(c.extra.begin(), c.extra.end());
    ClientFileWriter file(CheckpointStore(ctx_.config.checkpoint_dir).client_file(dir, me_, placement_.ranks));
    if (c.value != 0 && placement_.rank_of(c.value) == me_) file.add(0, host_.bottom_state());
    store_.for_each([&](int64_t client, const std::vector<uint8_t>& bytes) { file.add(client, bytes); });
    file.close();
    t_.send(0, kTagControl, Control(ControlType::checkpoint_done).serialize(), timeout_);
  }

  const RunContext& ctx_;
  comm::Transport& t_;
  const Schedule& schedule_;
  Placement placement_;
  int me_;
  std::unique_ptr<data::Split> train_split_, test_split_;
  StateStore store_;
  ClientHost host_;
  comm::Timeout timeout_;
  bool have_hand_over_ = false;
  bool signal_reported_ = false;
  double first_step_s_ = -1;
};

}  // namespace

size_t client_state_bound(const RunContext& ctx, RoundKind kind) {
  torch::nn::Module& bottom = *ctx.net.bottom.ptr();
  size_t momentum = 0;
  for (const auto& p : bottom.parameters()) momentum += 1 + static_cast<size_t>(p.numel()) * p.element_size();
  const size_t bound = ClientState::kFixedBytes + momentum + (kind == RoundKind::parallel ? state_bytes(bottom) : 0);
  MESL_CHECK(static_cast<int64_t>(bound) <= ctx.config.client_state_memory, ConfigError, "--client-state-memory ",
             ctx.config.client_state_memory, " bytes cannot hold one client's state (", bound,
             " bytes at this model and cut): give at least ", bound);
  return bound;
}

std::string rank_state_dir(const RunContext& ctx, int rank) {
  return (std::filesystem::path(state_dir(ctx.config)) / ("rank-" + std::to_string(rank))).string();
}

void check_client_states(const RunContext& ctx, RoundKind kind, int rank) {
  const size_t bound = client_state_bound(ctx, kind);
  if (rank < 1) return;
  // Spilling can only happen when the rank's clients' states may not all fit: then the folder must work now.
  const Placement placement{ctx.config.clients, std::max(1, client_ranks(ctx.config, ctx.world_size))};
  const int64_t hosted = placement.last(rank) - placement.first(rank) + 1;
  if (static_cast<double>(bound) * static_cast<double>(hosted) > static_cast<double>(ctx.config.client_state_memory))
    StateStore(ctx.config.client_state_memory, rank_state_dir(ctx, rank)).prepare();
}

std::unique_ptr<Role> make_client(const RunContext& ctx, comm::Transport& transport, const Schedule& schedule,
                                  const std::optional<ResumePoint>& resume) {
  return std::make_unique<ClientRank>(ctx, transport, schedule, resume);
}

}  // namespace mesl::train
