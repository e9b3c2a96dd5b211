#pragma once
// Which vector instruction set the fast CPU kernels run with.
//
// On x86-64 the kernels' group loops (16 elements at a time, internal/lanes.inc) are compiled three times, by
// internal/per_isa.inc: for SSE2, which every x86-64 CPU has, and, with GCC, for AVX2 (8-lane vectors; Intel since
// 2013, AMD since 2015) and AVX-512 (F, BW, DQ and VL: one 16-lane vector and mask registers; Intel server CPUs
// since 2017, AMD since Zen 4, 2022) under `#pragma GCC target`. The process picks one set at its first use: the
// best the CPU and the OS support, unless the environment variable MESL_CODEC_ISA names another (sse2, avx2,
// avx512); tests and benchmarks switch with mesl::codec::set_kernel_isa. All give identical bytes: every lane
// operation is exact or the same IEEE float32 operation the scalar code does.
#include <cstdint>

#include "internal/simd.h"

#if MESL_CODEC_SIMD && defined(__GNUC__) && !defined(__clang__)
#include <immintrin.h>
#define MESL_CODEC_AVX2 1
#else
#define MESL_CODEC_AVX2 0
#endif

// MESL_ISA_CALL(f(args)) calls avx512::f(args), avx2::f(args) or sse2::f(args) (internal/per_isa.inc), whichever
// active_isa() names; only where MESL_CODEC_SIMD is 1 (without SIMD there are no group loops to call). (GCC builds
// have AVX-512 whenever they have AVX2: MESL_CODEC_AVX2 covers both.)
#if MESL_CODEC_AVX2
#define MESL_ISA_CALL(call)                                                                      \
  (active_isa() == Isa::avx512 ? avx512::call : active_isa() == Isa::avx2 ? avx2::call : sse2::call)
#elif MESL_CODEC_SIMD
#define MESL_ISA_CALL(call) (sse2::call)
#endif

namespace mesl::codec::detail {

enum class Isa { scalar, sse2, avx2, avx512 };

// The instruction set in use (chosen once, then whatever set_kernel_isa last chose).
Isa active_isa();

// Whether a decoder writes an output of `bytes` bytes with streaming stores (write_groups in code_groups.h).
bool stream_output(int64_t bytes);

}  // namespace mesl::codec::detail
