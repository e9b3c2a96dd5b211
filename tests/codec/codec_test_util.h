#pragma once
// Shared helpers for the codec tests: seeded inputs of the three distributions the benchmark also uses, and
// the shapes every parameterised test runs over (0, 1, odd and typical cut-layer sizes), and a loop over the
// kernels' instruction sets.
#include <ATen/ATen.h>
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "mesl/codec/codec.h"

namespace mesl::codec::test {

inline at::Tensor make_input(const std::vector<int64_t>& shape, const std::string& dist, uint64_t seed) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  at::Tensor x = at::empty(shape, at::kFloat);
  if (dist == "uniform") {
    x.uniform_(0.0, 1.0, gen);
  } else {
    x.normal_(0.0, 1.0, gen);
    if (dist == "relu") x.clamp_min_(0.0);
  }
  return x;
}

inline const std::vector<std::vector<int64_t>>& test_shapes() {
  static const std::vector<std::vector<int64_t>> shapes = {
      {0}, {1}, {7}, {4, 4}, {3, 5, 7}, {2, 3, 8, 8}, {16, 100}, {5, 0, 3}, {64, 33}, {2, 64, 16, 16}, {}};
  return shapes;
}

// Runs f() once with every instruction set the fast kernels have on this CPU (kernel_isas: avx2 and sse2 on most
// x86-64 machines, and avx512 on those that have it), then goes back to the one that was active.
template <typename F>
void for_each_kernel_isa(F&& f) {
  const std::string before = kernel_isa();
  for (const std::string& isa : kernel_isas()) {
    CAPTURE(isa);
    set_kernel_isa(isa);
    f();
  }
  set_kernel_isa(before);
}

// The element-wise reconstruction error |x - x_hat|.
inline at::Tensor abs_error(const at::Tensor& x, const at::Tensor& x_hat) { return (x - x_hat).abs(); }

}  // namespace mesl::codec::test
