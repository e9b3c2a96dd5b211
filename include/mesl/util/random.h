#pragma once
// The one random generator of mesl: splitmix64 to mix seeds and xoshiro256** (Blackman and Vigna) to generate, both
// exact integer arithmetic, so that every platform and standard library draws the same numbers (std::*_engine is
// portable but std::*_distribution is not). Header-only and free of dependencies: the codec part (LibTorch alone),
// the data part and the training part all draw from it, each with its own samplers on top (data/random.h,
// codec/internal/rng.h) and its own seeds, so that their streams stay apart.
#include <cstdint>

namespace mesl::util {

// One splitmix64 step: advances `state` and returns a well-mixed 64-bit value.
inline uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// xoshiro256**, its four words seeded through splitmix64 from one 64-bit seed, as its authors recommend.
class Xoshiro256 {
 public:
  explicit Xoshiro256(uint64_t seed) {
    uint64_t s = seed;
    for (auto& word : state_) word = splitmix64(s);
  }

  uint64_t next() {
    const uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

  // Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t state_[4];
};

}  // namespace mesl::util
