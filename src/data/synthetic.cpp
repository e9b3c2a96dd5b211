// Synthetic data: learnable, seeded, and generated one sample at a time, so a client makes only its own shard.
//
// Each class has a fixed smooth template (a coarse random grid of at most 8x8 per channel, standardised and
// upsampled bilinearly) derived from (seed, class). Sample i of a split has label L drawn from (seed, split, i) and
// pixels clamp(128 + 60 * template[L] + 40 * noise) with noise drawn from (seed, split, i). The train and test
// splits share the templates and differ in their label and noise streams. Smooth templates survive the pooling
// and striding of CNNs, so small and large models both learn the set quickly.
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>

#include "formats.h"
#include "mesl/error.h"
#include "random.h"

namespace mesl::data::detail {
namespace {

constexpr int64_t kMaxGrid = 8;

// A zero-mean, unit-variance variate from one 64-bit draw: the sum of four 16-bit uniforms (Irwin-Hall, n = 4),
// standardised. Only exact IEEE operations, so every platform produces the same pixels.
double irwin_hall(uint64_t bits) {
  double sum = 0.0;
  for (int k = 0; k < 4; ++k) sum += (static_cast<double>((bits >> (16 * k)) & 0xffff) + 0.5) * 0x1.0p-16;
  return (sum - 2.0) * 1.7320508075688772;  // variance of the sum is 4/12
}

// Source cells and weight for bilinear upsampling from `grid` to `side` samples (align_corners = false).
struct Tap {
  int64_t lo, hi;
  double weight;  // of `hi`
};

std::vector<Tap> taps(int64_t grid, int64_t side) {
  std::vector<Tap> result(static_cast<size_t>(side));
  for (int64_t y = 0; y < side; ++y) {
    double src = (static_cast<double>(y) + 0.5) * static_cast<double>(grid) / static_cast<double>(side) - 0.5;
    src = std::clamp(src, 0.0, static_cast<double>(grid - 1));
    const auto lo = static_cast<int64_t>(std::floor(src));
    result[static_cast<size_t>(y)] = {lo, std::min(lo + 1, grid - 1), src - static_cast<double>(lo)};
  }
  return result;
}

void check_options(const DatasetOptions& options) {
  MESL_CHECK(options.synthetic_train >= 1, ConfigError, "synthetic train size must be at least 1; got ",
             options.synthetic_train);
  MESL_CHECK(options.synthetic_test >= 0, ConfigError, "synthetic test size must be at least 0; got ",
             options.synthetic_test);
  MESL_CHECK(options.synthetic_channels >= 1, ConfigError, "synthetic channels must be at least 1; got ",
             options.synthetic_channels);
  MESL_CHECK(options.synthetic_image_size >= 1, ConfigError, "synthetic image size must be at least 1; got ",
             options.synthetic_image_size);
  MESL_CHECK(options.synthetic_classes >= 1, ConfigError, "synthetic classes must be at least 1; got ",
             options.synthetic_classes);
}

class SyntheticSplit final : public Split {
 public:
  SyntheticSplit(const DatasetOptions& options, bool train)
      : seed_(options.seed),
        split_(train ? 0 : 1),
        channels_(options.synthetic_channels),
        side_(options.synthetic_image_size),
        classes_(options.synthetic_classes),
        grid_(std::min(kMaxGrid, options.synthetic_image_size)),
        taps_(taps(grid_, side_)) {
    const int64_t size = train ? options.synthetic_train : options.synthetic_test;
    labels_.resize(static_cast<size_t>(size));
    for (int64_t i = 0; i < size; ++i) {
      Rng rng(hash_words(Domain::synthetic_label, {seed_, split_, static_cast<uint64_t>(i)}));
      labels_[static_cast<size_t>(i)] = static_cast<int64_t>(rng.below(static_cast<uint64_t>(classes_)));
    }
    make_templates();
  }

  int64_t size() const override { return static_cast<int64_t>(labels_.size()); }
  const std::vector<int64_t>& labels() const override { return labels_; }

  at::Tensor read(const std::vector<int64_t>& indices) const override {
    MESL_CHECK(std::all_of(indices.begin(), indices.end(), [&](int64_t i) { return i >= 0 && i < size(); }),
               DataError, "synthetic ", split_ == 0 ? "train" : "test", " index out of range; use indices in [0, ",
               size(), ")");
    const auto n = static_cast<int64_t>(indices.size());
    auto out = at::empty({n, channels_, side_, side_}, at::kByte);
    uint8_t* base = out.data_ptr<uint8_t>();
    const int64_t sample_bytes = channels_ * side_ * side_;
    // Samples are independent functions of their index, so the result does not depend on the thread count.
    at::parallel_for(0, n, 1, [&](int64_t begin, int64_t end) {
      for (int64_t k = begin; k < end; ++k) generate(indices[static_cast<size_t>(k)], base + k * sample_bytes);
    });
    return out;
  }

