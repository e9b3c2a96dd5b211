// File access for the dataset readers: see files.h.
#include "files.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "mesl/error.h"

namespace mesl::data::detail {
namespace fs = std::filesystem;

namespace {

constexpr const char* kFashionMnistDefault = "/usr/share/datasets/fashion-mnist";
// Raw reads merge nearby records into one positioned read: skipping up to this many bytes costs less than a
// second system call, and runs are capped so the scratch buffer stays small.
constexpr int64_t kMaxGapBytes = 64 * 1024;
constexpr int64_t kMaxRunBytes = 8 * 1024 * 1024;
constexpr unsigned kGzipBufferBytes = 256 * 1024;

// Closes a POSIX file descriptor on scope exit.
class Fd {
 public:
  explicit Fd(const std::string& path) : fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {
    MESL_CHECK(fd_ >= 0, DataError, "cannot open ", path, ": ", std::strerror(errno),
               "; check that the file exists and is readable");
  }
  ~Fd() { ::close(fd_); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// Closes a zlib gzFile on scope exit.
class GzFile {
 public:
  explicit GzFile(const std::string& path) : path_(path), file_(gzopen(path.c_str(), "rb")) {
    MESL_CHECK(file_ != nullptr, DataError, "cannot open ", path, ": ", std::strerror(errno),
               "; check that the file exists and is readable");
    gzbuffer(file_, kGzipBufferBytes);
  }
  ~GzFile() { gzclose_r(file_); }
  GzFile(const GzFile&) = delete;
  GzFile& operator=(const GzFile&) = delete;

  // Reads up to `count` bytes; returns how many were read (fewer only at the end of the stream). Throws for a
  // corrupt stream; a truncated one just ends early and the caller reports the size it expected.
  int64_t read(uint8_t* dst, int64_t count) {
    int64_t done = 0;
    while (done < count) {
      const unsigned chunk = static_cast<unsigned>(std::min<int64_t>(count - done, 1 << 30));
      const int got = gzread(file_, dst + done, chunk);
      if (got < 0) throw_error();
      if (got == 0) break;
      done += got;
    }
    if (done < count) check_error();
    return done;
  }

  // Skips forward to uncompressed offset `offset` (decompressing what lies between).
  void skip_to(int64_t offset) {
    const z_off_t at = gzseek(file_, static_cast<z_off_t>(offset), SEEK_SET);
    if (at < 0) throw_error();
  }

 private:
  void check_error() {
    int errnum = Z_OK;
    gzerror(file_, &errnum);
    // Z_BUF_ERROR is zlib's "unexpected end of file": a truncated stream, reported by the caller with sizes.
    if (errnum != Z_OK && errnum != Z_BUF_ERROR) throw_error();
  }
  [[noreturn]] void throw_error() {
    int errnum = Z_OK;
    const char* message = gzerror(file_, &errnum);
    throw DataError(::mesl::detail::concat(path_, " is corrupt (gzip: ", message ? message : "unknown error",
                                           "); download it again"));
  }

  std::string path_;
  gzFile file_;
};

std::string missing_dir_hint(const std::string& name) {
  if (name == "fashion-mnist") return "pass --data-dir or install dataset-fashion-mnist";
  return "pass --data-dir with the folder that holds the " + name + " files (see docs/datasets.md)";
}

}  // namespace

std::string dataset_dir(const DatasetOptions& options) {
  std::string dir = options.dir;
  if (dir.empty()) {
    MESL_CHECK(options.name == "fashion-mnist", ConfigError, "dataset ", options.name,
               " has no default directory; pass --data-dir with the folder that holds its files");
    dir = kFashionMnistDefault;
  }
  MESL_CHECK(dir_exists(dir), DataError, "dataset directory ", dir, " does not exist; ",
             missing_dir_hint(options.name));
  return dir;
}

bool file_exists(const std::string& path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec);
}

bool dir_exists(const std::string& path) {
  std::error_code ec;
  return fs::is_directory(path, ec);
}

int64_t file_size(const std::string& path) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  MESL_CHECK(!ec, DataError, "cannot read the size of ", path, ": ", ec.message(),
             "; check that the file exists and is readable");
  return static_cast<int64_t>(size);
}

std::vector<uint8_t> read_raw(const std::string& path, int64_t offset, int64_t count) {
  Fd fd(path);
  std::vector<uint8_t> bytes(static_cast<size_t>(count));
  int64_t done = 0;
  while (done < count) {
    const ssize_t got = ::pread(fd.get(), bytes.data() + done, static_cast<size_t>(count - done),
                                static_cast<off_t>(offset + done));
    MESL_CHECK(got >= 0, DataError, "cannot read ", path, ": ", std::strerror(errno), "; check the file system");
    MESL_CHECK(got > 0, DataError, path, " is truncated: expected at least ", offset + count, " bytes, found ",
               offset + done, "; download it again");
    done += got;
  }
  return bytes;
}

std::vector<uint8_t> read_gzip(const std::string& path, int64_t count) {
  GzFile file(path);
  std::vector<uint8_t> bytes;
  if (count >= 0) {
    bytes.resize(static_cast<size_t>(count));
    const int64_t got = file.read(bytes.data(), count);
    MESL_CHECK(got == count, DataError, path, " is truncated: expected at least ", count,
               " bytes after decompression, found ", got, "; download it again");
    return bytes;
  }
  std::vector<uint8_t> chunk(kGzipBufferBytes);
  for (;;) {
    const int64_t got = file.read(chunk.data(), static_cast<int64_t>(chunk.size()));
    bytes.insert(bytes.end(), chunk.begin(), chunk.begin() + got);
    if (got < static_cast<int64_t>(chunk.size())) break;
  }
  return bytes;
}

int64_t gzip_uncompressed_size(const std::string& path, int64_t expected) {
  const int64_t size = file_size(path);
  if (size >= 18) {  // the smallest gzip member: 10-byte header, empty deflate block, 8-byte trailer
    const auto head = read_raw(path, 0, 2);
    const bool is_gzip = head[0] == 0x1f && head[1] == 0x8b;
    // zlib reads files without the gzip magic transparently, as they are.
    if (!is_gzip) return size;
    const auto tail = read_raw(path, size - 4, 4);
    const uint32_t isize = static_cast<uint32_t>(tail[0]) | static_cast<uint32_t>(tail[1]) << 8 |
                           static_cast<uint32_t>(tail[2]) << 16 | static_cast<uint32_t>(tail[3]) << 24;
    if (isize == static_cast<uint32_t>(expected)) return expected;
  }
  // The trailer disagrees (truncated, or several gzip members): count by decompressing.
  GzFile file(path);
  std::vector<uint8_t> chunk(kGzipBufferBytes);
  int64_t total = 0;
  for (;;) {
    const int64_t got = file.read(chunk.data(), static_cast<int64_t>(chunk.size()));
    total += got;
    if (got < static_cast<int64_t>(chunk.size())) break;
  }
  return total;
}

void read_records(const std::string& path, bool gzip, const RecordLayout& layout,
                  std::vector<RecordRequest> requests, uint8_t* out) {
  if (requests.empty()) return;
  std::sort(requests.begin(), requests.end(),
            [](const RecordRequest& a, const RecordRequest& b) { return a.record < b.record; });
  const auto payload = static_cast<size_t>(layout.payload_bytes);
  auto offset_of = [&](int64_t record) { return layout.header_bytes + record * layout.record_bytes; };

  if (gzip) {
    // A gzip stream can only be read front to back: decompress once, copy out the requested rows as they pass.
    GzFile file(path);
    const RecordRequest* previous = nullptr;
    for (const auto& request : requests) {
      uint8_t* dst = out + static_cast<size_t>(request.slot) * payload;
      if (previous != nullptr && previous->record == request.record) {
        std::memcpy(dst, out + static_cast<size_t>(previous->slot) * payload, payload);
        continue;
      }
      const int64_t start = offset_of(request.record) + layout.payload_offset;
      file.skip_to(start);
      const int64_t got = file.read(dst, layout.payload_bytes);
      MESL_CHECK(got == layout.payload_bytes, DataError, path, " is truncated: expected at least ",
                 start + layout.payload_bytes, " bytes after decompression, found ", start + got,
                 "; download it again");
      previous = &request;
    }
    return;
  }

  Fd fd(path);
  std::vector<uint8_t> buffer;
  size_t i = 0;
  while (i < requests.size()) {
    // Extend the run over records that are close enough to read in the same call.
    const int64_t first = requests[i].record;
    int64_t last = first;
    size_t j = i;
    while (j + 1 < requests.size()) {
      const int64_t next = requests[j + 1].record;
      const bool near = (next - last - 1) * layout.record_bytes <= kMaxGapBytes;
      const bool small = (next - first + 1) * layout.record_bytes <= kMaxRunBytes;
      if (!near || !small) break;
      last = next;
      ++j;
    }
    const int64_t begin = offset_of(first);
    const int64_t count = (last - first) * layout.record_bytes + layout.payload_offset + layout.payload_bytes;
    buffer.resize(static_cast<size_t>(count));
    int64_t done = 0;
    while (done < count) {
      const ssize_t got = ::pread(fd.get(), buffer.data() + done, static_cast<size_t>(count - done),
                                  static_cast<off_t>(begin + done));
      MESL_CHECK(got >= 0, DataError, "cannot read ", path, ": ", std::strerror(errno),
                 "; check the file system");
      MESL_CHECK(got > 0, DataError, path, " is truncated: expected at least ", begin + count, " bytes, found ",
                 begin + done, "; download it again");
      done += got;
    }
    for (size_t k = i; k <= j; ++k) {
      const auto at = static_cast<size_t>((requests[k].record - first) * layout.record_bytes + layout.payload_offset);
      std::memcpy(out + static_cast<size_t>(requests[k].slot) * payload, buffer.data() + at, payload);
    }
    i = j + 1;
  }
}

void check_indices(const std::vector<int64_t>& indices, int64_t size, const std::string& what) {
  for (const int64_t index : indices) {
    MESL_CHECK(index >= 0 && index < size, DataError, "index ", index, " is out of range for ", what, " with ",
               size, " samples; use indices in [0, ", size, ")");
  }
}

}  // namespace mesl::data::detail
