#pragma once
// Small helpers shared by the models tests.
#include <doctest/doctest.h>
#include <torch/torch.h>

#include "mesl/models/model.h"

#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

// Shapes print as [64, 16, 16] in failed checks.
template <>
struct doctest::StringMaker<std::vector<int64_t>> {
  static doctest::String convert(const std::vector<int64_t>& shape) {
    std::ostringstream out;
    out << '[';
    for (size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
    out << ']';
    return out.str().c_str();
  }
};

namespace mesl::models::test {

// The per-sample shape of a batch: its sizes without the leading batch dimension.
inline std::vector<int64_t> sample_shape(const torch::Tensor& batch) {
  const auto sizes = batch.sizes();
  return {sizes.begin() + 1, sizes.end()};
}

inline int64_t total_parameters(const SplitNet& net) {
  return num_parameters(*net.bottom) + num_parameters(*net.top);
}

// A random batch of `n` samples of the net's input shape.
inline torch::Tensor random_batch(const SplitNet& net, int64_t n) {
  std::vector<int64_t> sizes{n};
  sizes.insert(sizes.end(), net.input_shape.begin(), net.input_shape.end());
  return torch::randn(sizes);
}

// Both halves' parameters in forward order, bottom first.
inline std::vector<std::pair<std::string, torch::Tensor>> all_parameters(const SplitNet& net) {
  std::vector<std::pair<std::string, torch::Tensor>> all;
  for (const auto& item : net.bottom->named_parameters()) all.emplace_back("bottom." + item.key(), item.value());
  for (const auto& item : net.top->named_parameters()) all.emplace_back("top." + item.key(), item.value());
  return all;
}

// The weights a mid-block cut drops: the 1x1 projection conv (no bias) and its BatchNorm, when the block at
// `block_in -> block_out` channels has one.
inline int64_t projection_parameters(int64_t block_in, int64_t block_out) {
  return block_in * block_out + 2 * block_out;
}

}  // namespace mesl::models::test
