// Fashion-MNIST and MNIST in the IDX format (http://yann.lecun.com/exdb/mnist/): a big-endian header (magic,
// count, rows, cols) followed by one byte per pixel or label. Files may be gzip-compressed (Debian ships them so).
#include "files.h"
#include "formats.h"
#include "mesl/error.h"

namespace mesl::data::detail {
namespace {

constexpr uint32_t kImageMagic = 0x00000803;
constexpr uint32_t kLabelMagic = 0x00000801;
constexpr int64_t kImageHeader = 16;
constexpr int64_t kLabelHeader = 8;
constexpr int64_t kSide = 28;
constexpr int64_t kClasses = 10;

const char* kExpectedFiles =
    "train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte "
    "(each optionally .gz)";

uint32_t big_endian(const std::vector<uint8_t>& bytes, size_t at) {
  return static_cast<uint32_t>(bytes[at]) << 24 | static_cast<uint32_t>(bytes[at + 1]) << 16 |
         static_cast<uint32_t>(bytes[at + 2]) << 8 | static_cast<uint32_t>(bytes[at + 3]);
}

// One IDX file, found under its plain or .gz name (the plain one first: it can be read at any row).
struct IdxFile {
  std::string path;
  bool gzip = false;
};

IdxFile find_file(const std::string& dir, const std::string& base) {
  const std::string plain = dir + "/" + base;
  if (file_exists(plain)) return {plain, false};
  if (file_exists(plain + ".gz")) return {plain + ".gz", true};
  throw DataError(::mesl::detail::concat("missing file ", plain, "[.gz]; the dataset directory must hold ",
                                         kExpectedFiles));
}

// The first `count` bytes, decompressed if needed; short files are reported as truncated.
std::vector<uint8_t> read_head(const IdxFile& file, int64_t count) {
  return file.gzip ? read_gzip(file.path, count) : read_raw(file.path, 0, count);
}

int64_t content_size(const IdxFile& file, int64_t expected) {
  return file.gzip ? gzip_uncompressed_size(file.path, expected) : file_size(file.path);
}

void check_magic(const IdxFile& file, uint32_t magic, uint32_t expected, const char* kind) {
  MESL_CHECK(magic == expected, DataError, file.path, " is not an IDX ", kind, " file: magic number 0x", std::hex,
             magic, " instead of 0x", expected, std::dec, "; check that the file is the right one and not corrupt");
}

void check_size(const IdxFile& file, int64_t expected) {
  const int64_t actual = content_size(file, expected);
  const char* what = file.gzip ? " bytes after decompression" : " bytes";
  MESL_CHECK(actual >= expected, DataError, file.path, " is truncated: expected ", expected, what, ", found ",
             actual, "; download it again");
  MESL_CHECK(actual == expected, DataError, file.path, " has ", actual, what, " but its header implies ", expected,
             "; the file is corrupt, download it again");
}

class IdxSplit final : public Split {
 public:
  IdxSplit(const std::string& dir, bool train) {
    const std::string prefix = train ? "train" : "t10k";
    images_ = find_file(dir, prefix + "-images-idx3-ubyte");
    const IdxFile labels = find_file(dir, prefix + "-labels-idx1-ubyte");

    const auto header = read_head(images_, kImageHeader);
    check_magic(images_, big_endian(header, 0), kImageMagic, "image");
    size_ = big_endian(header, 4);
    const int64_t rows = big_endian(header, 8), cols = big_endian(header, 12);
    MESL_CHECK(rows == kSide && cols == kSide, DataError, images_.path, " holds ", rows, "x", cols,
               " images; expected 28x28 (Fashion-MNIST or MNIST)");
    check_size(images_, kImageHeader + size_ * kSide * kSide);

    const auto label_bytes =
        labels.gzip ? read_gzip(labels.path) : read_raw(labels.path, 0, file_size(labels.path));
    MESL_CHECK(static_cast<int64_t>(label_bytes.size()) >= kLabelHeader, DataError, labels.path,
               " is truncated: expected at least 8 bytes, found ", label_bytes.size(), "; download it again");
    check_magic(labels, big_endian(label_bytes, 0), kLabelMagic, "label");
    const int64_t label_count = big_endian(label_bytes, 4);
    MESL_CHECK(label_count == size_, DataError, images_.path, " holds ", size_, " images but ", labels.path,
               " holds ", label_count, " labels; the files do not belong together, download them again");
    const auto label_size = static_cast<int64_t>(label_bytes.size());
    MESL_CHECK(label_size >= kLabelHeader + size_, DataError, labels.path, " is truncated: expected ",
               kLabelHeader + size_, " bytes, found ", label_size, "; download it again");
    MESL_CHECK(label_size == kLabelHeader + size_, DataError, labels.path, " has ", label_size,
               " bytes but its header implies ", kLabelHeader + size_, "; the file is corrupt, download it again");

    labels_.resize(static_cast<size_t>(size_));
    for (int64_t i = 0; i < size_; ++i) {
      const int64_t label = label_bytes[static_cast<size_t>(kLabelHeader + i)];
      MESL_CHECK(label < kClasses, DataError, labels.path, ": label ", label, " at index ", i,
                 " is out of range [0, 10); the file is corrupt or not Fashion-MNIST/MNIST");
      labels_[static_cast<size_t>(i)] = label;
    }
  }

  int64_t size() const override { return size_; }
  const std::vector<int64_t>& labels() const override { return labels_; }

  at::Tensor read(const std::vector<int64_t>& indices) const override {
    check_indices(indices, size_, images_.path);
    auto out = at::empty({static_cast<int64_t>(indices.size()), 1, kSide, kSide}, at::kByte);
    std::vector<RecordRequest> requests(indices.size());
    for (size_t i = 0; i < indices.size(); ++i) requests[i] = {indices[i], static_cast<int64_t>(i)};
    const RecordLayout layout{kImageHeader, kSide * kSide, 0, kSide * kSide};
    read_records(images_.path, images_.gzip, layout, std::move(requests), out.data_ptr<uint8_t>());
    return out;
  }

 private:
  IdxFile images_;
  int64_t size_ = 0;
  std::vector<int64_t> labels_;
};

}  // namespace

DatasetInfo idx_info(const DatasetOptions& options) {
  const std::string dir = dataset_dir(options);
  // Opening both splits checks every header, size and label; the label files are small.
  const IdxSplit train(dir, true), test(dir, false);
  DatasetInfo info;
  info.name = options.name;
  info.channels = 1;
  info.height = info.width = kSide;
  info.num_classes = kClasses;
  info.train_size = train.size();
  info.test_size = test.size();
  if (options.name == "mnist") {
    info.mean = {0.1307f};
    info.std = {0.3081f};
  } else {
    info.mean = {0.2860f};
    info.std = {0.3530f};
  }
  return info;
}

std::unique_ptr<Split> open_idx(const DatasetOptions& options, bool train) {
  return std::make_unique<IdxSplit>(dataset_dir(options), train);
}

}  // namespace mesl::data::detail
