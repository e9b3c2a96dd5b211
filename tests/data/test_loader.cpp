// The loader: seeded orders, batch sizes, augmentation and normalisation, streaming and in-memory splits.
#include <doctest/doctest.h>

#include <algorithm>
#include <numeric>

#include "fixtures.h"
#include "mesl/data/loader.h"
#include "mesl/error.h"

using namespace mesl::data;
using namespace mesl::data::test;

namespace {

LoaderOptions loader_options(int64_t batch, uint64_t seed = 1, uint64_t stream = 0) {
  LoaderOptions options;
  options.batch_size = batch;
  options.seed = seed;
  options.stream = stream;
  return options;
}

std::vector<int64_t> range(int64_t begin, int64_t end) {
  std::vector<int64_t> all(static_cast<size_t>(end - begin));
  std::iota(all.begin(), all.end(), begin);
  return all;
}

// The sample ids of a MemorySplit batch (its pixels hold id % 256; mean 0 and std 1 keep pixel / 255).
std::vector<int64_t> ids_of(const Batch& batch) {
  const auto ids = batch.images.select(1, 0).select(1, 0).select(1, 0).mul(255).round().to(at::kLong);
  return std::vector<int64_t>(ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + ids.numel());
}

std::vector<int64_t> epoch_ids(const Loader& loader, int64_t epoch) {
  std::vector<int64_t> all;
  for (int64_t b = 0; b < loader.num_batches(); ++b) {
    const auto ids = ids_of(loader.batch(epoch, b));
    all.insert(all.end(), ids.begin(), ids.end());
  }
  return all;
}

DatasetOptions synthetic(int64_t n, int64_t channels, int64_t side) {
  DatasetOptions options;
  options.name = "synthetic";
  options.synthetic_train = n;
  options.synthetic_test = 0;
  options.synthetic_channels = channels;
  options.synthetic_image_size = side;
  options.seed = 3;
  return options;
}

bool same_batch(const Batch& a, const Batch& b) {
  return at::equal(a.images, b.images) && at::equal(a.labels, b.labels);
}

}  // namespace

TEST_CASE("loader: every sample once per epoch, batch sizes and counts, bad options") {
  for (const int64_t n : {0, 1, 5, 64, 100}) {
    for (const int64_t batch : {1, 7, 64}) {
      for (const bool drop_last : {false, true}) {
        CAPTURE(n);
        CAPTURE(batch);
        CAPTURE(drop_last);
        const MemorySplit split(n + 10, 1, 2, 3);
        auto options = loader_options(batch);
        options.drop_last = drop_last;
        const Loader loader(split, split.info(), range(5, 5 + n), options);  // the shard skips a few samples
        CHECK(loader.size() == n);
        const int64_t expected = drop_last ? n / batch : (n + batch - 1) / batch;
        REQUIRE(loader.num_batches() == expected);
        for (int64_t epoch : {0, 1}) {
          std::vector<int64_t> seen;
          for (int64_t b = 0; b < expected; ++b) {
            const Batch out = loader.batch(epoch, b);
            const bool last = b == expected - 1;
            const int64_t size = last && !drop_last && n % batch != 0 ? n % batch : batch;
            CHECK(out.images.sizes() == at::IntArrayRef({size, 1, 2, 3}));
            CHECK(out.images.dtype() == at::kFloat);
            CHECK(out.labels.dtype() == at::kLong);
            const auto ids = ids_of(out);
            for (size_t k = 0; k < ids.size(); ++k)
              CHECK(out.labels[static_cast<int64_t>(k)].item<int64_t>() == ids[k] % 10);
            seen.insert(seen.end(), ids.begin(), ids.end());
          }
          std::sort(seen.begin(), seen.end());
          CHECK(std::adjacent_find(seen.begin(), seen.end()) == seen.end());  // no sample twice
          CHECK(static_cast<int64_t>(seen.size()) == (drop_last ? n / batch * batch : n));
          CHECK(std::all_of(seen.begin(), seen.end(), [&](int64_t id) { return id >= 5 && id < 5 + n; }));
        }
        CHECK(message_of<mesl::DataError>([&] { loader.batch(0, expected); }).find("is out of range for a loader") !=
              std::string::npos);
        CHECK_THROWS_AS(loader.batch(-1, 0), mesl::DataError);
      }
    }
  }
  {  // loader: bad options and indices
    const MemorySplit split(10, 1, 1, 1);
    CHECK(message_of<mesl::ConfigError>([&] { Loader(split, split.info(), range(0, 10), loader_options(0)); }) ==
          "the batch size must be at least 1; got 0");
    CHECK(message_of<mesl::DataError>([&] { Loader(split, split.info(), {0, 10}, loader_options(4)); })
              .find("index 10 is out of range") == 0);
    CHECK(Loader(split, split.info(), {}, loader_options(4)).num_batches() == 0);
  }
}

