#pragma once
// The random draws of randomized top-k (rt), the same in the fast and the reference implementation and on every
// platform: a counter-based stream (splitmix64 seeding xoshiro256**) and integer sampling by rejection, with no
// std::*_distribution (whose output differs between standard libraries).
#include <cstddef>
#include <cstdint>
#include <vector>

namespace mesl::codec::detail {

inline uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

class Rng {
 public:
  // One independent stream per (seed, draw, row): draw counts the encodes, row is the sample row (0 for batch).
  Rng(uint64_t seed, uint64_t draw, uint64_t row) {
    uint64_t s = seed ^ (0xD1B54A32D192ED03ull * (draw + 1)) ^ (0x8CB92BA72F3D8DD7ull * (row + 1));
    for (auto& w : state_) w = splitmix64(s);
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
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)
  // Uniform integer in [0, n), n >= 1, unbiased (rejection on the top of the range). The rejection limit, a
  // division, is only worked out for draws in the top n values of the range, the only ones it can reject.
  uint64_t below(uint64_t n) {
    uint64_t v = next();
    while (v >= 0 - n && v >= UINT64_MAX - UINT64_MAX % n) v = next();
    return v % n;
  }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t state_[4];
};

// Whether ranks r, r + 1, ..., r + n - 1 of a RankSet's words are in it, as bits 0 to n - 1 (0 <= n <= 32,
// r + n <= the set's size). Reads two words whatever n, without a branch: the words end with a zero word past the
// last rank.
inline uint32_t rank_bits(const uint64_t* words, int64_t r, int n) {
  const int s = static_cast<int>(r & 63);
  words += r >> 6;
  const uint64_t v = words[0] >> s | (words[1] << 1) << (63 - s);  // two shifts: s = 0 would shift by 64
  return static_cast<uint32_t>(v & ((uint64_t{1} << n) - 1));
}

// A set of ranks in [0, n) as a bitmap, with a zero word past the last rank (rank_bits).
struct RankSet {
  std::vector<uint64_t> words;
  bool has(int64_t r) const { return (words[static_cast<size_t>(r >> 6)] >> (r & 63)) & 1; }
  // Ranks in the set below r.
  int64_t count_below(int64_t r) const;
};

// rt's choice for one selection unit (codec.md): k positions drawn without replacement from d, where the top-k
// set (k positions) shares probability mass 1 - alpha and the other d - k positions share alpha. Returns which
// ranks of the top set and which ranks of the rest (both in index order) are chosen.
struct RtChoice {
  RankSet top;   // over [0, k)
  RankSet rest;  // over [0, d - k)
};
RtChoice rt_choose(int64_t d, int64_t k, double alpha, Rng& rng);

}  // namespace mesl::codec::detail