 private:
  // Coarse grids per class (all channels), standardised so that the 60-level contrast means the same everywhere.
  void make_templates() {
    const int64_t cells = channels_ * grid_ * grid_;
    coarse_.resize(static_cast<size_t>(classes_ * cells));
    for (int64_t c = 0; c < classes_; ++c) {
      Rng rng(hash_words(Domain::synthetic_template, {seed_, static_cast<uint64_t>(c)}));
      double* grid = coarse_.data() + c * cells;
      double mean = 0.0;
      for (int64_t k = 0; k < cells; ++k) mean += (grid[k] = irwin_hall(rng.next()));
      if (cells < 2) continue;  // a single value cannot be standardised; keep it as drawn
      mean /= static_cast<double>(cells);
      double var = 0.0;
      for (int64_t k = 0; k < cells; ++k) var += (grid[k] - mean) * (grid[k] - mean);
      const double scale = 1.0 / std::sqrt(var / static_cast<double>(cells));
      for (int64_t k = 0; k < cells; ++k) grid[k] = (grid[k] - mean) * scale;
    }
  }

  void generate(int64_t index, uint8_t* out) const {
    const int64_t label = labels_[static_cast<size_t>(index)];
    const double* grid = coarse_.data() + label * channels_ * grid_ * grid_;
    Rng noise(hash_words(Domain::synthetic_noise, {seed_, split_, static_cast<uint64_t>(index)}));
    // So that a model does not learn the set perfectly in a few steps (which would hide differences between
    // codecs), every sample also carries a weaker template of another class and its own contrast.
    const auto other = static_cast<int64_t>((static_cast<uint64_t>(label) + 1 + noise.next() % static_cast<uint64_t>(
                                                 std::max<int64_t>(classes_ - 1, 1))) % static_cast<uint64_t>(classes_));
    const double* distractor = coarse_.data() + other * channels_ * grid_ * grid_;
    const double gain = 0.6 + 0.8 * static_cast<double>(noise.next() >> 11) * 0x1.0p-53;  // contrast 0.6..1.4
    for (int64_t ch = 0; ch < channels_; ++ch) {
      const double* plane = grid + ch * grid_ * grid_;
      const double* plane2 = distractor + ch * grid_ * grid_;
      for (int64_t y = 0; y < side_; ++y) {
        const Tap& ty = taps_[static_cast<size_t>(y)];
        for (int64_t x = 0; x < side_; ++x) {
          const Tap& tx = taps_[static_cast<size_t>(x)];
          const double top =
              plane[ty.lo * grid_ + tx.lo] * (1.0 - tx.weight) + plane[ty.lo * grid_ + tx.hi] * tx.weight;
          const double bottom =
              plane[ty.hi * grid_ + tx.lo] * (1.0 - tx.weight) + plane[ty.hi * grid_ + tx.hi] * tx.weight;
          const double t = top * (1.0 - ty.weight) + bottom * ty.weight;
          const double top2 =
              plane2[ty.lo * grid_ + tx.lo] * (1.0 - tx.weight) + plane2[ty.lo * grid_ + tx.hi] * tx.weight;
          const double bottom2 =
              plane2[ty.hi * grid_ + tx.lo] * (1.0 - tx.weight) + plane2[ty.hi * grid_ + tx.hi] * tx.weight;
          const double t2 = top2 * (1.0 - ty.weight) + bottom2 * ty.weight;
          const double value =
              std::floor(128.0 + gain * (36.0 * t + 24.0 * t2) + 40.0 * irwin_hall(noise.next()) + 0.5);
          *out++ = static_cast<uint8_t>(std::clamp(value, 0.0, 255.0));
        }
      }
    }
  }

  uint64_t seed_, split_;
  int64_t channels_, side_, classes_, grid_;
  std::vector<Tap> taps_;
  std::vector<double> coarse_;  // [classes, channels, grid, grid]
  std::vector<int64_t> labels_;
};

}  // namespace

DatasetInfo synthetic_info(const DatasetOptions& options) {
  check_options(options);
  DatasetInfo info;
  info.name = options.name;
  info.channels = options.synthetic_channels;
  info.height = info.width = options.synthetic_image_size;
  info.num_classes = options.synthetic_classes;
  info.train_size = options.synthetic_train;
  info.test_size = options.synthetic_test;
  info.mean.assign(static_cast<size_t>(info.channels), 0.5f);
  info.std.assign(static_cast<size_t>(info.channels), 0.25f);
  return info;
}

std::unique_ptr<Split> open_synthetic(const DatasetOptions& options, bool train) {
  check_options(options);
  return std::make_unique<SyntheticSplit>(options, train);
}

}  // namespace mesl::data::detail
