#include "peak_memory.h"

#include <malloc.h>

#include <fstream>
#include <sstream>
#include <string>

namespace mesl::cli {
namespace {

int64_t status_kib(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) {
      std::istringstream fields(line.substr(field.size() + 1));
      int64_t kib = -1;
      fields >> kib;
      return kib;
    }
  }
  return -1;
}

bool reset_high_water_mark() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
  out.flush();
  return out.good();
}

}  // namespace

bool PeakMemory::available() { return reset_high_water_mark() && status_kib("VmHWM") >= 0; }

void PeakMemory::start() {
  malloc_trim(0);
  base_ = reset_high_water_mark() ? status_kib("VmRSS") : -1;
}

int64_t PeakMemory::extra_bytes() const {
  if (base_ < 0) return -1;
  const int64_t peak = status_kib("VmHWM");
  return peak < 0 ? -1 : (peak > base_ ? (peak - base_) * 1024 : 0);
}

}  // namespace mesl::cli
