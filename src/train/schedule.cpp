#include "schedule.h"

#include <algorithm>
#include <cmath>

#include "mesl/error.h"
#include "mesl/util/random.h"

namespace mesl::train {

// The schedules (one file each in schedules/). A new topology: its file, and one line here.
std::unique_ptr<Schedule> make_sequential(const TrainConfig& config, std::vector<int64_t> shard_sizes);
std::unique_ptr<Schedule> make_sflv1(const TrainConfig& config, std::vector<int64_t> shard_sizes);
std::unique_ptr<Schedule> make_sflv2(const TrainConfig& config, std::vector<int64_t> shard_sizes);

namespace {

struct Entry {
  const char* name;
  RoundKind kind;
  std::unique_ptr<Schedule> (*make)(const TrainConfig&, std::vector<int64_t>);
};

const Entry kSchedules[] = {
    {"sequential", RoundKind::turns, &make_sequential},
    {"sflv1", RoundKind::parallel, &make_sflv1},
    {"sflv2", RoundKind::parallel, &make_sflv2},
};

const Entry& entry(const std::string& name) {
  const std::string wanted = is_local(name) ? "sequential" : name;
  for (const Entry& e : kSchedules)
    if (e.name == wanted) return e;
  std::string names;
  for (const Entry& e : kSchedules) names += std::string(e.name) + ", ";
  throw ConfigError("unknown topology '" + name + "'; choose one of " + names + "local");
}

// Seeds the participant draw of a round: apart from every other stream of the run.
constexpr uint64_t kParticipantsDomain = 0x7061727469636970ULL;  // "particip"

uint64_t round_seed(uint64_t seed, int64_t round) {
  uint64_t state = kParticipantsDomain ^ seed;
  state = util::splitmix64(state) ^ static_cast<uint64_t>(round);
  return util::splitmix64(state);
}

}  // namespace

std::vector<std::string> schedule_names() {
  std::vector<std::string> out;
  for (const Entry& e : kSchedules) out.emplace_back(e.name);
  return out;
}

RoundKind schedule_kind(const std::string& name) { return entry(name).kind; }

std::unique_ptr<Schedule> make_schedule(const TrainConfig& config, std::vector<int64_t> shard_sizes) {
  return entry(config.topology).make(config, std::move(shard_sizes));
}

Schedule::Schedule(const TrainConfig& config, std::vector<int64_t> shard_sizes)
    : seed_(config.seed), epochs_(*config.epochs), shard_sizes_(std::move(shard_sizes)) {
  for (size_t i = 0; i < shard_sizes_.size(); ++i)
    if (shard_sizes_[i] > 0) eligible_.push_back(static_cast<int64_t>(i) + 1);
  MESL_CHECK(!eligible_.empty(), ConfigError, "no client has training data (", shard_sizes_.size(),
             " clients, every shard empty): use fewer clients, more data or another --partition");
  per_round_ = std::min<int64_t>(participants_per_round(config), eligible());
}

std::vector<int64_t> Schedule::participants(int64_t round) const {
  if (per_round_ >= eligible()) return eligible_;
  if (const auto it = recent_.find(round); it != recent_.end()) return it->second;
  // A partial Fisher-Yates shuffle of the eligible clients draws K of them without replacement.
  std::vector<int64_t> pool = eligible_;
  util::Xoshiro256 rng(round_seed(seed_, round));
  for (int64_t i = 0; i < per_round_; ++i) {
    // Uniform in [i, E) by rejection of the short top range (no modulo bias).
    const auto span = static_cast<uint64_t>(eligible() - i);
    uint64_t v = rng.next();
    while (v >= UINT64_MAX - UINT64_MAX % span) v = rng.next();
    std::swap(pool[static_cast<size_t>(i)], pool[static_cast<size_t>(i + static_cast<int64_t>(v % span))]);
  }
  pool.resize(static_cast<size_t>(per_round_));
  std::sort(pool.begin(), pool.end());
  if (recent_.size() >= 2) recent_.erase(recent_.begin());
  recent_[round] = pool;
  return pool;
}

RoundPlan Schedule::plan(int64_t round) const {
  RoundPlan p;
  p.round = round;
  p.kind = kind();
  p.participants = participants(round);
  p.order = order();
  p.top_replicas = top_replicas();
  return p;
}

int64_t Schedule::next_turn(int64_t round, int64_t client) const {
  const std::vector<int64_t> now = participants(round);
  const auto it = std::upper_bound(now.begin(), now.end(), client);
  int64_t next = 0;
  if (it != now.end()) {
    next = *it;
  } else if (round + 1 < epochs_) {
    next = participants(round + 1).front();
  }
  return next == client ? 0 : next;
}

int Placement::rank_of(int64_t client) const {
  return 1 + static_cast<int>((client - 1) * static_cast<int64_t>(ranks) / clients);
}

int64_t Placement::first(int rank) const {
  // The smallest c with floor((c - 1) R / N) >= rank - 1, i.e. c - 1 >= ceil((rank - 1) N / R).
  const int64_t r = rank - 1;
  return (r * clients + ranks - 1) / ranks + 1;
}

int64_t Placement::last(int rank) const { return rank == ranks ? clients : first(rank + 1) - 1; }

}  // namespace mesl::train
