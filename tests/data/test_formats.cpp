// Dataset readers on small files in the real formats (IDX raw and gzip, CIFAR-10/100 binary, HDF5 image sets),
// the real Fashion-MNIST from Debian's package, and the errors a broken dataset gives.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>

#include "fixtures.h"
#include "mesl/data/dataset.h"
#include "mesl/error.h"
#include "mesl/h5/h5.h"

using namespace mesl::data;
using namespace mesl::data::test;

namespace {

DatasetOptions options_for(const std::string& name, const std::string& dir) {
  DatasetOptions options;
  options.name = name;
  options.dir = dir;
  return options;
}

// Every pixel of `images` (uint8 [n, C, H, W]) equals the fixture pattern of sample indices[k], where the pattern
// runs over the bytes of a sample in the order `position(c, y, x)` gives.
template <typename Position>
void check_pattern(const at::Tensor& images, const std::vector<int64_t>& indices, Position position) {
  REQUIRE(images.size(0) == static_cast<int64_t>(indices.size()));
  const auto acc = images.accessor<uint8_t, 4>();
  int64_t wrong = 0;
  for (int64_t k = 0; k < images.size(0); ++k)
    for (int64_t c = 0; c < images.size(1); ++c)
      for (int64_t y = 0; y < images.size(2); ++y)
        for (int64_t x = 0; x < images.size(3); ++x)
          wrong += acc[k][c][y][x] != pattern(indices[static_cast<size_t>(k)], position(c, y, x));
  CHECK(wrong == 0);
}

void check_labels(const Split& split, int64_t classes, int64_t first = 0) {
  for (int64_t i = 0; i < split.size(); ++i)
    CHECK(split.labels()[static_cast<size_t>(i)] == pattern_label(first + i, classes));
}

// An index list with repeats, out of order, for a split of `n` samples.
std::vector<int64_t> scattered(int64_t n) {
  if (n == 0) return {};
  return {n - 1, 0, n / 2, n - 1, n / 3, 0};
}

}  // namespace

TEST_CASE("dataset names and unknown names") {
  const auto& names = dataset_names();
  for (const char* name : {"fashion-mnist", "mnist", "cifar10", "cifar100", "hdf5", "synthetic"})
    CHECK(std::find(names.begin(), names.end(), name) != names.end());
  const auto message = message_of<mesl::ConfigError>([] { dataset_info(options_for("imagenet21k", "/tmp")); });
  CHECK(message.find("unknown dataset 'imagenet21k'; use one of: fashion-mnist, mnist, cifar10") == 0);
  CHECK_THROWS_AS(open_split(options_for("", "/tmp"), true), mesl::ConfigError);
}

TEST_CASE("idx sets read raw and gzip at any indices") {
  for (const bool gzip : {false, true}) {
    for (const int64_t n : {0, 1, 37}) {
      CAPTURE(gzip);
      CAPTURE(n);
      TempDir dir;
      write_idx_set(dir.path().string(), n, n + 3, gzip);
      for (const char* name : {"fashion-mnist", "mnist"}) {
        const auto info = dataset_info(options_for(name, dir.path().string()));
        CHECK(info.name == name);
        CHECK(info.channels == 1);
        CHECK(info.height == 28);
        CHECK(info.width == 28);
        CHECK(info.num_classes == 10);
        CHECK(info.train_size == n);
        CHECK(info.test_size == n + 3);
        REQUIRE(info.mean.size() == 1);
        CHECK(info.mean[0] == doctest::Approx(std::string(name) == "mnist" ? 0.1307 : 0.2860));
        CHECK(info.std[0] == doctest::Approx(std::string(name) == "mnist" ? 0.3081 : 0.3530));
      }
      const auto position = [](int64_t, int64_t y, int64_t x) { return y * 28 + x; };
      for (const bool train : {true, false}) {
        const auto split = open_split(options_for("fashion-mnist", dir.path().string()), train);
        const int64_t size = train ? n : n + 3;
        CHECK(split->size() == size);
        CHECK_FALSE(split->streaming());
        check_labels(*split, 10);
        std::vector<int64_t> all(static_cast<size_t>(size));
        for (int64_t i = 0; i < size; ++i) all[static_cast<size_t>(i)] = i;
        const auto images = split->read(all);
        CHECK(images.dtype() == at::kByte);
        CHECK(images.sizes() == at::IntArrayRef({size, 1, 28, 28}));
        check_pattern(images, all, position);
        check_pattern(split->read(scattered(size)), scattered(size), position);
        CHECK(split->read({}).sizes() == at::IntArrayRef({0, 1, 28, 28}));
        CHECK(message_of<mesl::DataError>([&] { split->read({size}); }).find("out of range") != std::string::npos);
        CHECK(message_of<mesl::DataError>([&] { split->read({-1}); }).find("out of range") != std::string::npos);
      }
    }
  }
}

