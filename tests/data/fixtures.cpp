// Fixtures for the data tests: see fixtures.h.
#include "fixtures.h"

#include <zlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "mesl/h5/h5.h"

namespace mesl::data::test {
namespace fs = std::filesystem;

void write_file(const std::string& path, const std::vector<uint8_t>& bytes, bool gzip) {
  if (gzip) {
    gzFile file = gzopen(path.c_str(), "wb");
    if (file == nullptr) throw std::runtime_error("gzopen failed for " + path);
    const int written = bytes.empty() ? 0 : gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size()));
    gzclose(file);
    if (written != static_cast<int>(bytes.size())) throw std::runtime_error("gzwrite failed for " + path);
    return;
  }
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("write failed for " + path);
}

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void make_dir(const std::string& path) { fs::create_directories(path); }

namespace {
void put_big_endian(std::vector<uint8_t>& bytes, uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back(static_cast<uint8_t>(value >> shift));
}
}  // namespace

std::vector<uint8_t> idx_images(int64_t count, int64_t rows, int64_t cols, uint32_t magic) {
  std::vector<uint8_t> bytes;
  put_big_endian(bytes, magic);
  put_big_endian(bytes, static_cast<uint32_t>(count));
  put_big_endian(bytes, static_cast<uint32_t>(rows));
  put_big_endian(bytes, static_cast<uint32_t>(cols));
  for (int64_t i = 0; i < count; ++i)
    for (int64_t p = 0; p < rows * cols; ++p) bytes.push_back(pattern(i, p));
  return bytes;
}

std::vector<uint8_t> idx_labels(int64_t count, uint32_t magic) {
  std::vector<uint8_t> bytes;
  put_big_endian(bytes, magic);
  put_big_endian(bytes, static_cast<uint32_t>(count));
  for (int64_t i = 0; i < count; ++i) bytes.push_back(static_cast<uint8_t>(pattern_label(i, 10)));
  return bytes;
}

void write_idx_set(const std::string& dir, int64_t train, int64_t test, bool gzip) {
  const std::string suffix = gzip ? ".gz" : "";
  write_file(dir + "/train-images-idx3-ubyte" + suffix, idx_images(train), gzip);
  write_file(dir + "/train-labels-idx1-ubyte" + suffix, idx_labels(train), gzip);
  write_file(dir + "/t10k-images-idx3-ubyte" + suffix, idx_images(test), gzip);
  write_file(dir + "/t10k-labels-idx1-ubyte" + suffix, idx_labels(test), gzip);
}

std::vector<uint8_t> cifar_records(int64_t count, int64_t first, int64_t label_bytes, int64_t classes) {
  std::vector<uint8_t> bytes;
  for (int64_t i = first; i < first + count; ++i) {
    // CIFAR-100 records start with the coarse label; make it differ from the fine one.
    if (label_bytes == 2) bytes.push_back(static_cast<uint8_t>((pattern_label(i, classes) + 1) % 20));
    bytes.push_back(static_cast<uint8_t>(pattern_label(i, classes)));
    for (int64_t p = 0; p < 3072; ++p) bytes.push_back(pattern(i, p));
  }
  return bytes;
}

void write_hdf5_split(const std::string& path, int64_t n, int64_t h, int64_t w, int64_t c, int64_t classes,
                      int64_t chunk_rows, int64_t num_classes_attribute) {
  auto images = at::empty({n, h, w, c}, at::kByte);
  uint8_t* pixels = images.data_ptr<uint8_t>();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t p = 0; p < h * w * c; ++p) pixels[i * h * w * c + p] = pattern(i, p);
  auto labels = at::empty({n}, at::kLong);
  for (int64_t i = 0; i < n; ++i) labels[i] = pattern_label(i, classes);

  h5::File file(path, h5::Mode::create_truncate);
  file.write_tensor("labels", labels);
  if (num_classes_attribute > 0) file.set_attribute("num_classes", num_classes_attribute);
  if (chunk_rows <= 0) {
    file.write_tensor("images", images);
    return;
  }
  const hsize_t dims[4] = {static_cast<hsize_t>(n), static_cast<hsize_t>(h), static_cast<hsize_t>(w),
                           static_cast<hsize_t>(c)};
  const hsize_t chunk[4] = {static_cast<hsize_t>(chunk_rows), dims[1], dims[2], dims[3]};
  h5::Handle space(H5Screate_simple(4, dims, nullptr));
  h5::Handle create(H5Pcreate(H5P_DATASET_CREATE));
  if (H5Pset_chunk(create.id(), 4, chunk) < 0 || H5Pset_deflate(create.id(), 4) < 0)
    throw std::runtime_error("cannot set up chunking for " + path);
  h5::Handle dataset(H5Dcreate2(file.id(), "images", H5T_STD_U8LE, space.id(), H5P_DEFAULT, create.id(), H5P_DEFAULT));
  if (!dataset.valid() || H5Dwrite(dataset.id(), H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, pixels) < 0)
    throw std::runtime_error("cannot write images to " + path);
}

MemorySplit::MemorySplit(int64_t n, int64_t channels, int64_t height, int64_t width, int64_t classes)
    : channels_(channels), height_(height), width_(width), classes_(classes) {
  for (int64_t i = 0; i < n; ++i) labels_.push_back(i % classes);
}

at::Tensor MemorySplit::read(const std::vector<int64_t>& indices) const {
  auto out = at::empty({static_cast<int64_t>(indices.size()), channels_, height_, width_}, at::kByte);
  for (size_t k = 0; k < indices.size(); ++k) out[static_cast<int64_t>(k)].fill_(indices[k] % 256);
  return out;
}

DatasetInfo MemorySplit::info() const {
  DatasetInfo info;
  info.name = "memory";
  info.channels = channels_;
  info.height = height_;
  info.width = width_;
  info.num_classes = classes_;
  info.train_size = size();
  info.mean.assign(static_cast<size_t>(channels_), 0.0f);
  info.std.assign(static_cast<size_t>(channels_), 1.0f);
  return info;
}

}  // namespace mesl::data::test
