#pragma once
// CUDA kernels for ms (mask-encoded sparsification) with batch scope: the GPU counterpart of fast_sparse.cpp.
//
// Plain C++ over raw device pointers, so that nvcc never parses LibTorch's headers: the caller (cuda_codec.cpp)
// allocates memory with LibTorch's caching allocator and passes it in. Everything runs on the legacy default
// stream of `device`, the stream LibTorch's own operations use unless a caller changes it, so the kernels are
// ordered with the operations that produced x and that consume the results.
//
// The bytes are fast_sparse.cpp's: the same 31-bit magnitude keys, the same threshold and tie rule (ties at the
// threshold kept lowest index first), the same float32 expressions ((|x| * L) / t, rint or floor, clamp; decode
// (c * t) / L), compiled without FMA contraction and with IEEE division. tests/codec/test_codec_cuda.cpp checks
// them byte for byte against the CPU.
#include <cstddef>
#include <cstdint>

namespace mesl::codec::detail::gpu {

// What the first pass over an input learned.
struct ScanFlags {
  bool negative = false;   // some x < 0 (-0.0 does not count)
  bool nonfinite = false;  // some NaN or Inf
};

struct MsEncodeArgs {
  int device = 0;
  const float* x = nullptr;  // d contiguous float32 on `device`
  int64_t d = 0;             // 1 <= d < 2^31
  int64_t k = 0;             // 0 <= k <= d
  int bits = 2;              // 1..8
  bool is_signed = false;
  bool floor_rounding = false;
  void* scratch = nullptr;   // ms_scratch_bytes(d) bytes on `device`
  uint8_t* body = nullptr;   // codes_bytes + 4 k bytes on `device`
  int64_t codes_bytes = 0;   // ceil(d * bits / 8)
};

// Device scratch that one encode or decode of d elements needs.
size_t ms_scratch_bytes(int64_t d);

// First pass: the flags (which decide the sign mode or refuse the input), and the histogram of the top key digit
// that ms_encode continues from. Waits for the result.
ScanFlags ms_scan(const MsEncodeArgs& a);

// Selects the k largest |x| (continuing from ms_scan, which must have run on the same scratch), then writes the
// body: the code stream and the kept values in position order. Asynchronous.
void ms_encode(const MsEncodeArgs& a);

struct MsDecodeArgs {
  int device = 0;
  const uint8_t* body = nullptr;  // codes_bytes + 4 kept bytes on `device`
  int64_t d = 0;                  // 1 <= d < 2^31
  int64_t kept = 0;
  int bits = 2;
  bool is_signed = false;
  int64_t codes_bytes = 0;
  void* scratch = nullptr;  // ms_scratch_bytes(d) bytes on `device`
  float* out = nullptr;     // d float32 on `device`
};

// What a body claims, for the caller to refuse a lying one before anything is decoded.
struct MsBodyCheck {
  bool nonfinite_kept = false;  // a kept value is NaN or Inf
  bool negative_kept = false;   // a kept value is negative (refused in an unsigned payload)
  bool invalid_code = false;    // a signed mask holds magnitude L without the sign bit
  int64_t reserved = 0;         // positions the mask marks as kept
};

// Checks the kept values and counts the reserved codes (per tile, kept in scratch for ms_decode). Waits.
MsBodyCheck ms_check(const MsDecodeArgs& a);

// Decodes into `out` after ms_check (same scratch) found a body worth decoding. Asynchronous.
void ms_decode(const MsDecodeArgs& a);

}  // namespace mesl::codec::detail::gpu
