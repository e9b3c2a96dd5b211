// SplitFed V1: the round's participants train at once from the current average; the server keeps a top replica
// per participant, so the order in which it serves their steps changes no result. At the round's end the
// participants' bottoms and their top replicas are averaged (FedAvg, weighted by shard size).
#include "../schedule.h"

namespace mesl::train {
namespace {

class Sflv1 : public Schedule {
 public:
  using Schedule::Schedule;
  RoundKind kind() const override { return RoundKind::parallel; }
  StepOrder order() const override { return StepOrder::by_client; }
  bool top_replicas() const override { return true; }
};

}  // namespace

std::unique_ptr<Schedule> make_sflv1(const TrainConfig& config, std::vector<int64_t> shard_sizes) {
  return std::make_unique<Sflv1>(config, std::move(shard_sizes));
}

}  // namespace mesl::train
