#pragma once
// Four-lane SIMD operations for the fast kernels, on SSE2 (part of every x86-64 CPU, so no run-time dispatch).
//
// Kernels process groups of 16 elements (four vectors) and fall back to their scalar element-by-element code for
// the tails; on a CPU without SSE2 (MESL_CODEC_SIMD == 0) the scalar code runs everywhere. Both compute the same
// float32 operations, so the results are identical either way.
#include <cstdint>
#include <cstring>

#if defined(__SSE2__) && defined(__x86_64__)
#include <emmintrin.h>
#define MESL_CODEC_SIMD 1
#else
#define MESL_CODEC_SIMD 0
#endif

namespace mesl::codec::detail {

inline constexpr int kGroup = 16;  // elements per SIMD group: 16 codes of B bits are exactly 2B bytes

#if MESL_CODEC_SIMD
namespace simd {

using I = __m128i;
using F = __m128;

inline I load(const float* p) { return _mm_loadu_si128(reinterpret_cast<const I*>(p)); }
inline I splat(int32_t v) { return _mm_set1_epi32(v); }
inline I zero() { return _mm_setzero_si128(); }
// Lane-wise signed compares give all-ones / all-zeros lanes. Magnitude keys are below 2^31, so signed compares
// order them correctly.
inline I gt(I a, I b) { return _mm_cmpgt_epi32(a, b); }
inline I eq(I a, I b) { return _mm_cmpeq_epi32(a, b); }
inline I add(I a, I b) { return _mm_add_epi32(a, b); }
inline I sub(I a, I b) { return _mm_sub_epi32(a, b); }
inline I vand(I a, I b) { return _mm_and_si128(a, b); }
inline I vor(I a, I b) { return _mm_or_si128(a, b); }
inline I vxor(I a, I b) { return _mm_xor_si128(a, b); }
inline I andnot(I a, I b) { return _mm_andnot_si128(a, b); }  // ~a & b
inline I sra31(I a) { return _mm_srai_epi32(a, 31); }
inline F as_float(I a) { return _mm_castsi128_ps(a); }
inline I as_int(F a) { return _mm_castps_si128(a); }
inline F fsplat(float v) { return _mm_set1_ps(v); }
inline F fadd(F a, F b) { return _mm_add_ps(a, b); }
inline F fsub(F a, F b) { return _mm_sub_ps(a, b); }
inline F fmul(F a, F b) { return _mm_mul_ps(a, b); }
inline F fdiv(F a, F b) { return _mm_div_ps(a, b); }
inline F fmin(F a, F b) { return _mm_min_ps(a, b); }  // a < b ? a : b
inline F fmax(F a, F b) { return _mm_max_ps(a, b); }  // a > b ? a : b
inline I truncate(F a) { return _mm_cvttps_epi32(a); }
inline bool any(I m) { return _mm_movemask_epi8(m) != 0; }
inline unsigned lane_bits(I m) { return static_cast<unsigned>(_mm_movemask_ps(_mm_castsi128_ps(m))); }
inline unsigned group_bits(const I (&m)[4]) {
  return lane_bits(m[0]) | lane_bits(m[1]) << 4 | lane_bits(m[2]) << 8 | lane_bits(m[3]) << 12;
}
// Sum of the four int32 lanes.
inline int64_t lane_sum(I a) {
  int32_t v[4];
  std::memcpy(v, &a, sizeof v);
  return int64_t{v[0]} + v[1] + v[2] + v[3];
}
inline uint32_t lane_or(I a) {
  uint32_t v[4];
  std::memcpy(v, &a, sizeof v);
  return v[0] | v[1] | v[2] | v[3];
}

// Round half to even of 0 <= q < 2^23 without a library call: adding 2^23 leaves no fraction bits, so the FPU's
// round-to-nearest-even does the rounding, exactly as nearbyint does in the default rounding mode.
inline F round_small(F q) {
  const F magic = fsplat(8388608.0f);
  return fsub(fadd(q, magic), magic);
}

// Packs 16 codes (four vectors of four lanes, each code < 2^B, B <= 8) into the LSB-first bit stream:
// codes 0-7 are the low 8B bits of `lo`, codes 8-15 those of `hi` (8 codes of B bits are exactly B bytes).
template <int B>
inline void pack16(const I (&c)[4], uint64_t& lo, uint64_t& hi) {
  static_assert(B >= 1 && B <= 8, "pack16 packs codes of 1..8 bits");
  I v;
  if constexpr (B == 1) {
    // 0/1 codes: move each into its byte's sign bit and collect the 16 sign bits.
    const I bytes = _mm_packus_epi16(_mm_packs_epi32(c[0], c[1]), _mm_packs_epi32(c[2], c[3]));
    const auto bits = static_cast<uint64_t>(_mm_movemask_epi8(_mm_slli_epi16(bytes, 7)));
    lo = bits & 0xFF;
    hi = bits >> 8;
    return;
  } else if constexpr (B == 8) {
    v = _mm_packus_epi16(_mm_packs_epi32(c[0], c[1]), _mm_packs_epi32(c[2], c[3]));
  } else {
    // Pairs, then quads, by multiply-add (pmaddwd): lane pair (a, b) -> a + b * 2^w, which never carries.
    const I w1 = _mm_set1_epi32(1 | (1 << (16 + B)));
    const I pairs = _mm_packs_epi32(_mm_madd_epi16(_mm_packs_epi32(c[0], c[1]), w1),
                                    _mm_madd_epi16(_mm_packs_epi32(c[2], c[3]), w1));  // 8 x 2B bits
    const I quads = _mm_madd_epi16(pairs, _mm_set1_epi32(1 | (1 << (16 + 2 * B))));    // 4 x 4B bits
    // Octets: the odd 32-bit lane of each 64-bit half goes above the even one.
    const I even = _mm_and_si128(quads, _mm_set_epi32(0, -1, 0, -1));
    const I odd = _mm_mul_epu32(_mm_srli_epi64(quads, 32), _mm_set1_epi32(1 << (4 * B)));
    v = _mm_or_si128(even, odd);
  }
  lo = static_cast<uint64_t>(_mm_cvtsi128_si64(v));
  hi = static_cast<uint64_t>(_mm_cvtsi128_si64(_mm_unpackhi_epi64(v, v)));
}

}  // namespace simd
#endif

}  // namespace mesl::codec::detail
