// codec::relative_error: the fused float32 pass against the same quantity computed in double with LibTorch ops.
#include <ATen/Parallel.h>
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>

#include "codec_test_util.h"
#include "mesl/codec/codec.h"
#include "mesl/error.h"

using namespace mesl::codec;

namespace {

double in_double(const at::Tensor& x, const at::Tensor& x_hat) {
  const at::Tensor a = x.to(at::kDouble), b = x_hat.to(at::kDouble);
  const double ref = a.norm().item<double>(), err = (a - b).norm().item<double>();
  return ref > 0 ? err / ref : err;
}

// `want` to a relative tolerance. doctest's Approx alone also accepts any difference under epsilon, which at the
// tiny scales below would accept 0; a scale of the smallest double keeps 0 == 0 true and nothing else absolute.
doctest::Approx within(double want, double relative) {
  return doctest::Approx(want).epsilon(relative).scale(std::numeric_limits<double>::min());
}

// A decoded-looking neighbour of x: every element moved by a seeded relative amount, some set to zero.
at::Tensor perturbed(const at::Tensor& x, uint64_t seed) {
  const at::Tensor noise = test::make_input(x.sizes().vec(), "normal", seed);
  return (x * (1 + 0.05 * noise)).masked_fill(noise > 1.5, 0.0);
}

struct ThreadCount {
  explicit ThreadCount(int n) : before(at::get_num_threads()) { at::set_num_threads(n); }
  ~ThreadCount() { at::set_num_threads(before); }
  int before;
};

}  // namespace

TEST_CASE("relative_error agrees with the double-precision formula on every test shape and cut-layer sizes") {
  auto shapes = test::test_shapes();
  shapes.push_back({64, 32, 14, 14});  // the small CNN's shallow cut: several blocks and a partial one
  shapes.push_back({3, 32769});        // one element past a block
  for (const auto& shape : shapes) {
    for (const std::string dist : {"relu", "normal", "uniform"}) {
      CAPTURE(at::IntArrayRef(shape));
      CAPTURE(dist);
      const at::Tensor x = test::make_input(shape, dist, 7);
      const at::Tensor x_hat = perturbed(x, 8);
      const double want = in_double(x, x_hat);
      const double got = relative_error(x, x_hat);
      CHECK(got == within(want, 1e-6));
      CHECK(relative_error(x, x) == 0.0);
    }
  }
}

TEST_CASE("relative_error gives the same bits at any thread count") {
  const at::Tensor x = test::make_input({64, 32, 14, 14}, "relu", 1);
  const at::Tensor x_hat = perturbed(x, 2);
  double one = 0;
  {
    ThreadCount t(1);
    one = relative_error(x, x_hat);
  }
  for (int threads : {2, 3}) {
    ThreadCount t(threads);
    CAPTURE(threads);
    CHECK(relative_error(x, x_hat) == one);
  }
}

TEST_CASE("relative_error's edge cases: zero reference, empty tensors, views, other dtypes, shape mismatch") {
  const at::Tensor zero = at::zeros({4, 4});
  const at::Tensor ones = at::ones({4, 4});
  CHECK(relative_error(zero, ones) == doctest::Approx(4.0));  // ||x - x_hat|| when x is all zero
  CHECK(relative_error(zero, zero) == 0.0);
  CHECK(relative_error(at::empty({0}), at::empty({0})) == 0.0);
  // x zero over a whole run and x_hat's squares vanishing in float: summed in double, not taken for all zero.
  const at::Tensor tiny = at::full({1024}, 1e-25f);
  CHECK(relative_error(at::zeros({1024}), tiny) == within(in_double(at::zeros({1024}), tiny), 1e-6));

  const at::Tensor x = test::make_input({40, 30}, "normal", 3);
  const at::Tensor x_hat = perturbed(x, 4);
  const double want = in_double(x, x_hat);
  // A transposed view takes the contiguous copy, float64 and half the LibTorch path; all give the same quantity.
  CHECK(relative_error(x.t(), x_hat.t()) == within(want, 1e-6));
  CHECK(relative_error(x.to(at::kDouble), x_hat.to(at::kDouble)) == within(want, 1e-12));
  const at::Tensor xh = x.to(at::kHalf), yh = x_hat.to(at::kHalf);
  CHECK(relative_error(xh, yh) == within(in_double(xh, yh), 1e-12));
  CHECK_THROWS_AS(relative_error(x, x_hat.reshape({30, 40})), mesl::CodecError);
}

TEST_CASE("relative_error holds at scales where float squares overflow or vanish") {
  const at::Tensor x = test::make_input({4, 1000}, "normal", 5);
  const at::Tensor x_hat = perturbed(x, 6);
  const double want = in_double(x, x_hat);
  for (double scale : {1e25, 1e18, 1e-18, 1e-25}) {
    CAPTURE(scale);
    const at::Tensor xs = x * scale, ys = x_hat * scale;
    REQUIRE(at::isfinite(xs).all().item<bool>());
    CHECK(relative_error(xs, ys) == within(in_double(xs, ys), 1e-6));
    CHECK(relative_error(xs, ys) == within(want, 1e-5));
  }
}
