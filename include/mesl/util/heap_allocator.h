#pragma once
// LibTorch's CPU allocator asks glibc for 64-byte-aligned blocks (posix_memalign). glibc serves an aligned request
// from a region larger than the block and cannot hand a freed aligned block back for the next aligned request of
// the same size, so a process that allocates and frees the same large tensors step after step keeps growing into
// fresh memory, and every first touch of a fresh 4 KiB page is a page fault: on this project's VM, a quarter to a
// third of the time of `mesl codec bench` decode and of training steps (docs/performance.md, "Memory").
//
// HeapCpuAllocator asks for plain malloc(n + 64) blocks instead, which glibc reuses exactly, and aligns inside
// them; the malloc'd address is kept just below the data, so data and context stay one pointer, as
// c10::Allocator::raw_allocate requires. With keep_freed_memory() (allocator.h), a steady training loop then runs
// without page faults. install_heap_allocator() makes it LibTorch's CPU allocator; call it first thing in main().
#include <c10/core/CPUAllocator.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

namespace mesl {

class HeapCpuAllocator final : public c10::Allocator {
 public:
  static constexpr size_t kAlignment = 64;  // LibTorch's (c10::gAlignment): wide enough for AVX-512 loads

  // c10::Allocator changed between LibTorch 1.13 and 2.x: allocate() lost its const, and copy_data() became pure
  // virtual. Both forms are defined here without `override`: whichever the base class declares is overridden, the
  // other is an ordinary member, so the class builds against either version.
  c10::DataPtr allocate(size_t bytes) const {
    void* data = allocate_raw(bytes);
    return {data, data, &release, c10::Device(c10::DeviceType::CPU)};
  }
  c10::DataPtr allocate(size_t bytes) { return static_cast<const HeapCpuAllocator&>(*this).allocate(bytes); }
  void copy_data(void* dest, const void* src, size_t count) const {
    if (count > 0) std::memcpy(dest, src, count);
  }
  c10::DeleterFnPtr raw_deleter() const { return &release; }

 private:
  static void* allocate_raw(size_t bytes) {
    // The malloc'd address goes in the 8 bytes below the aligned data: malloc returns 16-byte aligned memory, so
    // rounding raw + 8 up to 64 moves at most 56 bytes further, and kAlignment extra bytes cover both.
    void* raw = std::malloc(bytes + kAlignment);
    if (raw == nullptr) throw std::bad_alloc();
    const auto at = (reinterpret_cast<uintptr_t>(raw) + sizeof(void*) + kAlignment - 1) & ~(kAlignment - 1);
    void* data = reinterpret_cast<void*>(at);
    std::memcpy(static_cast<char*>(data) - sizeof(void*), &raw, sizeof(void*));
    return data;
  }
  static void release(void* data) {
    if (data == nullptr) return;
    void* raw = nullptr;
    std::memcpy(&raw, static_cast<char*>(data) - sizeof(void*), sizeof(void*));
    std::free(raw);
  }
};

// Makes HeapCpuAllocator LibTorch's CPU allocator (unless MESL_GLIBC_MALLOC=1, for measuring what it is worth).
inline void install_heap_allocator() {
  const char* skip = std::getenv("MESL_GLIBC_MALLOC");
  if (skip != nullptr && std::strcmp(skip, "1") == 0) return;
  static HeapCpuAllocator allocator;
  c10::SetCPUAllocator(&allocator, /*priority=*/1);
}

}  // namespace mesl
