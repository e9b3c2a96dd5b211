// CIFAR-10 and CIFAR-100, binary versions (https://www.cs.toronto.edu/~kriz/cifar.html): fixed-size records of
// label byte(s) followed by 3072 pixels, already channel-major (1024 red, 1024 green, 1024 blue, rows in order).
#include <numeric>

#include "files.h"
#include "formats.h"
#include "mesl/error.h"

namespace mesl::data::detail {
namespace {

constexpr int64_t kSide = 32;
constexpr int64_t kPixels = 3 * kSide * kSide;

struct CifarFormat {
  std::string subdir;                    // the folder the archive unpacks to
  std::vector<std::string> train_files;  // in index order
  std::vector<std::string> test_files;
  int64_t label_bytes;   // bytes before the pixels
  int64_t label_offset;  // the label used: CIFAR-100's second byte is the fine label
  int64_t classes;
  std::string archive;
};

const CifarFormat& format_of(const std::string& name) {
  static const CifarFormat cifar10{"cifar-10-batches-bin",
                                   {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                                    "data_batch_4.bin", "data_batch_5.bin"},
                                   {"test_batch.bin"},
                                   1,
                                   0,
                                   10,
                                   "cifar-10-binary.tar.gz"};
  static const CifarFormat cifar100{"cifar-100-binary", {"train.bin"}, {"test.bin"}, 2, 1, 100,
                                    "cifar-100-binary.tar.gz"};
  return name == "cifar100" ? cifar100 : cifar10;
}

std::string expected_files(const CifarFormat& format) {
  std::string names;
  for (const auto& list : {format.train_files, format.test_files})
    for (const auto& file : list) names += (names.empty() ? "" : ", ") + file;
  return names;
}

// `dir` may be the folder with the .bin files or the one the archive was unpacked in.
std::string resolve_folder(const std::string& dir, const CifarFormat& format) {
  for (const auto& list : {format.train_files, format.test_files})
    for (const auto& file : list)
      if (file_exists(dir + "/" + file)) return dir;
  const std::string nested = dir + "/" + format.subdir;
  if (dir_exists(nested)) return nested;
  return dir;
}

struct BinFile {
  std::string path;
  int64_t records = 0;
  int64_t first = 0;  // index of its first record in the split
};

// Finds and sizes the split's files; throws for a missing file or a size that is not whole records.
std::vector<BinFile> scan_files(const DatasetOptions& options, bool train) {
  const CifarFormat& format = format_of(options.name);
  const std::string folder = resolve_folder(dataset_dir(options), format);
  const int64_t record = format.label_bytes + kPixels;
  std::vector<BinFile> files;
  int64_t first = 0;
  for (const auto& name : train ? format.train_files : format.test_files) {
    const std::string path = folder + "/" + name;
    MESL_CHECK(file_exists(path), DataError, "missing file ", path, "; ", options.name, " needs ",
               expected_files(format), " (from ", format.archive, ") in --data-dir");
    const int64_t size = file_size(path);
    MESL_CHECK(size > 0, DataError, path, " is empty; download ", format.archive, " again");
    MESL_CHECK(size % record == 0, DataError, path, " is truncated: ", size,
               " bytes is not a whole number of ", record, "-byte records (expected ", (size / record + 1) * record,
               " bytes for ", size / record + 1, " records); download it again");
    files.push_back({path, size / record, first});
    first += size / record;
  }
  return files;
}

class CifarSplit final : public Split {
 public:
  CifarSplit(const DatasetOptions& options, bool train)
      : format_(format_of(options.name)), files_(scan_files(options, train)) {
    size_ = files_.back().first + files_.back().records;
    labels_.resize(static_cast<size_t>(size_));
    // The labels sit inside the records, so reading them means one pass over the files.
    const RecordLayout layout{0, format_.label_bytes + kPixels, format_.label_offset, 1};
    std::vector<uint8_t> bytes(static_cast<size_t>(size_));
    for (const auto& file : files_) {
      std::vector<RecordRequest> requests(static_cast<size_t>(file.records));
      for (int64_t r = 0; r < file.records; ++r) requests[static_cast<size_t>(r)] = {r, file.first + r};
      read_records(file.path, false, layout, std::move(requests), bytes.data());
    }
    for (const auto& file : files_) {
      for (int64_t i = file.first; i < file.first + file.records; ++i) {
        const int64_t label = bytes[static_cast<size_t>(i)];
        MESL_CHECK(label < format_.classes, DataError, file.path, ": label ", label, " of record ", i - file.first,
                   " is out of range [0, ", format_.classes, "); the file is corrupt or not ", options.name);
        labels_[static_cast<size_t>(i)] = label;
      }
    }
  }

  int64_t size() const override { return size_; }
  const std::vector<int64_t>& labels() const override { return labels_; }

  at::Tensor read(const std::vector<int64_t>& indices) const override {
    check_indices(indices, size_, files_.front().path);
    auto out = at::empty({static_cast<int64_t>(indices.size()), 3, kSide, kSide}, at::kByte);
    std::vector<std::vector<RecordRequest>> per_file(files_.size());
    for (size_t i = 0; i < indices.size(); ++i) {
      size_t f = 0;
      while (indices[i] >= files_[f].first + files_[f].records) ++f;
      per_file[f].push_back({indices[i] - files_[f].first, static_cast<int64_t>(i)});
    }
    const RecordLayout layout{0, format_.label_bytes + kPixels, format_.label_bytes, kPixels};
    for (size_t f = 0; f < files_.size(); ++f)
      read_records(files_[f].path, false, layout, std::move(per_file[f]), out.data_ptr<uint8_t>());
    return out;
  }

 private:
  const CifarFormat& format_;
  std::vector<BinFile> files_;
  int64_t size_ = 0;
  std::vector<int64_t> labels_;
};

int64_t count_records(const std::vector<BinFile>& files) {
  return std::accumulate(files.begin(), files.end(), int64_t{0},
                         [](int64_t sum, const BinFile& file) { return sum + file.records; });
}

}  // namespace

DatasetInfo cifar_info(const DatasetOptions& options) {
  const CifarFormat& format = format_of(options.name);
  DatasetInfo info;
  info.name = options.name;
  info.channels = 3;
  info.height = info.width = kSide;
  info.num_classes = format.classes;
  // Sizes come from the file sizes; the labels are checked when a split is opened (that reads every record).
  info.train_size = count_records(scan_files(options, true));
  info.test_size = count_records(scan_files(options, false));
  if (options.name == "cifar100") {
    info.mean = {0.5071f, 0.4865f, 0.4409f};
    info.std = {0.2673f, 0.2564f, 0.2762f};
  } else {
    info.mean = {0.4914f, 0.4822f, 0.4465f};
    info.std = {0.2470f, 0.2435f, 0.2616f};
  }
  return info;
}

std::unique_ptr<Split> open_cifar(const DatasetOptions& options, bool train) {
  return std::make_unique<CifarSplit>(options, train);
}

}  // namespace mesl::data::detail
