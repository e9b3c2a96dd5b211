// The generic HDF5 image set: train.h5 and test.h5, each with `images` (uint8, N x H x W x C, channels last as
// image files are) and `labels` (integer, N), and an optional root attribute `num_classes`. Made by
// data/pack_hdf5.py. Reads go to disk for every batch (streaming), selecting just the batch's rows, so sets larger
// than memory work.
//
// Whole-dataset reads and attributes go through mesl::h5; reading a subset of rows needs hyperslab selections,
// which mesl::h5 does not offer, so those few C calls are made here on the wrappers' handles, each checked.
#include <algorithm>
#include <mutex>

#include "files.h"
#include "formats.h"
#include "mesl/error.h"
#include "mesl/h5/h5.h"

namespace mesl::data::detail {
namespace {

const char* kLayoutHint =
    "an hdf5 image set needs train.h5 and test.h5 with datasets 'images' (uint8, N x H x W x C) and 'labels' "
    "(integer, N); make them with data/pack_hdf5.py (see docs/datasets.md)";

// Chunk cache per open images dataset: enough for the chunks one batch touches when pack_hdf5.py's ~1 MiB chunks
// are used (HDF5's default of 1 MiB would decompress a chunk again for every row read from it).
constexpr size_t kChunkCacheBytes = 32 * 1024 * 1024;
constexpr size_t kChunkCacheSlots = 12421;  // a prime, about 100x the chunks that fit, as HDF5 advises

std::string split_path(const std::string& dir, bool train) { return dir + (train ? "/train.h5" : "/test.h5"); }

void check_call(bool ok, const char* call, const std::string& path) {
  MESL_CHECK(ok, DataError, call, " failed on 'images' in ", path,
             "; the file is truncated or corrupt, pack it again with data/pack_hdf5.py");
}

// The HDF5 wrappers throw h5::H5Error (a MetricsError); for a dataset the user needs a DataError with the fix.
template <typename Fn>
auto as_data_error(const std::string& path, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const h5::H5Error& error) {
    throw DataError(::mesl::detail::concat("cannot read HDF5 image set ", path, ": ", error.what(), "; ",
                                           kLayoutHint));
  }
}

struct SetShape {
  int64_t rows = 0, height = 0, width = 0, channels = 0;
};

// Opens `images` with a chunk cache sized for batch reads and checks its type and rank.
h5::Handle open_images(const h5::File& file, const std::string& path, SetShape& shape) {
  h5::SilenceErrors quiet;
  MESL_CHECK(file.has_child("images") && file.has_child("labels"), DataError, path,
             " lacks the dataset 'images' or 'labels'; ", kLayoutHint);
  h5::Handle access(H5Pcreate(H5P_DATASET_ACCESS));
  check_call(access.valid(), "H5Pcreate", path);
  check_call(H5Pset_chunk_cache(access.id(), kChunkCacheSlots, kChunkCacheBytes, 0.75) >= 0, "H5Pset_chunk_cache",
             path);
  h5::Handle images(H5Dopen2(file.id(), "images", access.id()));
  check_call(images.valid(), "H5Dopen2", path);
  h5::Handle type(H5Dget_type(images.id()));
  check_call(type.valid(), "H5Dget_type", path);
  const bool is_uint8 = H5Tget_class(type.id()) == H5T_INTEGER && H5Tget_size(type.id()) == 1 &&
                        H5Tget_sign(type.id()) == H5T_SGN_NONE;
  const auto dims = file.dataset_shape("images");
  MESL_CHECK(is_uint8 && dims.size() == 4, DataError, path, ": 'images' must be uint8 with shape N x H x W x C; ",
             "found rank ", dims.size(), is_uint8 ? " uint8" : " of another type", "; pack it with data/pack_hdf5.py");
  shape = {dims[0], dims[1], dims[2], dims[3]};
  MESL_CHECK(shape.height >= 1 && shape.width >= 1 && shape.channels >= 1, DataError, path, ": 'images' has shape ",
             shape.rows, " x ", shape.height, " x ", shape.width, " x ", shape.channels,
             "; images need at least one pixel and channel");
  return images;
}

// The labels as int64; `rows` >= 0 is the image count they must match.
std::vector<int64_t> read_labels(const h5::File& file, const std::string& path, int64_t rows) {
  MESL_CHECK(file.has_child("labels"), DataError, path, " lacks the dataset 'labels'; ", kLayoutHint);
  const auto dims = file.dataset_shape("labels");
  MESL_CHECK(dims.size() == 1, DataError, path, ": 'labels' has shape ", at::IntArrayRef(dims),
             "; it must be one-dimensional (one label per image), pack the set again");
  MESL_CHECK(rows < 0 || dims[0] == rows, DataError, path, " holds ", rows,
             " images but 'labels' has shape ", at::IntArrayRef(dims),
             "; the images and labels do not belong together, pack the set again");
  const at::Tensor stored = file.read_tensor("labels");
  MESL_CHECK(at::isIntegralType(stored.scalar_type(), /*includeBool=*/false), DataError, path,
             ": 'labels' must hold integers; found ", stored.scalar_type(), "; pack the set again");
  const at::Tensor labels = stored.to(at::kLong).contiguous();
  const int64_t* data = labels.data_ptr<int64_t>();
  return std::vector<int64_t>(data, data + labels.numel());
}

// num_classes from the root attribute of train.h5, else the largest train label + 1.
int64_t class_count(const std::string& dir) {
  const std::string path = split_path(dir, true);
  MESL_CHECK(file_exists(path), DataError, "missing file ", path, "; ", kLayoutHint);
  return as_data_error(path, [&] {
    h5::SilenceErrors quiet;
    h5::File file(path, h5::Mode::read_only);
    if (file.has_attribute("num_classes")) {
      const int64_t classes = file.int_attribute("num_classes");
      MESL_CHECK(classes >= 1, DataError, path, ": attribute num_classes is ", classes,
                 "; it must be at least 1, pack the set again");
      return classes;
    }
    const auto labels = read_labels(file, path, -1);
    return labels.empty() ? int64_t{1} : *std::max_element(labels.begin(), labels.end()) + 1;
  });
}

class Hdf5Split final : public Split {
 public:
  Hdf5Split(const std::string& dir, bool train, int64_t num_classes)
      : path_(split_path(dir, train)), file_(open_file(path_)) {
    as_data_error(path_, [&] {
      images_ = open_images(file_, path_, shape_);
      labels_ = read_labels(file_, path_, shape_.rows);
      return 0;
    });
    for (size_t i = 0; i < labels_.size(); ++i) {
      MESL_CHECK(labels_[i] >= 0 && labels_[i] < num_classes, DataError, path_, ": label ", labels_[i],
                 " at index ", i, " is out of range [0, ", num_classes,
                 "); fix the labels or set the root attribute num_classes");
    }
  }