TEST_CASE("loader: orders are seeded per (seed, stream, epoch)") {
  const MemorySplit split(200, 1, 1, 1);
  const auto indices = range(0, 200);
  const Loader a(split, split.info(), indices, loader_options(32, 7, 1));
  const Loader b(split, split.info(), indices, loader_options(32, 7, 1));
  // The same batches from a second loader, asked in another order (the cached permutation must not leak).
  for (const auto& [epoch, index] : std::vector<std::pair<int64_t, int64_t>>{{3, 6}, {0, 0}, {3, 1}, {1, 2}, {0, 6}})
    CHECK(same_batch(a.batch(epoch, index), b.batch(epoch, index)));
  CHECK(b.batch(3, 6).images.size(0) == 200 - 6 * 32);

  const auto epoch0 = epoch_ids(a, 0);
  CHECK(epoch0 != epoch_ids(a, 1));
  CHECK(epoch0 != range(0, 200));  // shuffled
  CHECK(epoch_ids(a, 0) == epoch0);
  CHECK(epoch_ids(Loader(split, split.info(), indices, loader_options(32, 7, 2)), 0) != epoch0);
  CHECK(epoch_ids(Loader(split, split.info(), indices, loader_options(32, 8, 1)), 0) != epoch0);
  // The epoch order depends on the shard, not on the batch size: other batch sizes cut the same sequence.
  CHECK(epoch_ids(Loader(split, split.info(), indices, loader_options(13, 7, 1)), 0) == epoch0);

  auto ordered = loader_options(32, 7, 1);
  ordered.shuffle = false;
  const Loader sequential(split, split.info(), range(50, 150), ordered);
  CHECK(epoch_ids(sequential, 0) == range(50, 150));
  CHECK(epoch_ids(sequential, 4) == range(50, 150));
}

TEST_CASE("loader: normalisation with the dataset's mean and std, default augmentation") {
  const auto split = open_split(synthetic(20, 3, 8), true);
  const auto info = dataset_info(synthetic(20, 3, 8));
  auto options = loader_options(20);
  options.shuffle = false;
  const Loader loader(*split, info, range(0, 20), options);
  const auto raw = split->read(range(0, 20)).to(at::kFloat) / 255;
  const auto expected = (raw - 0.5) / 0.25;
  CHECK(at::allclose(loader.batch(0, 0).images, expected, 1e-6, 1e-6));
  CHECK(at::equal(loader.batch(0, 0).labels, at::tensor(split->labels(), at::kLong)));
  {  // default augmentation per dataset
    DatasetInfo described;
    described.channels = 3;
    described.height = described.width = 32;
    for (const char* name : {"cifar10", "cifar100"}) {
      described.name = name;
      CHECK(default_augment(described) == Augment::crop_flip);
    }
    described.name = "hdf5";
    CHECK(default_augment(described) == Augment::crop_flip);
    described.height = described.width = 256;
    CHECK(default_augment(described) == Augment::resized_crop);
    described.channels = 1;
    described.height = described.width = 28;
    CHECK(default_augment(described) == Augment::none);
    for (const char* name : {"fashion-mnist", "mnist", "synthetic"}) {
      described.name = name;
      CHECK(default_augment(described) == Augment::none);
    }
  }
}

TEST_CASE("loader: crop_flip takes seeded padded crops and flips") {
  const auto split = open_split(synthetic(24, 3, 32), true);
  const auto info = dataset_info(synthetic(24, 3, 32));
  auto options = loader_options(8, 5);
  options.shuffle = false;
  options.augment = Augment::crop_flip;
  const Loader loader(*split, info, range(0, 24), options);
  const Loader again(*split, info, range(0, 24), options);

  const Batch batch = loader.batch(0, 1);
  CHECK(batch.images.sizes() == at::IntArrayRef({8, 3, 32, 32}));
  CHECK(same_batch(batch, again.batch(0, 1)));
  CHECK_FALSE(at::equal(batch.images, loader.batch(1, 1).images));

  // Every sample is one of the 9 x 9 x 2 crops of its zero-padded image.
  const auto raw = split->read(range(8, 16)).to(at::kFloat) / 255;
  const auto padded = at::constant_pad_nd(raw, {4, 4, 4, 4}, 0.0);
  const auto mean = at::tensor(info.mean).view({3, 1, 1}), std = at::tensor(info.std).view({3, 1, 1});
  int identity = 0, flipped = 0;
  for (int64_t k = 0; k < 8; ++k) {
    const auto image = batch.images[k] * std + mean;
    bool found = false;
    for (int64_t top = 0; top <= 8 && !found; ++top) {
      for (int64_t left = 0; left <= 8 && !found; ++left) {
        const auto crop = padded[k].narrow(1, top, 32).narrow(2, left, 32);
        if (at::allclose(image, crop, 1e-5, 1e-5)) {
          found = true;
          identity += top == 4 && left == 4;
        } else if (at::allclose(image, crop.flip({2}), 1e-5, 1e-5)) {
          found = true;
          ++flipped;
        }
      }
    }
    CHECK(found);
  }
  CHECK(identity < 8);  // random offsets, not the identity crop every time
  CHECK(flipped < 8);

  // Evaluation does not augment.
  options.train = false;
  const Loader eval(*split, info, range(0, 24), options);
  options.augment = Augment::none;
  const Loader plain(*split, info, range(0, 24), options);
  CHECK(same_batch(eval.batch(0, 1), plain.batch(0, 1)));
}

