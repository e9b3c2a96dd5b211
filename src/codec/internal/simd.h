#pragma once
// Whether the fast kernels have vector loops (x86-64: SSE2 is part of every such CPU), the group size they work in,
// and the SSE2 code packer they share.
//
// Kernels process groups of 16 elements (internal/lanes.inc, compiled per instruction set: internal/isa.h) and fall
// back to their scalar element-by-element code for the tails; without SSE2 (MESL_CODEC_SIMD == 0) the scalar code
// runs everywhere. Both compute the same float32 operations, so the results are identical either way.
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

// The second half of pack16 (below) for 2 <= B <= 7: `pairs` holds 8 16-bit lanes, each two codes (a + b * 2^B).
template <int B>
inline void pack_pairs(I pairs, uint64_t& lo, uint64_t& hi) {
  const I quads = _mm_madd_epi16(pairs, _mm_set1_epi32(1 | (1 << (16 + 2 * B))));  // 4 x 4B bits
  // Octets: the odd 32-bit lane of each 64-bit half goes above the even one.
  const I even = _mm_and_si128(quads, _mm_set_epi32(0, -1, 0, -1));
  const I odd = _mm_mul_epu32(_mm_srli_epi64(quads, 32), _mm_set1_epi32(1 << (4 * B)));
  const I v = _mm_or_si128(even, odd);
  lo = static_cast<uint64_t>(_mm_cvtsi128_si64(v));
  hi = static_cast<uint64_t>(_mm_cvtsi128_si64(_mm_unpackhi_epi64(v, v)));
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
    pack_pairs<B>(pairs, lo, hi);
    return;
  }
  lo = static_cast<uint64_t>(_mm_cvtsi128_si64(v));
  hi = static_cast<uint64_t>(_mm_cvtsi128_si64(_mm_unpackhi_epi64(v, v)));
}

}  // namespace simd
#endif

}  // namespace mesl::codec::detail