  int64_t size() const override { return shape_.rows; }
  const std::vector<int64_t>& labels() const override { return labels_; }
  bool streaming() const override { return true; }
  const SetShape& shape() const { return shape_; }

  at::Tensor read(const std::vector<int64_t>& indices) const override {
    check_indices(indices, shape_.rows, path_);
    // Read each distinct row once, in file order, then put the rows where the caller wants them.
    std::vector<int64_t> rows(indices);
    std::sort(rows.begin(), rows.end());
    rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
    auto distinct = at::empty({static_cast<int64_t>(rows.size()), shape_.height, shape_.width, shape_.channels},
                              at::kByte);
    {
      std::lock_guard<std::mutex> lock(mutex_);  // the HDF5 library is not thread-safe
      h5::SilenceErrors quiet;
      read_rows(rows, distinct.data_ptr<uint8_t>());
    }
    std::vector<int64_t> where(indices.size());
    for (size_t k = 0; k < indices.size(); ++k)
      where[k] = std::lower_bound(rows.begin(), rows.end(), indices[k]) - rows.begin();
    // One gather does both the reordering and the channels-last to channels-first transpose.
    return distinct.permute({0, 3, 1, 2}).index_select(0, at::tensor(where, at::kLong)).contiguous();
  }

 private:
  static h5::File open_file(const std::string& path) {
    MESL_CHECK(file_exists(path), DataError, "missing file ", path, "; ", kLayoutHint);
    return as_data_error(path, [&] {
      h5::SilenceErrors quiet;
      return h5::File(path, h5::Mode::read_only);
    });
  }

