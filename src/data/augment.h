#pragma once
// Batch transforms of the loader: augmentation (random draws from the caller's seeded Rng, so a batch is a pure
// function of its seed) and per-channel normalisation.
#include <ATen/ATen.h>

#include <vector>

#include "mesl/data/loader.h"
#include "random.h"

namespace mesl::data::detail {

// `images`: uint8 [n, C, H, W]; returns float32 on the 0..1 scale (converted after cropping where possible, so that
// only the pixels kept are converted). Training: crop_flip pads 4 zero pixels and takes a random
// H x W crop, flipped horizontally with probability 1/2; resized_crop takes a random crop of 8%..100% of the area
// with aspect ratio in [3/4, 4/3], resizes it to 224 x 224 (bilinear, antialiased) and flips it with probability
// 1/2. Evaluation: resized_crop resizes the shorter side to 256 and takes the center 224 x 224; the others do
// nothing. Draws are taken from `rng` sample by sample, in batch order.
at::Tensor augment(const at::Tensor& images, Augment augment, bool train, Rng& rng);

// (x - mean[c]) / std[c] per channel; `mean` and `std` hold one value per channel.
at::Tensor normalise(const at::Tensor& images, const std::vector<float>& mean, const std::vector<float>& std);

}  // namespace mesl::data::detail
