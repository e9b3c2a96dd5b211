#pragma once
// A client's view of its data: its shard, batched, shuffled per epoch and augmented, all from seeds, so that
// batch(epoch, i) is the same batch on every run and a resumed run needs no saved RNG state.
#include <ATen/ATen.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "mesl/data/dataset.h"

namespace mesl::data {

enum class Augment {
  none,
  crop_flip,     // CIFAR: random crop with 4 pixels of zero padding, random horizontal flip
  resized_crop,  // ImageNet-style: random resized crop to 224, flip; evaluation: resize 256, center crop 224
};

struct LoaderOptions {
  int64_t batch_size = 64;
  bool shuffle = true;       // a new seeded order every epoch
  bool train = true;         // false: evaluation transforms (no random augmentation)
  bool drop_last = false;    // the last, smaller batch is kept by default
  Augment augment = Augment::none;
  uint64_t seed = 0;
  uint64_t stream = 0;       // e.g. the client id: different streams give different orders from one seed
  // Copy the shard's images out of an in-memory split once, at construction (fast batches from a small private
  // copy), or read each batch from the split itself (a loader that costs nothing to make: a rank that hosts many
  // clients makes one whenever a client's turn comes). Both give the same batches.
  bool cache_shard = true;
};

struct Batch {
  at::Tensor images;  // float32 [n, C, H', W'], normalised with the dataset's mean and std
  at::Tensor labels;  // int64 [n]
};

class Loader {
 public:
  // Keeps a reference to `split` (which must outlive the loader). A non-streaming split's shard is read once here.
  Loader(const Split& split, const DatasetInfo& info, std::vector<int64_t> indices, LoaderOptions options);
  int64_t size() const;          // samples in the shard
  int64_t num_batches() const;
  // The `index`-th batch of `epoch` (0-based). Throws std::out_of_range-free mesl::DataError for a bad index.
  Batch batch(int64_t epoch, int64_t index) const;
  const LoaderOptions& options() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

// The augmentation a dataset uses in training by default (crop_flip for CIFAR, resized_crop for 224-pixel HDF5
// sets, none for the 28x28 greyscale sets and synthetic data).
Augment default_augment(const DatasetInfo& info);

}  // namespace mesl::data
