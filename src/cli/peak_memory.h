#pragma once
// Peak extra resident memory of a piece of code, for benchmarks: free heap pages are returned to the OS, the
// kernel's high-water mark is reset (/proc/self/clear_refs), and the growth of the mark is read afterwards.
// Linux only; available() is false where /proc/self/clear_refs cannot be written.
#include <cstdint>

namespace mesl::cli {

class PeakMemory {
 public:
  static bool available();
  void start();
  int64_t extra_bytes() const;  // peak resident bytes above the level at start(); -1 when unavailable

 private:
  int64_t base_ = -1;
};

}  // namespace mesl::cli