  // Reads sorted distinct `rows` into `out`, one H5Dread per run of consecutive rows. One read of a union of
  // hyperslabs would be fewer calls, but HDF5 1.10 handles such irregular selections an order of magnitude more
  // slowly than simple ones (measured, and the same from h5py); the chunk cache keeps a shared chunk from being
  // read twice.
  void read_rows(const std::vector<int64_t>& rows, uint8_t* out) const {
    const hsize_t dims[4] = {static_cast<hsize_t>(shape_.rows), static_cast<hsize_t>(shape_.height),
                             static_cast<hsize_t>(shape_.width), static_cast<hsize_t>(shape_.channels)};
    const auto row_bytes = static_cast<size_t>(shape_.height * shape_.width * shape_.channels);
    h5::Handle file_space(H5Screate_simple(4, dims, nullptr));
    check_call(file_space.valid(), "H5Screate_simple", path_);
    size_t i = 0;
    while (i < rows.size()) {
      size_t j = i;
      while (j + 1 < rows.size() && rows[j + 1] == rows[j] + 1) ++j;
      const hsize_t start[4] = {static_cast<hsize_t>(rows[i]), 0, 0, 0};
      const hsize_t count[4] = {static_cast<hsize_t>(j - i + 1), dims[1], dims[2], dims[3]};
      check_call(H5Sselect_hyperslab(file_space.id(), H5S_SELECT_SET, start, nullptr, count, nullptr) >= 0,
                 "H5Sselect_hyperslab", path_);
      h5::Handle memory_space(H5Screate_simple(4, count, nullptr));
      check_call(memory_space.valid(), "H5Screate_simple", path_);
      check_call(H5Dread(images_.id(), H5T_NATIVE_UINT8, memory_space.id(), file_space.id(), H5P_DEFAULT,
                         out + i * row_bytes) >= 0,
                 "H5Dread", path_);
      i = j + 1;
    }
  }

  std::string path_;
  h5::File file_;
  h5::Handle images_;
  SetShape shape_;
  std::vector<int64_t> labels_;
  mutable std::mutex mutex_;
};

}  // namespace

DatasetInfo hdf5_info(const DatasetOptions& options) {
  const std::string dir = dataset_dir(options);
  const int64_t classes = class_count(dir);
  const Hdf5Split train(dir, true, classes), test(dir, false, classes);
  const SetShape& shape = train.shape();
  const SetShape& other = test.shape();
  MESL_CHECK(other.height == shape.height && other.width == shape.width && other.channels == shape.channels,
             DataError, split_path(dir, false), " holds ", other.height, "x", other.width, "x", other.channels,
             " images but ", split_path(dir, true), " holds ", shape.height, "x", shape.width, "x", shape.channels,
             "; pack both splits at the same size");
  DatasetInfo info;
  info.name = options.name;
  info.channels = shape.channels;
  info.height = shape.height;
  info.width = shape.width;
  info.num_classes = classes;
  info.train_size = train.size();
  info.test_size = test.size();
  if (info.channels == 3) {  // ImageNet's statistics: the usual choice for natural colour images
    info.mean = {0.485f, 0.456f, 0.406f};
    info.std = {0.229f, 0.224f, 0.225f};
  } else {
    info.mean.assign(static_cast<size_t>(info.channels), 0.5f);
    info.std.assign(static_cast<size_t>(info.channels), 0.25f);
  }
  return info;
}

std::unique_ptr<Split> open_hdf5(const DatasetOptions& options, bool train) {
  const std::string dir = dataset_dir(options);
  return std::make_unique<Hdf5Split>(dir, train, class_count(dir));
}

}  // namespace mesl::data::detail
