#pragma once
// File access shared by the dataset readers: resolving the dataset directory, sizes, and reading fixed-size
// records (IDX rows, CIFAR records) at arbitrary indices from raw or gzip-compressed files. Every failure is a
// mesl::DataError naming the file and the fix.
#include <cstdint>
#include <string>
#include <vector>

#include "mesl/data/dataset.h"

namespace mesl::data::detail {

// The directory to read `options.name` from: options.dir, or the Debian default for fashion-mnist. Throws
// DataError when it does not exist (or is required and empty), saying how to fix it.
std::string dataset_dir(const DatasetOptions& options);

bool file_exists(const std::string& path);
bool dir_exists(const std::string& path);
int64_t file_size(const std::string& path);  // DataError if it cannot be read

// Records of `record_bytes` each, starting after `header_bytes`; of each record the `payload_bytes` starting at
// `payload_offset` are wanted (e.g. the 3072 pixels after a CIFAR record's label byte).
struct RecordLayout {
  int64_t header_bytes = 0;
  int64_t record_bytes = 0;
  int64_t payload_offset = 0;
  int64_t payload_bytes = 0;
};

// One wanted record and the output row it goes to.
struct RecordRequest {
  int64_t record;
  int64_t slot;
};

// Copies the payload of every requested record to out + slot * payload_bytes. Raw files are read with one
// positioned read per run of nearby records; gzip files are decompressed once, front to back, up to the last
// requested record, keeping only the requested rows. Throws DataError for a short read (a truncated file).
void read_records(const std::string& path, bool gzip, const RecordLayout& layout,
                  std::vector<RecordRequest> requests, uint8_t* out);

// Reads `count` bytes at `offset` of a raw file (the whole label file, a header). Throws DataError if short.
std::vector<uint8_t> read_raw(const std::string& path, int64_t offset, int64_t count);

// The first `count` bytes of the decompressed stream (count < 0: all of it).
std::vector<uint8_t> read_gzip(const std::string& path, int64_t count = -1);

// The decompressed size of a gzip file: the trailer's ISIZE when it matches `expected` (cheap, no decompression),
// otherwise the size counted by decompressing everything (catches truncation and multi-member files).
int64_t gzip_uncompressed_size(const std::string& path, int64_t expected);

// Throws DataError if any index is outside [0, size).
void check_indices(const std::vector<int64_t>& indices, int64_t size, const std::string& what);

}  // namespace mesl::data::detail
