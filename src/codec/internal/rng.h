#pragma once
// The random draws of randomized top-k (rt), the same in the fast and the reference implementation and on every
// platform: a counter-based stream (splitmix64 seeding xoshiro256**, mesl/util/random.h) and integer sampling by
// rejection, with no std::*_distribution (whose output differs between standard libraries).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "mesl/util/random.h"

namespace mesl::codec::detail {

// The shared generator (mesl/util/random.h), one independent stream per (seed, draw, row): draw counts the encodes,
// row is the sample row (0 for batch).
class Rng {
 public:
  Rng(uint64_t seed, uint64_t draw, uint64_t row)
      : gen_(seed ^ (0xD1B54A32D192ED03ull * (draw + 1)) ^ (0x8CB92BA72F3D8DD7ull * (row + 1))) {}
  uint64_t next() { return gen_.next(); }
  double uniform() { return gen_.uniform(); }  // [0, 1)
  // Uniform integer in [0, n), n >= 1, unbiased (rejection on the top of the range). The rejection limit, a
  // division, is only worked out for draws in the top n values of the range, the only ones it can reject.
  uint64_t below(uint64_t n) {
    uint64_t v = next();
    while (v >= 0 - n && v >= UINT64_MAX - UINT64_MAX % n) v = next();
    return v % n;
  }

 private:
  util::Xoshiro256 gen_;
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

// rt's choice for one selection unit (docs/codecs.md): k positions drawn without replacement from d, where the top-k
// set (k positions) shares probability mass 1 - alpha and the other d - k positions share alpha. Returns which
// ranks of the top set and which ranks of the rest (both in index order) are chosen.
struct RtChoice {
  RankSet top;   // over [0, k)
  RankSet rest;  // over [0, d - k)
};
RtChoice rt_choose(int64_t d, int64_t k, double alpha, Rng& rng);

}  // namespace mesl::codec::detail
