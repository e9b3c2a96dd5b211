#pragma once
// Test fixtures for the data part: a temporary directory, writers for small files in the real formats (IDX raw and
// gzip, CIFAR-10/100 binary, HDF5 image sets), and an in-memory Split whose pixels identify their sample.
#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

#include "../common/temp_dir.h"
#include "mesl/data/dataset.h"

namespace mesl::data::test {

using TempDir = mesl::testing::TempDir;

void write_file(const std::string& path, const std::vector<uint8_t>& bytes, bool gzip = false);
std::vector<uint8_t> read_file(const std::string& path);
void make_dir(const std::string& path);

// The pixel value the fixtures put at byte `p` of sample `i`: distinct rows, easy to recompute.
inline uint8_t pattern(int64_t i, int64_t p) { return static_cast<uint8_t>((i * 31 + p * 7 + i * p) % 251); }
inline int64_t pattern_label(int64_t i, int64_t classes) { return (i * 7 + 3) % classes; }

// IDX files; the header fields are parameters so that tests can write bad ones.
std::vector<uint8_t> idx_images(int64_t count, int64_t rows = 28, int64_t cols = 28, uint32_t magic = 0x803);
std::vector<uint8_t> idx_labels(int64_t count, uint32_t magic = 0x801);
// A full Fashion-MNIST-like set in `dir`: train with `train` images, t10k with `test`, patterned pixels and labels.
void write_idx_set(const std::string& dir, int64_t train, int64_t test, bool gzip);

// CIFAR records: label byte(s) then 3072 patterned pixels; sample numbering starts at `first`.
std::vector<uint8_t> cifar_records(int64_t count, int64_t first, int64_t label_bytes, int64_t classes);

// An HDF5 split: images [n, h, w, c] uint8 (patterned by sample and NHWC byte position), labels int64.
// `chunk_rows` > 0 stores `images` chunked and deflate-compressed, as data/pack_hdf5.py does.
void write_hdf5_split(const std::string& path, int64_t n, int64_t h, int64_t w, int64_t c, int64_t classes,
                      int64_t chunk_rows = 0, int64_t num_classes_attribute = 0);

// A non-streaming split held in memory: sample i's pixels are all equal to i % 256, its label i % classes.
class MemorySplit : public Split {
 public:
  MemorySplit(int64_t n, int64_t channels, int64_t height, int64_t width, int64_t classes = 10);
  int64_t size() const override { return static_cast<int64_t>(labels_.size()); }
  const std::vector<int64_t>& labels() const override { return labels_; }
  at::Tensor read(const std::vector<int64_t>& indices) const override;
  DatasetInfo info() const;  // mean 0 and std 1, so a batch holds pixel / 255 exactly

 private:
  int64_t channels_, height_, width_, classes_;
  std::vector<int64_t> labels_;
};

// Presents another split as non-streaming (read once by the loader), to compare with its streaming use.
class InMemoryView : public Split {
 public:
  explicit InMemoryView(const Split& inner) : inner_(inner) {}
  int64_t size() const override { return inner_.size(); }
  const std::vector<int64_t>& labels() const override { return inner_.labels(); }
  at::Tensor read(const std::vector<int64_t>& indices) const override { return inner_.read(indices); }
  bool streaming() const override { return false; }

 private:
  const Split& inner_;
};

// The message of the `E` that `fn` throws. Any other exception escapes (failing the test); no exception gives
// "<no exception>", which no expected substring matches.
template <typename E, typename Fn>
std::string message_of(Fn&& fn) {
  try {
    fn();
  } catch (const E& error) {
    return error.what();
  }
  return "<no exception>";
}

}  // namespace mesl::data::test
