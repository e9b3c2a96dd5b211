// The synthetic dataset: seeded, a function of (seed, split, index) only, and learnable.
#include <doctest/doctest.h>

#include <numeric>

#include "fixtures.h"
#include "mesl/data/dataset.h"
#include "mesl/error.h"

using namespace mesl::data;
using namespace mesl::data::test;

namespace {

DatasetOptions synthetic(int64_t train, int64_t test, int64_t channels, int64_t side, int64_t classes,
                         uint64_t seed) {
  DatasetOptions options;
  options.name = "synthetic";
  options.synthetic_train = train;
  options.synthetic_test = test;
  options.synthetic_channels = channels;
  options.synthetic_image_size = side;
  options.synthetic_classes = classes;
  options.seed = seed;
  return options;
}

std::vector<int64_t> range(int64_t n) {
  std::vector<int64_t> all(static_cast<size_t>(n));
  std::iota(all.begin(), all.end(), 0);
  return all;
}

}  // namespace

TEST_CASE("synthetic info follows the options, which are checked") {
  for (const int64_t side : {1, 5, 28, 32}) {
    const auto info = dataset_info(synthetic(100, 7, 3, side, 4, 1));
    CHECK(info.name == "synthetic");
    CHECK(info.channels == 3);
    CHECK(info.height == side);
    CHECK(info.width == side);
    CHECK(info.num_classes == 4);
    CHECK(info.train_size == 100);
    CHECK(info.test_size == 7);
    CHECK(info.mean == std::vector<float>(3, 0.5f));
    CHECK(info.std == std::vector<float>(3, 0.25f));
    const auto split = open_split(synthetic(100, 7, 3, side, 4, 1), true);
    const auto images = split->read(range(100));
    CHECK(images.sizes() == at::IntArrayRef({100, 3, side, side}));
    CHECK(images.dtype() == at::kByte);
    for (const int64_t label : split->labels()) CHECK((label >= 0 && label < 4));
  }
  CHECK(open_split(synthetic(3, 0, 1, 4, 2, 0), false)->size() == 0);
  CHECK(open_split(synthetic(3, 0, 1, 4, 2, 0), false)->read({}).sizes() == at::IntArrayRef({0, 1, 4, 4}));
  {  // synthetic options are checked
    CHECK_THROWS_AS(dataset_info(synthetic(0, 5, 1, 8, 2, 0)), mesl::ConfigError);
    CHECK_THROWS_AS(dataset_info(synthetic(5, -1, 1, 8, 2, 0)), mesl::ConfigError);
    CHECK_THROWS_AS(open_split(synthetic(5, 5, 0, 8, 2, 0), true), mesl::ConfigError);
    CHECK_THROWS_AS(open_split(synthetic(5, 5, 1, 0, 2, 0), true), mesl::ConfigError);
    CHECK(message_of<mesl::ConfigError>([] { dataset_info(synthetic(5, 5, 1, 8, 0, 0)); }) ==
          "synthetic classes must be at least 1; got 0");
  }
}

TEST_CASE("synthetic samples depend only on seed, split and index") {
  const auto a = open_split(synthetic(300, 50, 2, 12, 10, 42), true);
  const auto b = open_split(synthetic(300, 50, 2, 12, 10, 42), true);
  const auto all = a->read(range(300));
  CHECK(a->labels() == b->labels());
  CHECK(at::equal(all, b->read(range(300))));
  // One sample read alone, in another order, or from a split of another size is the same sample.
  const auto bigger = open_split(synthetic(1000, 50, 2, 12, 10, 42), true);
  for (const int64_t i : {0, 7, 299}) {
    CHECK(at::equal(a->read({i})[0], all[i]));
    CHECK(at::equal(bigger->read({i})[0], all[i]));
    CHECK(bigger->labels()[static_cast<size_t>(i)] == a->labels()[static_cast<size_t>(i)]);
  }
  CHECK(at::equal(a->read({299, 3, 299}), at::stack({all[299], all[3], all[299]})));
  // Another seed, or the test split, gives other samples.
  const auto other_seed = open_split(synthetic(300, 50, 2, 12, 10, 43), true)->read(range(300));
  CHECK_FALSE(at::equal(other_seed, all));
  const auto test = open_split(synthetic(300, 50, 2, 12, 10, 42), false);
  CHECK_FALSE(at::equal(test->read(range(50)), all.narrow(0, 0, 50)));
  CHECK(message_of<mesl::DataError>([&] { a->read({300}); }).find("out of range") != std::string::npos);
}

TEST_CASE("synthetic data has the documented statistics and is learnable") {
  const auto split = open_split(synthetic(400, 0, 3, 16, 10, 5), true);
  const auto pixels = split->read(range(400)).to(at::kFloat).div(255);
  CHECK(pixels.mean().item<double>() == doctest::Approx(0.5).epsilon(0.05));
  CHECK(pixels.std().item<double>() == doctest::Approx(0.25).epsilon(0.25));
  // Labels are spread over all classes.
  std::vector<int64_t> histogram(10, 0);
  for (const int64_t label : split->labels()) ++histogram[static_cast<size_t>(label)];
  for (const int64_t count : histogram) CHECK(count > 15);
  {  // synthetic data is learnable: nearest class mean is far above chance
    for (const int64_t channels : {1, 3}) {
      CAPTURE(channels);
      const int64_t classes = 10;
      const auto options = synthetic(500, 300, channels, 28, classes, 9);
      const auto train = open_split(options, true);
      const auto test = open_split(options, false);
      const auto x = train->read(range(500)).to(at::kFloat).flatten(1);
      const auto y = at::tensor(train->labels(), at::kLong);
      // Class means of the training split, then nearest mean on the test split (same templates, fresh noise).
      auto means = at::zeros({classes, x.size(1)});
      means.index_add_(0, y, x);
      means /= at::bincount(y, {}, classes).to(at::kFloat).clamp_min(1).unsqueeze(1);
      const auto xt = test->read(range(300)).to(at::kFloat).flatten(1);
      const auto predicted = at::cdist(xt, means).argmin(1);
      const double accuracy = predicted.eq(at::tensor(test->labels(), at::kLong)).to(at::kDouble).mean().item<double>();
      CHECK(accuracy > 0.8);  // chance is 0.1
    }
  }
}

