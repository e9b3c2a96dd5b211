#pragma once
// A topology is a schedule (docs/protocol.md, "Topologies"): which clients train in an epoch or round, whether they
// take turns on one shared bottom or train at once and average, in which order the server serves them, and whether
// the server keeps a top per participant. A schedule only decides; the coordinator (server_role.cpp) and the
// one-process runner (local.cpp) carry its plans out. Every rank computes the same plans from the configuration,
// the shards and the seed, so no plan travels between ranks.
//
// A new topology is one file in schedules/ that derives from Schedule, and one line in kSchedules (schedule.cpp).
//
// Placement (docs/protocol.md, "Clients and ranks"): N clients, ids 1..N, on R client ranks (ranks 1..R) in
// contiguous blocks whose sizes differ by at most one: rank r hosts the clients c with floor((c - 1) R / N) = r - 1.
// Blocks keep the sequential topology's consecutive turns on one rank (a hand-over between them is a copy in
// memory, R - 1 real messages per epoch instead of N), and make /clients read in rank order. Placement changes no
// number of a run (tests/train/test_placement.cpp).
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "mesl/train/config.h"

namespace mesl::train {

// How an epoch's or a round's participants train.
enum class RoundKind {
  turns,     // one after another on one shared bottom, each handing it to the next (sequential split learning)
  parallel,  // at once, each from the round's common bottom; FedAvg of the bottoms at the end (SplitFed)
};

// The order in which the server serves the steps of a parallel round.
enum class StepOrder {
  arrival,      // whichever client rank's step comes first (within a rank, its clients take turns step by step)
  round_robin,  // strictly in turn over the round's active participants, in client order (reproducible)
  by_client,    // any order: each participant has a top of its own, so the order changes no result; a rank runs
                // each of its participants' whole round in client order, the server serves in arrival order
};

struct RoundPlan {
  int64_t round = 0;
  RoundKind kind = RoundKind::turns;
  std::vector<int64_t> participants;  // client ids, ascending: the turn order, or the set that trains at once
  StepOrder order = StepOrder::arrival;
  bool top_replicas = false;          // a top per participant at the server, averaged at the round's end
};

class Schedule {
 public:
  // `shard_sizes[c - 1]`: client c's training samples. Clients with none are never sampled.
  Schedule(const TrainConfig& config, std::vector<int64_t> shard_sizes);
  virtual ~Schedule() = default;

  virtual RoundKind kind() const = 0;
  virtual StepOrder order() const { return StepOrder::arrival; }
  virtual bool top_replicas() const { return false; }

  // The plan of epoch or round `round` (from 0).
  RoundPlan plan(int64_t round) const;
  // The round's participants: every client with data, or K of them drawn from the seed (--participation,
  // --clients-per-round), ascending. The same on every rank.
  std::vector<int64_t> participants(int64_t round) const;
  // Turns: the client whose turn follows `client`'s in round `round` (the next participant, or the first of the
  // next round's), 0 after the run's last turn or when that is `client` itself (nothing to hand over).
  int64_t next_turn(int64_t round, int64_t client) const;

  int64_t clients() const { return static_cast<int64_t>(shard_sizes_.size()); }
  int64_t eligible() const { return static_cast<int64_t>(eligible_.size()); }  // clients with data
  int64_t per_round() const { return per_round_; }                             // K, at most eligible()
  const std::vector<int64_t>& shard_sizes() const { return shard_sizes_; }

 private:
  uint64_t seed_;
  int64_t epochs_;
  std::vector<int64_t> shard_sizes_;
  // The last rounds asked for (a sequential epoch asks for its round's participants once per turn).
  mutable std::map<int64_t, std::vector<int64_t>> recent_;
  std::vector<int64_t> eligible_;
  int64_t per_round_ = 0;
};

// The registered schedules' names, in a fixed order (for messages and --help).
std::vector<std::string> schedule_names();
// The kind of a registered schedule, without making one; throws ConfigError for an unknown name.
RoundKind schedule_kind(const std::string& name);
// The schedule of config.topology ("local" runs the sequential one); throws ConfigError for an unknown name.
std::unique_ptr<Schedule> make_schedule(const TrainConfig& config, std::vector<int64_t> shard_sizes);

// Where clients live: contiguous blocks of clients 1..N on client ranks 1..R (see above).
struct Placement {
  int64_t clients = 1;  // N
  int ranks = 1;        // R
  int rank_of(int64_t client) const;
  int64_t first(int rank) const;  // the first client of a rank's block
  int64_t last(int rank) const;   // its last (first - 1 when the block is empty, which N >= R rules out)
};

}  // namespace mesl::train