TEST_CASE("loader: resized_crop gives 224 pixels, random in training and centred in evaluation") {
  const auto options_256 = synthetic(4, 3, 256);
  const auto split = open_split(options_256, true);
  const auto info = dataset_info(options_256);
  auto options = loader_options(4, 2);
  options.shuffle = false;
  options.augment = Augment::resized_crop;
  const Loader train(*split, info, range(0, 4), options);
  const Batch batch = train.batch(0, 0);
  CHECK(batch.images.sizes() == at::IntArrayRef({4, 3, 224, 224}));
  CHECK(same_batch(batch, Loader(*split, info, range(0, 4), options).batch(0, 0)));
  CHECK_FALSE(at::equal(batch.images, train.batch(1, 0).images));
  // Bilinear interpolation with non-negative weights stays within the input's range.
  const auto unnormalised = batch.images * 0.25 + 0.5;
  const auto raw = split->read(range(0, 4)).to(at::kFloat) / 255;
  CHECK(unnormalised.min().item<float>() >= raw.min().item<float>() - 1e-5);
  CHECK(unnormalised.max().item<float>() <= raw.max().item<float>() + 1e-5);

  // Evaluation on 256 x 256: the resize is the identity, then the centre 224 x 224.
  options.train = false;
  const Loader eval(*split, info, range(0, 4), options);
  const auto centre = raw.narrow(2, 16, 224).narrow(3, 16, 224);
  CHECK(at::allclose(eval.batch(0, 0).images * 0.25 + 0.5, centre, 1e-5, 1e-5));

  // Non-square and small images: a constant image stays constant, at 224 x 224, in both modes.
  const MemorySplit small(3, 2, 30, 41);
  for (const bool is_train : {true, false}) {
    options.train = is_train;
    const Batch out = Loader(small, small.info(), {0, 1, 2}, options).batch(0, 0);
    CHECK(out.images.sizes() == at::IntArrayRef({3, 2, 224, 224}));
    for (int64_t k = 0; k < 3; ++k) {
      const int64_t id = ids_of(Batch{out.images.narrow(0, k, 1), out.labels})[0];
      CHECK(at::allclose(out.images[k], at::full({2, 224, 224}, static_cast<float>(id) / 255.0f), 1e-5, 1e-5));
    }
  }
}

TEST_CASE("loader: a streaming HDF5 split gives the same batches as an in-memory read") {
  TempDir dir;
  write_hdf5_split(dir / "train.h5", 45, 9, 9, 3, 6, 8);
  write_hdf5_split(dir / "test.h5", 5, 9, 9, 3, 6);
  DatasetOptions options;
  options.name = "hdf5";
  options.dir = dir.path().string();
  const auto info = dataset_info(options);
  const auto split = open_split(options, true);
  REQUIRE(split->streaming());
  const InMemoryView memory(*split);
  auto loader_opts = loader_options(16, 4, 2);
  loader_opts.augment = default_augment(info);
  CHECK(loader_opts.augment == Augment::crop_flip);
  const std::vector<int64_t> shard{1, 2, 3, 5, 8, 13, 21, 34, 40, 41, 42, 43, 44, 0, 7, 9, 10, 11, 12, 30, 31};
  const Loader streamed(*split, info, shard, loader_opts);
  const Loader in_memory(memory, info, shard, loader_opts);
  REQUIRE(streamed.num_batches() == 2);
  for (int64_t epoch : {0, 1})
    for (int64_t b = 0; b < streamed.num_batches(); ++b)
      CHECK(same_batch(streamed.batch(epoch, b), in_memory.batch(epoch, b)));
}

