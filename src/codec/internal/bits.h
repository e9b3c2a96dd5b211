#pragma once
// Bit-level helpers shared by the fast kernels: float <-> bits, and packing codes of B bits, 8 at a time.
//
// Codes are packed LSB-first into a little-endian bit stream: code i occupies stream bits [i*B, i*B + B), and
// stream bit j is bit (j % 8) of byte j / 8. Eight codes of B bits are exactly B bytes, so a stream that starts at
// an element index divisible by 8 starts on a byte boundary; parallel chunks are cut at such indices.
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace mesl::codec::detail {

inline uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

inline float bits_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// |x| as an unsigned key whose integer order is the order of |x| for finite floats (-0.0 maps to 0).
inline uint32_t magnitude_key(float f) { return float_bits(f) & 0x7FFFFFFFu; }

inline constexpr uint32_t kNonFiniteKey = 0x7F800000u;  // keys >= this are Inf or NaN

// Stores 8 codes of B bits (1..16) as exactly B bytes at `out` (only the first `bytes` of them when the stream
// ends early).
template <int B>
inline void store_group(const uint32_t (&codes)[8], uint8_t* out, int bytes = B) {
  static_assert(B >= 1 && B <= 16, "code width");
  uint64_t lo = 0, hi = 0;
  for (int j = 0; j < 8; ++j) {
    const uint64_t v = codes[j];
    const int p = j * B;
    if (p >= 64) {
      hi |= v << (p - 64);
    } else {
      lo |= v << p;
      if (p + B > 64) hi |= v >> (64 - p);
    }
  }
  if (bytes == B) {
    std::memcpy(out, &lo, B < 8 ? B : 8);
    if (B > 8) std::memcpy(out + 8, &hi, B > 8 ? B - 8 : 0);
  } else {
    uint8_t tmp[16];
    std::memcpy(tmp, &lo, 8);
    std::memcpy(tmp + 8, &hi, 8);
    std::memcpy(out, tmp, static_cast<size_t>(bytes));
  }
}

// Loads 8 codes of B bits from B bytes at `in` (only `bytes` of them are read; missing bytes read as zero).
template <int B>
inline void load_group(const uint8_t* in, uint32_t (&codes)[8], int bytes = B) {
  uint8_t tmp[16] = {0};
  std::memcpy(tmp, in, static_cast<size_t>(bytes));
  uint64_t lo, hi;
  std::memcpy(&lo, tmp, 8);
  std::memcpy(&hi, tmp + 8, 8);
  constexpr uint64_t mask = (uint64_t{1} << B) - 1;
  for (int j = 0; j < 8; ++j) {
    const int p = j * B;
    uint64_t v;
    if (p >= 64) {
      v = hi >> (p - 64);
    } else {
      v = lo >> p;
      if (p + B > 64) v |= hi << (64 - p);
    }
    codes[j] = static_cast<uint32_t>(v & mask);
  }
}

// Writes a code stream of B-bit codes starting at a byte boundary. Call finish() once at the end.
template <int B>
class CodeWriter {
 public:
  explicit CodeWriter(uint8_t* out, int64_t total_codes) : out_(out), remaining_(total_codes) {}
  inline void put(uint32_t code) {
    group_[fill_++] = code;
    if (fill_ == 8) {
      store_group<B>(group_, out_);
      out_ += B;
      fill_ = 0;
      remaining_ -= 8;
    }
  }
  // True between groups of 8 codes: the stream is on a byte boundary and the raw access below may be used.
  bool at_group_start() const { return fill_ == 0; }
  // Where the next group's bytes go, for a caller that packs codes itself, and how it moves past them
  // (`bytes` is a whole number of groups: a multiple of B).
  uint8_t* peek_bytes() const { return out_; }
  void skip_bytes(int bytes) {
    out_ += bytes;
    remaining_ -= bytes / B * 8;
  }
  void finish() {
    if (fill_ == 0) return;
    for (int j = fill_; j < 8; ++j) group_[j] = 0;
    const int bytes = static_cast<int>((static_cast<int64_t>(fill_) * B + 7) / 8);
    store_group<B>(group_, out_, bytes);
    out_ += bytes;
    fill_ = 0;
  }

 private:
  uint8_t* out_;
  int64_t remaining_;
  uint32_t group_[8] = {0};
  int fill_ = 0;
};

// Reads `total_codes` codes of B bits from a stream that starts at a byte boundary.
template <int B>
class CodeReader {
 public:
  CodeReader(const uint8_t* in, int64_t total_codes) : in_(in), remaining_(total_codes) {}
  inline uint32_t get() {
    if (pos_ == 8) refill();
    return group_[pos_++];
  }

 private:
  void refill() {
    const int64_t n = remaining_ < 8 ? remaining_ : 8;
    const int bytes = static_cast<int>((n * B + 7) / 8);
    load_group<B>(in_, group_, bytes);
    in_ += bytes;
    remaining_ -= n;
    pos_ = 0;
  }
  const uint8_t* in_;
  int64_t remaining_;
  uint32_t group_[8] = {0};
  int pos_ = 8;
};

// Calls f(std::integral_constant<int, B>{}) with B = bits (1..16), so that a generic lambda
// [&](auto b) { constexpr int B = decltype(b)::value; ... } runs with the width as a compile-time constant.
template <typename F>
decltype(auto) dispatch_bits(int bits, F&& f) {
  switch (bits) {
    case 1: return f(std::integral_constant<int, 1>{});
    case 2: return f(std::integral_constant<int, 2>{});
    case 3: return f(std::integral_constant<int, 3>{});
    case 4: return f(std::integral_constant<int, 4>{});
    case 5: return f(std::integral_constant<int, 5>{});
    case 6: return f(std::integral_constant<int, 6>{});
    case 7: return f(std::integral_constant<int, 7>{});
    case 8: return f(std::integral_constant<int, 8>{});
    case 9: return f(std::integral_constant<int, 9>{});
    case 10: return f(std::integral_constant<int, 10>{});
    case 11: return f(std::integral_constant<int, 11>{});
    case 12: return f(std::integral_constant<int, 12>{});
    case 13: return f(std::integral_constant<int, 13>{});
    case 14: return f(std::integral_constant<int, 14>{});
    case 15: return f(std::integral_constant<int, 15>{});
    default: return f(std::integral_constant<int, 16>{});
  }
}

}  // namespace mesl::codec::detail
