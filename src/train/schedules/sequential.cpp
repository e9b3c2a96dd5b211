// Sequential split learning (vanilla SL): the epoch's participants take turns in client order on one bottom, each
// handing it to the next (the last of an epoch to the first of the next); the server keeps one top. The client
// holding the newest bottom evaluates.
#include "../schedule.h"

namespace mesl::train {
namespace {

class Sequential : public Schedule {
 public:
  using Schedule::Schedule;
  RoundKind kind() const override { return RoundKind::turns; }
};

}  // namespace

std::unique_ptr<Schedule> make_sequential(const TrainConfig& config, std::vector<int64_t> shard_sizes) {
  return std::make_unique<Sequential>(config, std::move(shard_sizes));
}

}  // namespace mesl::train
