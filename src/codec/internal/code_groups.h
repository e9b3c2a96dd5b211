#pragma once
// Code streams of B <= 8 bits read a group at a time, for streams that start at a byte boundary (see bits.h for
// the bit order). A group of 8 codes is exactly B bytes, read into the low 8B bits of a 64-bit word: code j in
// bits [jB, jB + B). The decoders (ms/sp/rt masks, qu codes) turn a group word into 8 floats through a GroupTable.
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "internal/simd.h"

namespace mesl::codec::detail {

// Calls f(g, word) for each whole group g in the first n codes of a stream. Groups are read as one 8-byte load
// while 8 bytes remain in the stream (a load of B bytes goes through memory and stalls the load that follows).
template <int B, typename F>
inline void for_each_group(const uint8_t* codes, int64_t n, F&& f) {
  static_assert(B >= 1 && B <= 8, "groups of codes of 1..8 bits");
  const int64_t groups = n / 8, bytes = (n * B + 7) / 8;
  const int64_t fast = bytes >= 8 ? std::min(groups, (bytes - 8) / B + 1) : 0;
  constexpr uint64_t mask = B == 8 ? ~uint64_t{0} : (uint64_t{1} << (8 * B)) - 1;
  for (int64_t g = 0; g < fast; ++g) {
    uint64_t w;
    std::memcpy(&w, codes + g * B, 8);
    f(g, w & mask);
  }
  for (int64_t g = fast; g < groups; ++g) {
    uint64_t w = 0;
    std::memcpy(&w, codes + g * B, B);
    f(g, w);
  }
}

// Decodes the whole groups of the first n codes of a stream into out[0, n / 8 * 8): fill(w, o) writes the 8 floats
// of group word w at o. With `stream` (an output too large to stay cached: stream_output in isa.h) a group goes
// through a local buffer and out with two non-temporal stores, which skip the read of each line that a plain
// store makes first; where there is no SSE2, or `out` is not 16-byte aligned, plain stores write it.
//
// Only qu decodes through here. The sparse decoders overwrite kept positions after the table's values, one float
// at a time; streamed, that made sp decoding 10-30% slower and ms no faster (docs/performance.md), so they keep
// plain stores.
template <int B, typename Fill>
inline void write_groups(const uint8_t* codes, int64_t n, float* out, bool stream, Fill&& fill) {
#if MESL_CODEC_SIMD
  if (stream && reinterpret_cast<uintptr_t>(out) % 16 == 0) {
    for_each_group<B>(codes, n, [&](int64_t g, uint64_t w) {
      alignas(16) float v[8];
      fill(w, v);
      _mm_stream_ps(out + 8 * g, _mm_load_ps(v));
      _mm_stream_ps(out + 8 * g + 4, _mm_load_ps(v + 4));
    });
    _mm_sfence();  // streamed stores are weakly ordered: make them visible before the caller's chunk ends
    return;
  }
#endif
  for_each_group<B>(codes, n, [&](int64_t g, uint64_t w) { fill(w, out + 8 * g); });
}

// Bit jB of the result is set where the low `width` bits of the code in bits [jB, jB + B) of w are all ones (for
// every code w holds: a group word, or a whole word of 64 / B codes when B divides 64).
template <int B>
inline uint64_t ones_at(uint64_t w, int width) {
  constexpr uint64_t kLowBits = [] {
    uint64_t p = 0;
    for (int j = 0; j * B < 64; ++j) p |= uint64_t{1} << (j * B);
    return p;
  }();
  if (width <= 3) {  // at most 2 shifts and 3 ands
    uint64_t r = w;
    for (int s = 1; s < width; ++s) r &= w >> s;
    return r & kLowBits;
  }
  // Adding 1 to each code's low width - 1 bits carries into its bit width - 1 exactly when they are all ones (the
  // sum stays inside the code, or leaves the word from a code cut off at bit 63); that bit must be set too. Five
  // operations whatever the width: the loop of shifts (width - 1 of them) made counting the reserved codes of an
  // 8-bit mask take a third of its decode.
  const uint64_t low = kLowBits * ((uint64_t{1} << (width - 1)) - 1);
  const uint64_t top = kLowBits << (width - 1);
  return (((w & low) + kLowBits) & w & top) >> (width - 1);
}

// The values of a group word, P codes per table lookup: each entry holds the P floats its P * B index bits decode
// to (P * B <= 10 bits: tables of at most 8 KiB). Built from value(code) for every B-bit code, so a decoder gives
// exactly what it would give code by code.
template <int B>
class GroupTable {
 public:
  static constexpr int P = 8 % B == 0 ? 8 / B : (B <= 5 ? 2 : 1);
  static constexpr uint32_t kEntries = 1u << (P * B);

  template <typename ValueOf>
  explicit GroupTable(ValueOf&& value_of) {
    float value[1 << B];
    for (uint32_t c = 0; c < (1u << B); ++c) value[c] = value_of(c);
    for (uint32_t e = 0; e < kEntries; ++e)
      for (int i = 0; i < P; ++i) table_[e][i] = value[(e >> (i * B)) & ((1u << B) - 1)];
  }

  // The P floats of entry e (e < kEntries), 4P-byte aligned: the vector decoders load them as one vector.
  const float* entry(uint32_t e) const { return table_[e]; }

  // The 8 values of group word w, stored at out[0..8).
  void decode(uint64_t w, float* out) const {
    for (int i = 0; i < 8 / P; ++i)
      std::memcpy(out + i * P, table_[(w >> (i * P * B)) & (kEntries - 1)], sizeof(float) * P);
  }

 private:
  alignas(64) float table_[kEntries][P];
};

}  // namespace mesl::codec::detail
