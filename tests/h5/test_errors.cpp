// Failures: one-line H5Error messages that name the call, the object and the file, and no HDF5 dump on stderr.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <type_traits>

#include "mesl/h5/h5.h"
#include "../common/temp_dir.h"

namespace {

using mesl::h5::File;
using mesl::h5::H5Error;
using mesl::h5::Mode;

// Sends everything written to file descriptor 2 into a file until finish(), which returns it.
class CaptureStderr {
 public:
  explicit CaptureStderr(const std::string& path) : path_(path) {
    std::fflush(stderr);
    saved_ = dup(2);
    const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 2);
    close(fd);
  }
  ~CaptureStderr() { restore(); }
  std::string finish() {
    restore();
    std::ifstream in(path_);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

 private:
  void restore() {
    if (saved_ < 0) return;
    std::fflush(stderr);
    dup2(saved_, 2);
    close(saved_);
    saved_ = -1;
  }
  std::string path_;
  int saved_ = -1;
};

// The H5Error a call throws (the test fails if it throws nothing or something else).
template <typename Call>
H5Error error_of(Call&& call) {
  try {
    call();
  } catch (const H5Error& error) {
    return error;
  }
  FAIL("expected an H5Error");
  return H5Error("unreachable");
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("opening a missing file names the call, the path and the reason on one line") {
  mesl::testing::TempDir dir;
  const std::string path = dir.file("missing.h5");
  for (const Mode mode : {Mode::read_only, Mode::read_write}) {
    const H5Error error = error_of([&] { File file(path, mode); });
    const std::string message = error.what();
    CAPTURE(message);
    CHECK(contains(message, "H5Fopen"));
    CHECK(contains(message, path));
    CHECK(contains(message, "No such file or directory"));
    CHECK_FALSE(contains(message, "\n"));
    CHECK(error.reason() == "No such file or directory");
  }
}

TEST_CASE("creating a file in a missing directory names the path") {
  mesl::testing::TempDir dir;
  const std::string path = dir.file("no/such/dir/run.h5");
  for (const Mode mode : {Mode::create_truncate, Mode::create_exclusive}) {
    const H5Error error = error_of([&] { File file(path, mode); });
    const std::string message = error.what();
    CAPTURE(message);
    CHECK(contains(message, "H5Fcreate"));
    CHECK(contains(message, path));
    CHECK(contains(message, "No such file or directory"));
    CHECK(contains(message, "directory exists and is writable"));
    CHECK_FALSE(contains(message, "\n"));
  }
}

TEST_CASE("opening a file that is not HDF5, or creating one exclusively over a file, fails") {
  mesl::testing::TempDir dir;
  const std::string junk = dir.file("junk.h5");
  std::ofstream(junk) << "this is not an HDF5 file\n";
  const std::string message = error_of([&] { File file(junk, Mode::read_only); }).what();
  CAPTURE(message);
  CHECK(contains(message, junk));
  CHECK(contains(message, "signature"));

  const std::string existing = dir.file("existing.h5");
  { File created(existing, Mode::create_exclusive); }
  CHECK(contains(error_of([&] { File again(existing, Mode::create_exclusive); }).what(), existing));
  File truncated(existing, Mode::create_truncate);  // truncation is allowed
  CHECK(truncated.name() == "/");
  CHECK(truncated.file_path() == existing);
}

TEST_CASE("reading a missing dataset or group names it and the file") {
  mesl::testing::TempDir dir;
  const std::string path = dir.file("objects.h5");
  const File file(path, Mode::create_truncate);
  const auto group = file.create_group("g");

  const std::string dataset = error_of([&] { return file.read_tensor("missing"); }).what();
  CAPTURE(dataset);
  CHECK(contains(dataset, "H5Dopen2"));
  CHECK(contains(dataset, "'/missing'"));
  CHECK(contains(dataset, path));
  CHECK(contains(dataset, "doesn't exist"));
  CHECK_FALSE(contains(dataset, "\n"));

  const std::string nested = error_of([&] { return group.read_strings("missing"); }).what();
  CHECK(contains(nested, "'/g/missing'"));
  CHECK(contains(error_of([&] { return group.read_bytes("missing"); }).what(), path));
  CHECK(contains(error_of([&] { return file.dataset_shape("missing"); }).what(), path));

  const std::string absent_group = error_of([&] { return file.group("absent"); }).what();
  CHECK(contains(absent_group, "H5Gopen2"));
  CHECK(contains(absent_group, "'/absent'"));
  const std::string twice = error_of([&] { return file.create_group("g"); }).what();
  CHECK(contains(twice, "H5Gcreate2"));
  CHECK(contains(twice, "already exists"));
}

TEST_CASE("the wrappers print nothing to stderr and restore the caller's error handler") {
  mesl::testing::TempDir dir;
  const std::string missing = dir.file("missing.h5");
  H5E_auto2_t before_func = nullptr;
  void* before_data = nullptr;
  REQUIRE(H5Eget_auto2(H5E_DEFAULT, &before_func, &before_data) >= 0);
  REQUIRE(reinterpret_cast<void*>(before_func) != nullptr);  // HDF5's default printer is on in this process

  // Control: the bare C call does print HDF5's multi-line dump, so the capture below would see one.
  CaptureStderr bare(dir.file("bare.txt"));
  CHECK(H5Fopen(missing.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT) < 0);
  const std::string dump = bare.finish();
  CHECK(contains(dump, "HDF5-DIAG"));

  CaptureStderr wrapped(dir.file("wrapped.txt"));
  CHECK_THROWS_AS(File(missing, Mode::read_only), H5Error);
  {
    const File file(dir.file("ok.h5"), Mode::create_truncate);
    CHECK_THROWS_AS(file.read_tensor("absent"), H5Error);
    CHECK_THROWS_AS(file.int_attribute("absent"), H5Error);
    CHECK_FALSE(file.has_child("a/b/c"));
  }
  CHECK(wrapped.finish().empty());

  H5E_auto2_t after_func = nullptr;
  void* after_data = nullptr;
  REQUIRE(H5Eget_auto2(H5E_DEFAULT, &after_func, &after_data) >= 0);
  CHECK(reinterpret_cast<void*>(after_func) == reinterpret_cast<void*>(before_func));
  CHECK(after_data == before_data);
}

TEST_CASE("H5Error belongs to the project's error hierarchy, as the HDF5 part's own class") {
  const H5Error error("H5Dopen2 failed on '/x' in /tmp/f.h5: object 'x' doesn't exist", "object 'x' doesn't exist");
  const mesl::Error& as_root = error;
  CHECK(std::string(as_root.what()) == "H5Dopen2 failed on '/x' in /tmp/f.h5: object 'x' doesn't exist");
  CHECK(error.reason() == "object 'x' doesn't exist");
  // Not the metrics part's: data reads HDF5 too.
  static_assert(!std::is_base_of_v<mesl::MetricsError, H5Error>);
  static_assert(!std::is_base_of_v<mesl::DataError, H5Error>);
}