namespace {

// Runs `scenario(dir, gzip, suffix)` for raw and for gzip files, each time in a fresh directory.
template <typename Scenario>
void raw_and_gzip(Scenario scenario) {
  for (const bool gzip : {false, true}) {
    CAPTURE(gzip);
    TempDir dir;
    scenario(dir, gzip, std::string(gzip ? ".gz" : ""));
  }
}

std::string info_error(const TempDir& dir) {
  return message_of<mesl::DataError>([&] { dataset_info(options_for("fashion-mnist", dir.path().string())); });
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("idx errors: missing directory and files") {
  TempDir dir;
  const auto message = message_of<mesl::DataError>([&] { dataset_info(options_for("fashion-mnist", dir / "nope")); });
  CHECK(message == "dataset directory " + (dir / "nope") +
                       " does not exist; pass --data-dir or install dataset-fashion-mnist");
  CHECK(contains(message_of<mesl::DataError>([&] { open_split(options_for("mnist", dir / "nope"), true); }),
                 "does not exist; pass --data-dir"));
  CHECK_THROWS_AS(dataset_info(options_for("mnist", "")), mesl::ConfigError);

  write_idx_set(dir.path().string(), 4, 4, false);
  std::filesystem::remove(dir / "t10k-labels-idx1-ubyte");
  CHECK(info_error(dir).find("missing file " + (dir / "t10k-labels-idx1-ubyte") + "[.gz]") == 0);
  CHECK(contains(info_error(dir), "train-images-idx3-ubyte, train-labels-idx1-ubyte"));
  // The training split alone still opens.
  CHECK(open_split(options_for("fashion-mnist", dir.path().string()), true)->size() == 4);
}

TEST_CASE("idx errors: broken files, raw and gzip") {
  raw_and_gzip([](const TempDir& dir, bool gzip, const std::string& suffix) {
    write_idx_set(dir.path().string(), 5, 2, gzip);
    auto bytes = idx_images(5);
    bytes.resize(bytes.size() - 100);
    write_file(dir / ("train-images-idx3-ubyte" + suffix), bytes, gzip);
    CHECK(contains(info_error(dir), "is truncated: expected 3936"));
    CHECK(contains(info_error(dir), "found 3836"));
    CHECK(contains(info_error(dir), "download it again"));
  });
  {  // a gzip stream cut short (not just a short file inside a complete stream)
    TempDir dir;
    write_idx_set(dir.path().string(), 50, 2, true);
    auto bytes = read_file(dir / "train-images-idx3-ubyte.gz");
    bytes.resize(bytes.size() / 2);
    write_file(dir / "train-images-idx3-ubyte.gz", bytes);
    CHECK(contains(info_error(dir), "is truncated: expected 39216 bytes after decompression"));
  }
  raw_and_gzip([](const TempDir& dir, bool gzip, const std::string& suffix) {
    write_idx_set(dir.path().string(), 3, 2, gzip);
    write_file(dir / ("t10k-labels-idx1-ubyte" + suffix), idx_labels(2, 0x803), gzip);
    CHECK(contains(info_error(dir), "is not an IDX label file: magic number 0x803 instead of 0x801"));
    write_file(dir / ("train-images-idx3-ubyte" + suffix), idx_images(3, 28, 28, 0x801), gzip);
    CHECK(contains(info_error(dir), "is not an IDX image file"));
  });
  raw_and_gzip([](const TempDir& dir, bool gzip, const std::string& suffix) {
    write_idx_set(dir.path().string(), 3, 2, gzip);
    write_file(dir / ("train-images-idx3-ubyte" + suffix), idx_images(3, 32, 28), gzip);
    CHECK(contains(info_error(dir), "holds 32x28 images; expected 28x28"));
  });
  raw_and_gzip([](const TempDir& dir, bool gzip, const std::string& suffix) {
    write_idx_set(dir.path().string(), 3, 2, gzip);
    auto labels = idx_labels(3);
    labels[8 + 1] = 10;
    write_file(dir / ("train-labels-idx1-ubyte" + suffix), labels, gzip);
    CHECK(contains(info_error(dir), "label 10 at index 1 is out of range [0, 10)"));
  });
  raw_and_gzip([](const TempDir& dir, bool gzip, const std::string& suffix) {
    write_idx_set(dir.path().string(), 3, 2, gzip);
    write_file(dir / ("train-labels-idx1-ubyte" + suffix), idx_labels(4), gzip);
    CHECK(contains(info_error(dir), "holds 3 images but"));
    CHECK(contains(info_error(dir), "holds 4 labels; the files do not belong together"));
  });
  raw_and_gzip([](const TempDir& dir, bool gzip, const std::string& suffix) {
    write_idx_set(dir.path().string(), 3, 2, gzip);
    auto labels = idx_labels(2);
    labels.push_back(0);
    write_file(dir / ("t10k-labels-idx1-ubyte" + suffix), labels, gzip);
    CHECK(contains(info_error(dir), "has 11 bytes but its header implies 10"));
  });
}

TEST_CASE("the real Fashion-MNIST from dataset-fashion-mnist") {
  DatasetOptions options;  // the default: fashion-mnist at /usr/share/datasets/fashion-mnist
  const auto info = dataset_info(options);
  CHECK(info.train_size == 60000);
  CHECK(info.test_size == 10000);
  CHECK(info.height == 28);
  CHECK(info.width == 28);
  for (const bool train : {true, false}) {
    const auto split = open_split(options, train);
    std::vector<int64_t> histogram(10, 0);
    for (const int64_t label : split->labels()) ++histogram.at(static_cast<size_t>(label));
    for (const int64_t count : histogram) CHECK(count == (train ? 6000 : 1000));
    // Known facts of the files (checked with numpy): labels, and pixel sums of the first, second and last images.
    CHECK(split->labels()[0] == 9);
    CHECK(split->labels()[1] == (train ? 0 : 2));
    CHECK(split->labels().back() == 5);
    const int64_t last = split->size() - 1;
    const auto images = split->read({last, 0, 1});
    CHECK(images.sizes() == at::IntArrayRef({3, 1, 28, 28}));
    CHECK(images[0].sum().item<int64_t>() == (train ? 16684 : 24390));
    CHECK(images[1].sum().item<int64_t>() == (train ? 76247 : 33456));
    CHECK(images[2].sum().item<int64_t>() == (train ? 84598 : 100994));
    CHECK(images[1][0][14][14].item<int>() == (train ? 217 : 110));
  }
}

TEST_CASE("cifar10 and cifar100 read their batches from the folder or its parent") {
  TempDir dir;
  const std::string folder = dir / "cifar-10-batches-bin";
  make_dir(folder);
  const std::vector<int64_t> counts{2, 3, 1, 4, 2};  // uneven on purpose: indices must cross files correctly
  int64_t first = 0;
  for (size_t b = 0; b < counts.size(); ++b) {
    write_file(folder + "/data_batch_" + std::to_string(b + 1) + ".bin", cifar_records(counts[b], first, 1, 10));
    first += counts[b];
  }
  write_file(folder + "/test_batch.bin", cifar_records(3, 0, 1, 10));
  const auto position = [](int64_t c, int64_t y, int64_t x) { return c * 1024 + y * 32 + x; };

  for (const std::string& where : {dir.path().string(), folder}) {
    const auto info = dataset_info(options_for("cifar10", where));
    CHECK(info.channels == 3);
    CHECK(info.height == 32);
    CHECK(info.num_classes == 10);
    CHECK(info.train_size == 12);
    CHECK(info.test_size == 3);
    CHECK(info.mean == std::vector<float>{0.4914f, 0.4822f, 0.4465f});
    CHECK(info.std == std::vector<float>{0.2470f, 0.2435f, 0.2616f});
    const auto train = open_split(options_for("cifar10", where), true);
    CHECK(train->size() == 12);
    check_labels(*train, 10);
    const std::vector<int64_t> indices{11, 0, 1, 2, 5, 6, 5, 9, 10};
    const auto images = train->read(indices);
    CHECK(images.sizes() == at::IntArrayRef({9, 3, 32, 32}));
    check_pattern(images, indices, position);
    const auto test = open_split(options_for("cifar10", where), false);
    check_labels(*test, 10);
    check_pattern(test->read(scattered(3)), scattered(3), position);
  }
  {  // cifar100 uses the fine label
    TempDir c100;
    write_file(c100 / "train.bin", cifar_records(7, 0, 2, 100));
    write_file(c100 / "test.bin", cifar_records(5, 0, 2, 100));
    const auto info = dataset_info(options_for("cifar100", c100.path()));
    CHECK(info.num_classes == 100);
    CHECK(info.train_size == 7);
    CHECK(info.test_size == 5);
    CHECK(info.mean == std::vector<float>{0.5071f, 0.4865f, 0.4409f});
    const auto train = open_split(options_for("cifar100", c100.path()), true);
    check_labels(*train, 100);
    check_pattern(train->read(scattered(7)), scattered(7),
                  [](int64_t c, int64_t y, int64_t x) { return c * 1024 + y * 32 + x; });
  }
}

TEST_CASE("cifar errors") {
  TempDir dir;
  const auto info = [&](const char* name) { return [&dir, name] { dataset_info(options_for(name, dir.path().string())); }; };
  SUBCASE("missing file") {
    for (int b = 1; b <= 4; ++b)
      write_file(dir / ("data_batch_" + std::to_string(b) + ".bin"), cifar_records(1, 0, 1, 10));
    const auto message = message_of<mesl::DataError>(info("cifar10"));
    CHECK(message.find("missing file " + (dir / "data_batch_5.bin")) == 0);
    CHECK(message.find("data_batch_1.bin, data_batch_2.bin") != std::string::npos);
    CHECK(message.find("test_batch.bin") != std::string::npos);
    CHECK(message_of<mesl::DataError>(info("cifar100")).find("missing file " + (dir / "train.bin")) == 0);
  }
  SUBCASE("truncated file") {
    auto records = cifar_records(3, 0, 2, 100);
    records.resize(records.size() - 5);
    write_file(dir / "train.bin", records);
    write_file(dir / "test.bin", cifar_records(1, 0, 2, 100));
    const auto message = message_of<mesl::DataError>(info("cifar100"));
    CHECK(message.find("is truncated: 9217 bytes is not a whole number of 3074-byte records") != std::string::npos);
    CHECK(message.find("download it again") != std::string::npos);
    write_file(dir / "train.bin", {});
    CHECK(message_of<mesl::DataError>(info("cifar100")).find("is empty") != std::string::npos);
  }
  SUBCASE("label out of range") {
    auto records = cifar_records(3, 0, 2, 100);
    records[3074 * 2 + 1] = 100;  // the fine label of record 2
    write_file(dir / "train.bin", records);
    write_file(dir / "test.bin", cifar_records(1, 0, 2, 100));
    const auto message = message_of<mesl::DataError>([&] { open_split(options_for("cifar100", dir.path().string()), true); });
    CHECK(message.find("label 100 of record 2 is out of range [0, 100)") != std::string::npos);
  }
}

TEST_CASE("hdf5 image sets stream rows and transpose to channels first") {
  struct Case {
    int64_t n, h, w, c, chunk_rows, attribute;
  };
  for (const Case& shape : {Case{0, 4, 4, 3, 0, 5}, Case{1, 5, 3, 1, 0, 0}, Case{17, 6, 7, 3, 4, 0},
                            Case{700, 2, 3, 2, 64, 12}}) {
    CAPTURE(shape.n);
    TempDir dir;
    // Train labels use 5 classes; the test split's first label comes from them too.
    write_hdf5_split(dir / "train.h5", std::max<int64_t>(shape.n, 1), shape.h, shape.w, shape.c, 5,
                     shape.chunk_rows, shape.attribute);
    write_hdf5_split(dir / "test.h5", shape.n, shape.h, shape.w, shape.c, 5, shape.chunk_rows, shape.attribute);
    const auto info = dataset_info(options_for("hdf5", dir.path().string()));
    CHECK(info.channels == shape.c);
    CHECK(info.height == shape.h);
    CHECK(info.width == shape.w);
    const int64_t train_n = std::max<int64_t>(shape.n, 1);
    // num_classes: the attribute when present, else the largest train label + 1.
    int64_t largest = 0;
    for (int64_t i = 0; i < train_n; ++i) largest = std::max(largest, pattern_label(i, 5));
    CHECK(info.num_classes == (shape.attribute > 0 ? shape.attribute : largest + 1));
    CHECK(info.train_size == train_n);
    CHECK(info.test_size == shape.n);
    CHECK(info.mean.size() == static_cast<size_t>(shape.c));
    if (shape.c == 3) CHECK(info.mean == std::vector<float>{0.485f, 0.456f, 0.406f});
    if (shape.c != 3) CHECK(info.std == std::vector<float>(static_cast<size_t>(shape.c), 0.25f));

    const auto split = open_split(options_for("hdf5", dir.path().string()), false);
    CHECK(split->streaming());
    CHECK(split->size() == shape.n);
    check_labels(*split, 5);
    // Stored N x H x W x C: byte p of a sample sits at (y * W + x) * C + c.
    const auto position = [&](int64_t c, int64_t y, int64_t x) { return (y * shape.w + x) * shape.c + c; };
    const auto images = split->read(scattered(shape.n));
    const auto count = static_cast<int64_t>(scattered(shape.n).size());
    CHECK(images.sizes() == at::IntArrayRef({count, shape.c, shape.h, shape.w}));
    check_pattern(images, scattered(shape.n), position);
    // Many separate runs of rows (more than one read's worth), in reverse order, plus a contiguous block.
    std::vector<int64_t> many;
    for (int64_t i = shape.n - 1; i >= 0; i -= 2) many.push_back(i);
    for (int64_t i = 0; i < std::min<int64_t>(shape.n, 10); ++i) many.push_back(i);
    check_pattern(split->read(many), many, position);
  }
}

TEST_CASE("hdf5 errors") {
  TempDir dir;
  const auto info = [&] { dataset_info(options_for("hdf5", dir.path().string())); };
  SUBCASE("missing file") {
    write_hdf5_split(dir / "train.h5", 3, 2, 2, 1, 3);
    const auto message = message_of<mesl::DataError>(info);
    CHECK(message.find("missing file " + (dir / "test.h5")) == 0);
    CHECK(message.find("data/pack_hdf5.py") != std::string::npos);
    CHECK_THROWS_AS(dataset_info(options_for("hdf5", "")), mesl::ConfigError);
  }
  SUBCASE("not an HDF5 file") {
    write_hdf5_split(dir / "train.h5", 3, 2, 2, 1, 3);
    write_file(dir / "test.h5", {1, 2, 3, 4});
    CHECK(message_of<mesl::DataError>(info).find("cannot read HDF5 image set " + (dir / "test.h5")) == 0);
  }
  SUBCASE("wrong image type") {
    write_hdf5_split(dir / "train.h5", 3, 2, 2, 1, 3);
    {
      mesl::h5::File file(dir / "test.h5", mesl::h5::Mode::create_truncate);
      file.write_tensor("images", at::zeros({3, 2, 2, 1}, at::kFloat));
      file.write_tensor("labels", at::zeros({3}, at::kLong));
    }
    CHECK(message_of<mesl::DataError>(info).find("'images' must be uint8 with shape N x H x W x C") !=
          std::string::npos);
  }
  SUBCASE("labels and images disagree") {
    write_hdf5_split(dir / "train.h5", 3, 2, 2, 1, 3);
    {
      mesl::h5::File file(dir / "test.h5", mesl::h5::Mode::create_truncate);
      file.write_tensor("images", at::zeros({3, 2, 2, 1}, at::kByte));
      file.write_tensor("labels", at::zeros({4}, at::kInt));
    }
    CHECK(message_of<mesl::DataError>(info).find("holds 3 images but 'labels' has shape [4]") != std::string::npos);
  }
  SUBCASE("label out of range for num_classes") {
    write_hdf5_split(dir / "train.h5", 3, 2, 2, 1, 3, 0, 2);  // labels 0..2 but num_classes = 2
    write_hdf5_split(dir / "test.h5", 1, 2, 2, 1, 3, 0, 2);
    CHECK(message_of<mesl::DataError>(info).find("label 2 at index 2 is out of range [0, 2)") != std::string::npos);
  }
  SUBCASE("splits of different sizes") {
    write_hdf5_split(dir / "train.h5", 3, 2, 2, 1, 3);
    write_hdf5_split(dir / "test.h5", 3, 3, 2, 1, 3);
    CHECK(message_of<mesl::DataError>(info).find("pack both splits at the same size") != std::string::npos);
  }
}
