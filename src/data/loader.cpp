// The client's batches: see loader.h. Everything random is derived from (seed, stream, epoch[, index]), so any
// batch can be recomputed alone, in any order, after a restart.
#include "mesl/data/loader.h"

#include <mutex>
#include <numeric>

#include "augment.h"
#include "files.h"
#include "mesl/error.h"
#include "random.h"

namespace mesl::data {

struct Loader::Impl {
  const Split* split = nullptr;
  DatasetInfo info;
  std::vector<int64_t> indices;  // the shard, as split indices
  LoaderOptions options;
  std::vector<int64_t> labels;   // labels of the shard, in shard order
  at::Tensor images;             // the shard's uint8 images, when the split is not streaming

  // The current epoch's order, cached because every batch of an epoch needs it.
  mutable std::mutex mutex;
  mutable int64_t cached_epoch = -1;
  mutable std::vector<int64_t> order;

  int64_t size() const { return static_cast<int64_t>(indices.size()); }

  std::vector<int64_t> positions(int64_t epoch, int64_t begin, int64_t end) const {
    std::vector<int64_t> result(static_cast<size_t>(end - begin));
    if (!options.shuffle) {
      std::iota(result.begin(), result.end(), begin);
      return result;
    }
    std::lock_guard<std::mutex> lock(mutex);
    if (cached_epoch != epoch) {
      order.resize(indices.size());
      std::iota(order.begin(), order.end(), 0);
      detail::Rng rng(detail::hash_words(detail::Domain::loader_order,
                                         {options.seed, options.stream, static_cast<uint64_t>(epoch)}));
      detail::shuffle(order, rng);
      cached_epoch = epoch;
    }
    std::copy(order.begin() + begin, order.begin() + end, result.begin());
    return result;
  }
};

Loader::Loader(const Split& split, const DatasetInfo& info, std::vector<int64_t> indices, LoaderOptions options)
    : impl_(std::make_shared<Impl>()) {
  MESL_CHECK(options.batch_size >= 1, ConfigError, "the batch size must be at least 1; got ", options.batch_size);
  detail::check_indices(indices, split.size(), "the split");
  impl_->split = &split;
  impl_->info = info;
  impl_->options = options;
  impl_->labels.reserve(indices.size());
  for (const int64_t index : indices) impl_->labels.push_back(split.labels()[static_cast<size_t>(index)]);
  // A split that is not streaming is read once: the shard stays in memory as uint8 (unless the caller asks not to).
  if (!split.streaming() && options.cache_shard) impl_->images = split.read(indices);
  impl_->indices = std::move(indices);
}

int64_t Loader::size() const { return impl_->size(); }

int64_t Loader::num_batches() const {
  const int64_t n = impl_->size(), batch = impl_->options.batch_size;
  return impl_->options.drop_last ? n / batch : (n + batch - 1) / batch;
}

const LoaderOptions& Loader::options() const { return impl_->options; }

Batch Loader::batch(int64_t epoch, int64_t index) const {
  const Impl& impl = *impl_;
  MESL_CHECK(epoch >= 0, DataError, "epoch ", epoch, " is negative; epochs count from 0");
  MESL_CHECK(index >= 0 && index < num_batches(), DataError, "batch ", index, " is out of range for a loader with ",
             num_batches(), " batches per epoch; use indices in [0, ", num_batches(), ")");
  const int64_t begin = index * impl.options.batch_size;
  const int64_t end = std::min(begin + impl.options.batch_size, impl.size());
  const std::vector<int64_t> positions = impl.positions(epoch, begin, end);

  std::vector<int64_t> labels(positions.size());
  for (size_t k = 0; k < positions.size(); ++k) labels[k] = impl.labels[static_cast<size_t>(positions[k])];

  at::Tensor raw;
  if (impl.images.defined()) {
    raw = impl.images.index_select(0, at::tensor(positions, at::kLong));
  } else {
    std::vector<int64_t> wanted(positions.size());
    for (size_t k = 0; k < positions.size(); ++k) wanted[k] = impl.indices[static_cast<size_t>(positions[k])];
    raw = impl.split->read(wanted);
  }

  detail::Rng rng(detail::hash_words(detail::Domain::loader_augment,
                                     {impl.options.seed, impl.options.stream, static_cast<uint64_t>(epoch),
                                      static_cast<uint64_t>(index)}));
  auto images = detail::augment(raw, impl.options.augment, impl.options.train, rng);
  return {detail::normalise(images, impl.info.mean, impl.info.std).contiguous(), at::tensor(labels, at::kLong)};
}

Augment default_augment(const DatasetInfo& info) {
  if (info.name == "cifar10" || info.name == "cifar100") return Augment::crop_flip;
  if (info.name == "hdf5") {
    // ImageNet-scale sets (packed at 224 pixels or more) get the ImageNet recipe; small colour images the CIFAR
    // one; anything else (e.g. greyscale digits, where flips change the meaning) none.
    if (std::min(info.height, info.width) >= 224) return Augment::resized_crop;
    if (info.channels == 3) return Augment::crop_flip;
  }
  return Augment::none;
}

}  // namespace mesl::data
