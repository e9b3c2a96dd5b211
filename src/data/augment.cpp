// Augmentation and normalisation for the loader: see augment.h. The crop parameters follow torchvision's
// RandomCrop(padding=4), RandomResizedCrop(224) and Resize(256) + CenterCrop(224), so that the paper's recipes
// carry over; the random draws come from mesl's own generator.
#include "augment.h"

#include <ATen/Parallel.h>
#include <ATen/ops/_upsample_bilinear2d_aa.h>

#include <cmath>
#include <vector>

#include "mesl/error.h"

namespace mesl::data::detail {
namespace {

constexpr int64_t kPadding = 4;
constexpr int64_t kCropSize = 224;
constexpr int64_t kResizeSize = 256;

// uint8 pixels to float32 on the 0..1 scale.
at::Tensor to_unit(const at::Tensor& pixels) { return pixels.to(at::kFloat).div_(255.0); }

// Bilinear resize with antialiasing (PIL-like when shrinking), on a [n, C, H, W] float tensor.
at::Tensor resize(const at::Tensor& images, int64_t height, int64_t width) {
  if (images.size(2) == height && images.size(3) == width) return images;
  return at::_upsample_bilinear2d_aa(images, {height, width}, /*align_corners=*/false);
}

at::Tensor crop_flip(const at::Tensor& images, Rng& rng) {
  const int64_t height = images.size(2), width = images.size(3);
  const auto padded = at::constant_pad_nd(images, {kPadding, kPadding, kPadding, kPadding}, 0.0);
  auto out = at::empty_like(images);
  for (int64_t i = 0; i < images.size(0); ++i) {
    const int64_t top = rng.between(0, 2 * kPadding);
    const int64_t left = rng.between(0, 2 * kPadding);
    const bool flip = rng.below(2) == 1;
    auto crop = padded[i].narrow(1, top, height).narrow(2, left, width);
    out[i].copy_(flip ? crop.flip({2}) : crop);
  }
  return to_unit(out);
}

struct Box {
  int64_t top, left, height, width;
};

// torchvision's RandomResizedCrop.get_params: ten tries at a random area and aspect ratio, else a center crop
// with the ratio clamped into range.
Box random_resized_box(int64_t height, int64_t width, Rng& rng) {
  const double area = static_cast<double>(height * width);
  const double log_lo = std::log(3.0 / 4.0), log_hi = std::log(4.0 / 3.0);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target = area * (0.08 + (1.0 - 0.08) * rng.uniform());
    const double ratio = std::exp(log_lo + (log_hi - log_lo) * rng.uniform());
    const auto w = static_cast<int64_t>(std::llround(std::sqrt(target * ratio)));
    const auto h = static_cast<int64_t>(std::llround(std::sqrt(target / ratio)));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const int64_t top = rng.between(0, height - h);
      const int64_t left = rng.between(0, width - w);
      return {top, left, h, w};
    }
  }
  const double in_ratio = static_cast<double>(width) / static_cast<double>(height);
  int64_t w = width, h = height;
  if (in_ratio < 3.0 / 4.0) {
    h = std::min<int64_t>(height, std::llround(static_cast<double>(w) / (3.0 / 4.0)));
  } else if (in_ratio > 4.0 / 3.0) {
    w = std::min<int64_t>(width, std::llround(static_cast<double>(h) * (4.0 / 3.0)));
  }
  return {(height - h) / 2, (width - w) / 2, h, w};
}

at::Tensor random_resized_crop(const at::Tensor& images, Rng& rng) {
  const int64_t n = images.size(0);
  // Draw every sample's crop and flip first, in batch order, so that the result does not depend on threads.
  std::vector<Box> boxes;
  std::vector<bool> flips;
  for (int64_t i = 0; i < n; ++i) {
    boxes.push_back(random_resized_box(images.size(2), images.size(3), rng));
    flips.push_back(rng.below(2) == 1);
  }
  auto out = at::empty({n, images.size(1), kCropSize, kCropSize}, images.options().dtype(at::kFloat));
  // One small resize per sample: spread the samples over the intra-op threads.
  at::parallel_for(0, n, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const Box& box = boxes[static_cast<size_t>(i)];
      // Crop first, convert after: only the crop's pixels are turned into floats.
      auto crop = images[i].narrow(1, box.top, box.height).narrow(2, box.left, box.width).unsqueeze(0);
      auto resized = resize(to_unit(crop), kCropSize, kCropSize)[0];
      out[i].copy_(flips[static_cast<size_t>(i)] ? resized.flip({2}) : resized);
    }
  });
  return out;
}

// torchvision's Resize(256) (shorter side to 256, the longer one scaled and truncated) + CenterCrop(224).
at::Tensor resize_center_crop(const at::Tensor& images) {
  const int64_t height = images.size(2), width = images.size(3);
  int64_t new_h = kResizeSize, new_w = kResizeSize;
  if (height < width) new_w = kResizeSize * width / height;
  if (width < height) new_h = kResizeSize * height / width;
  // Without a resize (images stored at 256 pixels) the crop is taken before the conversion to floats.
  const auto resized = new_h == height && new_w == width ? images : resize(to_unit(images), new_h, new_w);
  const auto top = static_cast<int64_t>(std::lround(static_cast<double>(new_h - kCropSize) / 2.0));
  const auto left = static_cast<int64_t>(std::lround(static_cast<double>(new_w - kCropSize) / 2.0));
  const auto crop = resized.narrow(2, top, kCropSize).narrow(3, left, kCropSize);
  return crop.is_floating_point() ? crop.contiguous() : to_unit(crop);
}

}  // namespace

at::Tensor augment(const at::Tensor& images, Augment augment, bool train, Rng& rng) {
  switch (augment) {
    case Augment::none:
      return to_unit(images);
    case Augment::crop_flip:
      return train ? crop_flip(images, rng) : to_unit(images);
    case Augment::resized_crop:
      return train ? random_resized_crop(images, rng) : resize_center_crop(images);
  }
  return to_unit(images);
}

at::Tensor normalise(const at::Tensor& images, const std::vector<float>& mean, const std::vector<float>& std) {
  const int64_t channels = images.size(1);
  MESL_CHECK(static_cast<int64_t>(mean.size()) == channels && static_cast<int64_t>(std.size()) == channels,
             DataError, "the dataset description has ", mean.size(), " mean and ", std.size(), " std values for ",
             channels, "-channel images; give one of each per channel");
  const auto m = at::tensor(mean, images.options()).view({1, channels, 1, 1});
  const auto s = at::tensor(std, images.options()).view({1, channels, 1, 1});
  return (images - m) / s;
}

}  // namespace mesl::data::detail
