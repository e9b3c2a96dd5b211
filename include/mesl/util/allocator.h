#pragma once
// LibTorch allocates and frees large tensors on every operation. glibc serves blocks above 128 KiB with mmap and
// trims the heap top eagerly, so each operation page-faults its memory in again (docs/performance.md, "Memory").
// keep_freed_memory() makes glibc keep freed memory in the process instead; heap_allocator.h does the rest.
// Call it first thing in main(). MESL_GLIBC_MALLOC=1 in the environment skips it (for the benchmark that measures
// what it is worth).
#include <malloc.h>

#include <cstdlib>
#include <cstring>

namespace mesl {

inline void keep_freed_memory() {
  const char* skip = std::getenv("MESL_GLIBC_MALLOC");
  if (skip != nullptr && std::strcmp(skip, "1") == 0) return;
  // M_MMAP_THRESHOLD cannot go above 32 MiB (glibc refuses larger values), and activations of a large batch are
  // bigger than that: M_MMAP_MAX = 0 serves every size from the heap (glibc still falls back to mmap when the heap
  // cannot grow).
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, 1024 * 1024 * 1024);
  mallopt(M_TOP_PAD, 64 * 1024 * 1024);
}

}  // namespace mesl
