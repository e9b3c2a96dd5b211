#pragma once
// Datasets on disk and the facts about them. A Split is one half (train or test) of a dataset; it can report its
// labels cheaply and read the images at any indices, so that a client reads only its own shard.
#include <ATen/ATen.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace mesl::data {

struct DatasetOptions {
  // fashion-mnist | mnist | cifar10 | cifar100 | hdf5 | synthetic
  std::string name = "fashion-mnist";
  // Directory holding the files. Empty: /usr/share/datasets/fashion-mnist for fashion-mnist (Debian's
  // dataset-fashion-mnist package); required for the others except synthetic.
  std::string dir;
  // synthetic only: sizes and shape (learnable: each class has a fixed random template, samples add noise).
  int64_t synthetic_train = 2048;
  int64_t synthetic_test = 512;
  int64_t synthetic_channels = 1;
  int64_t synthetic_image_size = 28;
  int64_t synthetic_classes = 10;
  uint64_t seed = 0;
};

// What a dataset is. `mean` and `std` are per channel, on the 0..1 pixel scale.
struct DatasetInfo {
  std::string name;
  int64_t channels = 0, height = 0, width = 0;
  int64_t num_classes = 0;
  int64_t train_size = 0, test_size = 0;
  std::vector<float> mean, std;
};

class Split {
 public:
  virtual ~Split() = default;
  virtual int64_t size() const = 0;
  // Every label of the split, in index order (cheap: read without the images).
  virtual const std::vector<int64_t>& labels() const = 0;
  // The images at `indices` (any order, repeats allowed) as uint8 [n, C, H, W]. Throws DataError for an index
  // out of range or a read that fails.
  virtual at::Tensor read(const std::vector<int64_t>& indices) const = 0;
  // True when reads go to disk each time (HDF5 sets, for data larger than memory); false when the caller should
  // read its shard once and keep it.
  virtual bool streaming() const { return false; }
};

// Reads the headers and checks the files: throws DataError naming the missing or bad file and the fix
// (e.g. "apt-get install dataset-fashion-mnist" or the expected file names) when something is wrong.
DatasetInfo dataset_info(const DatasetOptions& options);
std::unique_ptr<Split> open_split(const DatasetOptions& options, bool train);

// The images at `indices` of `split` read once and kept in memory as uint8, behind the Split interface (its size
// and labels are the whole split's; reading an index outside `indices` throws DataError). A rank that hosts many
// clients keeps the union of their shards this way and makes their loaders without copying images
// (LoaderOptions::cache_shard = false). `split` must outlive the result.
std::unique_ptr<Split> keep_in_memory(const Split& split, std::vector<int64_t> indices);

// The dataset names accepted by DatasetOptions::name.
const std::vector<std::string>& dataset_names();

}  // namespace mesl::data
