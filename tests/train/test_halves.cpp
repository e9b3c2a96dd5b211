// Learning-rate schedules, model state transfer and FedAvg.
#include <doctest/doctest.h>

#include <cmath>

#include "halves.h"
#include "mesl/error.h"

using namespace mesl::train;

namespace {

torch::nn::Sequential tiny() {
  return torch::nn::Sequential(torch::nn::Linear(3, 4), torch::nn::BatchNorm1d(4), torch::nn::Linear(4, 2));
}

}  // namespace

TEST_CASE("learning-rate schedules step per epoch as PyTorch's schedulers do") {
  TrainConfig c = resolve_defaults(TrainConfig{}, 2);
  c.lr = 0.1;
  c.epochs = 200;
  c.schedule = LrSchedule::cosine;
  CHECK(learning_rate(c, 0) == doctest::Approx(0.1));
  CHECK(learning_rate(c, 100) == doctest::Approx(0.05));
  CHECK(learning_rate(c, 199) == doctest::Approx(0.1 * 0.5 * (1 + std::cos(M_PI * 199 / 200))));
  c.schedule = LrSchedule::multistep;
  c.milestones = {60, 120, 160};
  c.gamma = 0.2;
  CHECK(learning_rate(c, 59) == doctest::Approx(0.1));
  CHECK(learning_rate(c, 60) == doctest::Approx(0.02));
  CHECK(learning_rate(c, 160) == doctest::Approx(0.1 * 0.2 * 0.2 * 0.2));
  c.schedule = LrSchedule::step;
  c.step_size = 30;
  c.gamma = 0.1;
  CHECK(learning_rate(c, 29) == doctest::Approx(0.1));
  CHECK(learning_rate(c, 30) == doctest::Approx(0.01));
  CHECK(learning_rate(c, 89) == doctest::Approx(0.001));
}

TEST_CASE("a module's state moves exactly, and a state of another architecture is refused") {
  torch::manual_seed(1);
  auto a = tiny();
  torch::manual_seed(2);
  auto b = tiny();
  CHECK_FALSE(torch::equal(a->parameters()[0], b->parameters()[0]));
  const auto bytes = save_state(*a);
  CHECK(bytes.size() == state_bytes(*a));
  load_state(*b, bytes);
  for (size_t i = 0; i < a->parameters().size(); ++i) CHECK(torch::equal(a->parameters()[i], b->parameters()[i]));
  for (size_t i = 0; i < a->buffers().size(); ++i) CHECK(torch::equal(a->buffers()[i], b->buffers()[i]));
  auto other = torch::nn::Sequential(torch::nn::Linear(3, 5));
  CHECK_THROWS_WITH_AS(load_state(*other, bytes), doctest::Contains("does not fit this model"), mesl::CommError);
}

TEST_CASE("FedAvg weights floating tensors by shard size and takes the largest batch counter") {
  auto m = tiny();
  std::vector<std::vector<uint8_t>> states;
  for (float v : {1.0f, 4.0f}) {
    auto s = tiny();
    torch::NoGradGuard g;
    for (auto& p : s->parameters()) p.fill_(v);
    s->buffers()[2].fill_(static_cast<int64_t>(v));  // BatchNorm's num_batches_tracked
    states.push_back(save_state(*s));
  }
  load_average(*m, states, {3.0, 1.0});
  for (auto& p : m->parameters()) CHECK(torch::allclose(p, torch::full_like(p, 1.75f)));
  CHECK(m->buffers()[2].item<int64_t>() == 4);
}
