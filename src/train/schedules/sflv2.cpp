// SplitFed V2: the round's participants train at once from the current average against one top, which serves
// their steps one at a time, in arrival order or strictly in turn (--serve-order round-robin, reproducible). The
// bottoms are averaged at the round's end (FedAvg, weighted by shard size).
#include "../schedule.h"

namespace mesl::train {
namespace {

class Sflv2 : public Schedule {
 public:
  Sflv2(const TrainConfig& config, std::vector<int64_t> shard_sizes)
      : Schedule(config, std::move(shard_sizes)), order_(config.serve_order) {}
  RoundKind kind() const override { return RoundKind::parallel; }
  StepOrder order() const override {
    return order_ == ServeOrder::round_robin ? StepOrder::round_robin : StepOrder::arrival;
  }

 private:
  ServeOrder order_;
};

}  // namespace

std::unique_ptr<Schedule> make_sflv2(const TrainConfig& config, std::vector<int64_t> shard_sizes) {
  return std::make_unique<Sflv2>(config, std::move(shard_sizes));
}

}  // namespace mesl::train
