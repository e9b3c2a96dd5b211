#pragma once
// The coordinator on rank 0 (docs/protocol.md): the server of split learning and the conductor of the run. Its
// round loop and the serving of steps are in server_role.cpp; what ends a round or the run (evaluation,
// checkpoints, restoring one, stopping the ranks) in server_round_end.cpp.
#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "checkpoint.h"
#include "mesl/train/signals.h"
#include "protocol.h"
#include "recorder.h"
#include "resume.h"
#include "roles.h"
#include "server_core.h"

namespace mesl::train {

class Coordinator : public Role {
 public:
  Coordinator(const RunContext& ctx, comm::Transport& t, Recorder& rec, const Schedule& schedule,
              const std::optional<ResumePoint>& resume);
  int run() override;

 private:
  using Clock = std::chrono::steady_clock;

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
  void grant(int64_t client, const Control& c, comm::Direction d);
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
  void turns(const RoundPlan& plan);

  // SplitFed: every participant trains at once from the current average; FedAvg at the end.
  void parallel(const RoundPlan& plan, bool fresh);

  // FedAvg of the participants' bottoms and (with replicas) tops, weighted by shard size, in client order.
  void average(const RoundPlan& plan);

  // Serves training steps until every client in `clients` ended its turn or round (or paused).
  //
  // Round robin: the server calls every step (Control `go`), strictly in turn over the clients in the order given,
  // one step ahead (the next client's rank computes its forward while the server computes this step's top). So
  // the steps served are always a prefix of that order, also when a stop pauses the round, and a resumed round
  // continues it exactly. Otherwise a rank steps its clients on its own and the server serves in arrival order.
  void serve(const std::vector<int64_t>& clients, StepOrder order);

  // t_.recv_any_of(patterns, seconds), except that meanwhile every client rank not in `busy` is told at least every
  // alive_every_s that the server runs (protocol.h): such a rank waits for its clients' turns with no other way to
  // tell a long turn from a stopped server. Alive messages are not counted: they are the simulator's liveness
  // check, not split learning's traffic. nullopt when nothing came in time.
  std::optional<comm::Message> recv_telling_idle(const std::vector<std::pair<int, int>>& patterns, double seconds,
                                                 const std::set<int>& busy);

  comm::TimeoutError silent_ranks(const std::set<int>& ranks, const std::string& what) const;

  void note_remote_signal(const comm::Message& m) {
    if (!stopping_) {
      stopping_ = true;
      stop_reason_ = std::string(m.data.begin(), m.data.end());
    }
  }

  // The test set in batches of --eval-batch-size: all of it on the rank that holds the newest bottom (turns), or
  // a share per client rank with the new average (parallel). Either way the same batches, whatever N and R.
  EvalCounts evaluate(const RoundPlan& plan);

  // Every rank saves its part; rank 0 marks the checkpoint complete once all have.
  void checkpoint();

  // Ends every client rank; each answers with what it used (the /ranks table).
  void stop_ranks();

  int stop_with_checkpoint();

  void restore(torch::serialize::InputArchive& a);

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

}  // namespace mesl::train
