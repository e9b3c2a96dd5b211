// Randomized top-k's draw (internal/rng.h).
#include "internal/rng.h"

#include <algorithm>

namespace mesl::codec::detail {
namespace {

// Floyd's algorithm: `count` distinct ranks of [0, n), uniformly, as a bitmap.
RankSet sample_distinct(int64_t n, int64_t count, Rng& stream) {
  RankSet set;
  set.words.assign(static_cast<size_t>(n / 64 + 2), 0);  // every rank, and a zero word past them (rank_bits)
  uint64_t* words = set.words.data();
  Rng rng = stream;  // a local copy keeps the generator's state in registers, not stored back after every draw
  // The draws depend on the stream alone, not on the set, so each is made kAhead steps early, in the same order, and
  // its word prefetched: a set over millions of ranks (rt's rest) is megabytes, and every test would otherwise wait
  // on memory.
  constexpr int64_t kAhead = 16;
  int64_t ahead[kAhead];
  const int64_t first = n - count;
  auto draw = [&](int64_t j) {
    const auto t = static_cast<int64_t>(rng.below(static_cast<uint64_t>(j + 1)));
    __builtin_prefetch(words + (t >> 6), 1);
    return t;
  };
  for (int64_t j = first; j < std::min(n, first + kAhead); ++j) ahead[j & (kAhead - 1)] = draw(j);
  for (int64_t j = first; j < n; ++j) {
    int64_t& slot = ahead[j & (kAhead - 1)];
    int64_t t = slot;
    if (j + kAhead < n) slot = draw(j + kAhead);
    // t if not yet in the set, else j, without a branch: late in a dense draw (rt's top set) most ranks are taken,
    // at random, and a branch on it would mispredict.
    const auto taken = static_cast<int64_t>((words[t >> 6] >> (t & 63)) & 1);
    t ^= (t ^ j) & -taken;
    words[t >> 6] |= uint64_t{1} << (t & 63);
  }
  stream = rng;
  return set;
}

// Set bits in words[0, count). On x86-64 with GCC, also compiled for CPUs with the popcnt instruction and picked
// at load time: the baseline calls libgcc's popcount, about 1 ms for the 262,144 words of a 16.8M-element unit.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("popcnt", "default")))
#endif
int64_t count_ones(const uint64_t* words, int64_t count) {
  int64_t n = 0;
  for (int64_t w = 0; w < count; ++w) n += __builtin_popcountll(words[w]);
  return n;
}

}  // namespace

int64_t RankSet::count_below(int64_t r) const {
  const int64_t full = r >> 6;
  int64_t n = count_ones(words.data(), full);
  if (r & 63) n += __builtin_popcountll(words[static_cast<size_t>(full)] & ((uint64_t{1} << (r & 63)) - 1));
  return n;
}

RtChoice rt_choose(int64_t d, int64_t k, double alpha, Rng& stream) {
  // Drawing without replacement from two classes of equal-weight positions: which class each draw comes from
  // follows the remaining masses; within a class every position is equally likely, so the set drawn from each
  // class is a uniform subset of the size the class draws gave.
  const int64_t rest = d - k;
  const double w_top = k > 0 ? (1.0 - alpha) / static_cast<double>(k) : 0.0;
  const double w_rest = rest > 0 ? alpha / static_cast<double>(rest) : 0.0;
  // The remaining class sizes are counted in doubles, which hold them exactly (d < 2^53): the products below are
  // then the same as from integers, without two conversions per draw.
  double m_top = static_cast<double>(k), m_rest = static_cast<double>(rest);
  Rng rng = stream;  // as in sample_distinct
  int64_t i = 0;
  // While both classes have positions left, a draw takes one from one of them, so the next min(m_top, m_rest) draws
  // need no check for an empty class: without those two compares the loop takes 0.85x the time. (a + b > 0 holds
  // there once a weight is positive.) The loop below finishes with the checks.
  if (w_top > 0 || w_rest > 0) {
    for (int64_t steps; (steps = std::min(k - i, static_cast<int64_t>(std::min(m_top, m_rest)))) > 0; i += steps) {
      for (int64_t s = 0; s < steps; ++s) {
        const double a = m_top * w_top, b = m_rest * w_rest;
        if (rng.uniform() * (a + b) < a) m_top -= 1;
        else m_rest -= 1;
      }
    }
  }
  for (; i < k; ++i) {
    bool top;
    if (m_rest == 0) top = true;
    else if (m_top == 0) top = false;
    else {
      const double a = m_top * w_top, b = m_rest * w_rest;
      top = a + b > 0 ? rng.uniform() * (a + b) < a : true;
    }
    if (top) m_top -= 1;
    else m_rest -= 1;
  }
  stream = rng;
  const int64_t from_top = k - static_cast<int64_t>(m_top);
  RtChoice choice;
  choice.top = sample_distinct(k, from_top, stream);
  choice.rest = sample_distinct(rest, k - from_top, stream);
  return choice;
}

}  // namespace mesl::codec::detail
