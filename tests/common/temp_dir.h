#pragma once
// A fresh directory under the system's temporary folder (TMPDIR, else /tmp) for one test, removed with everything
// in it when the test ends. The one TempDir of the C++ tests (h5, metrics, data, train).
#include <stdlib.h>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>

namespace mesl::testing {

class TempDir {
 public:
  // `prefix` names the folder (PREFIX-XXXXXX), so that one left by a killed test says whose it is.
  explicit TempDir(const std::string& prefix = "mesl-test") {
    std::string pattern = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + pattern);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // The path of `name` inside the folder.
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  std::string operator/(const std::string& name) const { return file(name); }

 private:
  std::filesystem::path path_;
};

}  // namespace mesl::testing
