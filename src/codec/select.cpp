// Exact top-k selection of magnitudes (see internal/select.h): sample bracket + one counting pass, with a radix
// select as the fallback and nth_element for small units.
#include "internal/select.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>

#include "internal/bits.h"
#include "internal/isa.h"
#include "internal/simd.h"

namespace mesl::codec::detail {
namespace {

constexpr int kHighBits = 15;  // radix fallback: keys are 31 bits, 15 high + 16 low
constexpr uint32_t kHighBins = 1u << kHighBits;
constexpr uint32_t kLowBins = 1u << 16;
constexpr int64_t kMinChunk = 1 << 16;
constexpr int64_t kMaxChunk = int64_t{1} << 31;
constexpr int64_t kSmallUnit = 256;  // units up to this size: nth_element on a copy of their keys
constexpr int64_t kMaxSample = 1 << 14;
constexpr double kBracketSigmas = 4.5;   // bracket half-width in standard deviations of the sampled rank

inline void note(uint32_t u, ScanFlags& f) {
  const uint32_t key = u & 0x7FFFFFFFu;
  f.negative |= (u >> 31) && key != 0;
  f.nonfinite |= key >= kNonFiniteKey;
}

// ---- flags ---------------------------------------------------------------------------------------------------

// Whether x[b, e) holds a negative value other than -0.0 (stops at the first).
bool has_negative(const float* x, int64_t b, int64_t e) {
  for (int64_t i = b; i < e; ++i) {
    const uint32_t u = float_bits(x[i]);
    if ((u >> 31) && (u & 0x7FFFFFFFu) != 0) return true;
  }
  return false;
}

// ---- small units: nth_element on a copy of the keys ------------------------------------------------------------

Threshold select_small(const float* x, int64_t n, int64_t k, ScanFlags& flags) {
  std::vector<uint32_t> keys(static_cast<size_t>(n));
  ScanFlags f;
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t u = float_bits(x[i]);
    note(u, f);
    keys[static_cast<size_t>(i)] = u & 0x7FFFFFFFu;
  }
  flags.merge(f);
  std::nth_element(keys.begin(), keys.begin() + (k - 1), keys.end(), std::greater<uint32_t>());
  Threshold t;
  t.key = keys[static_cast<size_t>(k - 1)];
  int64_t greater = 0, equal = 0;
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t key = magnitude_key(x[i]);
    greater += key > t.key;
    equal += key == t.key;
  }
  t.ties = k - greater;
  t.equal = equal;
  return t;
}

// ---- radix select (the fallback) -------------------------------------------------------------------------------

void histogram_high(const float* x, int64_t b, int64_t e, uint32_t* h, ScanFlags& flags) {
  ScanFlags f;
  for (int64_t i = b; i < e; ++i) {
    const uint32_t u = float_bits(x[i]);
    note(u, f);
    ++h[(u & 0x7FFFFFFFu) >> 16];
  }
  flags.merge(f);
}

void histogram_low(const float* x, int64_t b, int64_t e, uint32_t high_bin, uint32_t* h) {
  for (int64_t i = b; i < e; ++i) {
    const uint32_t key = magnitude_key(x[i]);
    if ((key >> 16) == high_bin) ++h[key & 0xFFFFu];
  }
}

// Walks a histogram from the top; returns the bin where the running count reaches `need` (1 <= need <= total)
// and sets `above` to the count in higher bins.
uint32_t find_bin(const std::vector<uint64_t>& hist, int64_t need, int64_t& above) {
  int64_t acc = 0;
  for (int64_t bin = static_cast<int64_t>(hist.size()) - 1; bin >= 0; --bin) {
    const auto c = static_cast<int64_t>(hist[static_cast<size_t>(bin)]);
    if (acc + c >= need) {
      above = acc;
      return static_cast<uint32_t>(bin);
    }
    acc += c;
  }
  above = acc;
  return 0;  // unreachable when need <= total
}

Selection radix_select(const float* x, int64_t k, std::vector<Chunk> chunks) {
  Selection s;
  const auto n = static_cast<int64_t>(chunks.size());
  // Pass 1: high-bit histogram per chunk (and the flags).
  std::vector<std::unique_ptr<uint32_t[]>> high(static_cast<size_t>(n));
  std::vector<ScanFlags> flags(static_cast<size_t>(n));
  for_each_chunk(n, [&](int64_t c) {
    high[c].reset(new uint32_t[kHighBins]());
    histogram_high(x, chunks[c].begin, chunks[c].end, high[c].get(), flags[c]);
  });
  for (const auto& f : flags) s.flags.merge(f);
  std::vector<uint64_t> total_high(kHighBins, 0);
  for (int64_t c = 0; c < n; ++c)
    for (uint32_t b = 0; b < kHighBins; ++b) total_high[b] += high[c][b];
  int64_t above_high = 0;
  const uint32_t high_bin = find_bin(total_high, k, above_high);

  // Pass 2: low-bit histogram of the keys in that high bin.
  std::vector<std::unique_ptr<uint32_t[]>> low(static_cast<size_t>(n));
  for_each_chunk(n, [&](int64_t c) {
    low[c].reset(new uint32_t[kLowBins]());
    histogram_low(x, chunks[c].begin, chunks[c].end, high_bin, low[c].get());
  });
  std::vector<uint64_t> total_low(kLowBins, 0);
  for (int64_t c = 0; c < n; ++c)
    for (uint32_t b = 0; b < kLowBins; ++b) total_low[b] += low[c][b];
  int64_t above_low = 0;
  const uint32_t low_bin = find_bin(total_low, k - above_high, above_low);
  s.threshold.key = (high_bin << 16) | low_bin;
  s.threshold.ties = k - above_high - above_low;
  s.threshold.equal = static_cast<int64_t>(total_low[low_bin]);

  int64_t ties_left = s.threshold.ties, before = 0;
  for (int64_t c = 0; c < n; ++c) {
    int64_t greater = 0;
    for (uint32_t b = high_bin + 1; b < kHighBins; ++b) greater += high[c][b];
    for (uint32_t b = low_bin + 1; b < kLowBins; ++b) greater += low[c][b];
    chunks[c].equal = low[c][low_bin];
    chunks[c].ties = std::min<int64_t>(ties_left, chunks[c].equal);
    ties_left -= chunks[c].ties;
    chunks[c].kept_before = before;
    chunks[c].kept = greater + chunks[c].ties;
    before += chunks[c].kept;
  }
  s.chunks = std::move(chunks);
  return s;
}

// ---- sample bracket ------------------------------------------------------------------------------------------

// A 32-bit mix of the sample index (the murmur3 finaliser): where in its stratum each sample is taken.
inline uint32_t mix32(uint32_t h) {
  h ^= h >> 16;
  h *= 0x85EBCA6Bu;
  h ^= h >> 13;
  h *= 0xC2B2AE35u;
  return h ^ (h >> 16);
}

struct Bracket {
  int32_t lo = 0, hi = INT32_MAX;  // keys in [lo, hi] are gathered, keys above hi counted
  int64_t capacity = 0;            // candidates one chunk may gather before the bracket counts as missed
  int64_t expected = 0;            // about how many keys the whole bracket holds
  uint32_t likely_max = 0;         // hi, or with hi unbounded the sample's largest key: where the binning ends
};

// Order statistics of the sample, through a histogram of its keys' top 11 bits: the r-th largest key is then
// selected among the keys of one bin. Two nth_element calls over the whole sample cost more than encoding a row
// of 65,536 elements once the row is in cache (sample scope selects every row).
class SampleOrder {
 public:
  explicit SampleOrder(const std::vector<uint32_t>& keys) : keys_(keys), hist_(kBins, 0) {
    for (uint32_t key : keys) {
      ++hist_[key >> kShift];
      top_bin_ = std::max(top_bin_, key >> kShift);
    }
  }
  // The r-th largest key (r = 0: the largest; r < the sample's size).
  uint32_t largest(int64_t r) const {
    uint32_t bin = top_bin_ + 1;  // the scan starts at the largest key's bin, not at the top of the key range
    int64_t above = 0;
    while (above + hist_[--bin] <= r) above += hist_[bin];
    std::vector<uint32_t> in_bin;
    in_bin.reserve(hist_[bin]);
    for (uint32_t key : keys_)
      if (key >> kShift == bin) in_bin.push_back(key);
    const auto nth = in_bin.begin() + (r - above);
    std::nth_element(in_bin.begin(), nth, in_bin.end(), std::greater<uint32_t>());
    return *nth;
  }

 private:
  static constexpr int kShift = 20;  // keys have 31 bits
  static constexpr uint32_t kBins = 1u << (31 - kShift);
  const std::vector<uint32_t>& keys_;
  std::vector<uint32_t> hist_;
  uint32_t top_bin_ = 0;
};

// How many keys choose_bracket samples from d: the larger of 1.3 d^(2/3) and d / 32, at most kMaxSample. Sampling
// costs m cache misses and a selection among m keys; a smaller sample widens the bracket, whose keys the pass
// gathers, by 1 / sqrt(m). Measured on rows (sample scope) of 4,096 to 200,704 elements, where d / 16, the size
// before, took about 20% longer on rows of 65,536 (docs/performance.md: "Sample scope").
int64_t sample_size(int64_t d) {
  const double c = std::cbrt(static_cast<double>(d));
  const int64_t m = std::max<int64_t>(d / 32, std::llround(1.3 * c * c));
  return std::max<int64_t>(1, std::min<int64_t>({kMaxSample, d / 4, m}));
}

// Brackets the k-th largest key between two order statistics of a stratified random sample: with m samples the
// sample rank of the k-th key has standard deviation sqrt(m p (1 - p)) around m p (p = k / d), and the bracket is
// kBracketSigmas of those wide on either side. A miss only costs time: the pass that follows detects it.
Bracket choose_bracket(const float* x, int64_t d, int64_t k) {
  const int64_t m = sample_size(d);
  const int64_t stride = d / m;
  std::vector<uint32_t> sample(static_cast<size_t>(m));
  for (int64_t j = 0; j < m; ++j) {
    const uint64_t offset = (uint64_t{mix32(static_cast<uint32_t>(j))} * static_cast<uint64_t>(stride)) >> 32;
    sample[static_cast<size_t>(j)] = magnitude_key(x[j * stride + static_cast<int64_t>(offset)]);
  }
  const double p = static_cast<double>(k) / static_cast<double>(d);
  const double centre = p * static_cast<double>(m);
  const double half = kBracketSigmas * std::sqrt(centre * (1.0 - p)) + 2.0;
  const auto top = static_cast<int64_t>(std::floor(centre - half));  // sample rank (descending) of hi
  const auto bottom = static_cast<int64_t>(std::ceil(centre + half));  // ... and of lo
  const SampleOrder order(sample);
  Bracket b;
  if (bottom < m) b.lo = static_cast<int32_t>(order.largest(bottom));
  if (top >= 0) b.hi = static_cast<int32_t>(order.largest(top));
  b.likely_max = top >= 0 ? static_cast<uint32_t>(b.hi) : order.largest(0);
  const int64_t ranks = std::min(bottom, m) - std::max<int64_t>(top, 0) + 1;
  b.expected = ranks * stride;
  b.capacity = 2 * b.expected + 4096;
  return b;
}

struct BracketCount {
  int64_t above = 0;  // keys > hi
  int64_t gathered = 0;
  bool overflow = false;
  ScanFlags flags;
};

// The group loops, once per instruction set (isa.h).
#define MESL_PER_ISA_KERNELS "select_groups.inc"
#include "internal/per_isa.inc"

ScanFlags scan_range(const float* x, int64_t b, int64_t e) {
  ScanFlags f;
  int64_t i = b;
#if MESL_CODEC_SIMD
  i = MESL_ISA_CALL(scan_groups(x, i, e, f));
#endif
  for (; i < e; ++i) note(float_bits(x[i]), f);
  return f;
}

// One pass over [b, e): counts keys above the bracket, gathers the keys inside it, and collects the flags.
BracketCount bracket_pass(const float* x, int64_t b, int64_t e, const Bracket& br, uint32_t* out) {
  BracketCount r;
  int64_t i = b;
#if MESL_CODEC_SIMD
  i = MESL_ISA_CALL(bracket_groups(x, i, e, br, out, r));
#endif
  if (r.overflow) return r;
  const auto lo = static_cast<uint32_t>(br.lo), hi = static_cast<uint32_t>(br.hi);
  for (; i < e; ++i) {  // the scalar tail (everything without SIMD)
    const uint32_t u = float_bits(x[i]);
    note(u, r.flags);
    const uint32_t key = u & 0x7FFFFFFFu;
    r.above += key > hi;
    if (key < lo || key > hi) continue;
    if (r.gathered == br.capacity) {
      r.overflow = true;
      return r;
    }
    out[r.gathered++] = key;
  }
  return r;
}

// Bins of the gathered keys: key -> (key - lo) >> shift, about 8 expected keys per bin and from 2^6 to 2^12 bins
// over [lo, likely_max], keys above in the last. The bins are cleared and scanned once per selection, which small
// rows would otherwise pay for; with hi unbounded (k near the top), bins up to hi would put every key in one bin.
struct GatherBins {
  uint32_t lo = 0;
  int shift = 0;
  uint32_t last = 0;  // the last bin
  explicit GatherBins(const Bracket& br) : lo(static_cast<uint32_t>(br.lo)) {
    int bits = 6;
    while (bits < 12 && (int64_t{8} << bits) < br.expected) ++bits;
    const uint32_t width = std::max(br.likely_max, lo) - lo;
    while ((width >> shift) >= (1u << bits)) ++shift;
    last = (1u << bits) - 1;
  }
  size_t count() const { return size_t{last} + 1; }
  uint32_t operator()(uint32_t key) const { return std::min((key - lo) >> shift, last); }
};

// The bracketed selection; returns false (and leaves `s` alone) when the bracket missed the k-th key.
bool bracket_select(const float* x, int64_t d, int64_t k, std::vector<Chunk>& chunks, Selection& s) {
  const Bracket br = choose_bracket(x, d, k);
  const GatherBins bin_of(br);
  const auto n = static_cast<int64_t>(chunks.size());
  std::vector<BracketCount> counts(static_cast<size_t>(n));
  std::vector<std::unique_ptr<uint32_t[]>> gathered(static_cast<size_t>(n));
  std::vector<std::vector<uint32_t>> hist(static_cast<size_t>(n));
  for_each_chunk(n, [&](int64_t c) {
    const int64_t len = chunks[c].end - chunks[c].begin;
    Bracket mine = br;
    mine.capacity = std::min(br.capacity, len);
    gathered[c].reset(new uint32_t[static_cast<size_t>(std::max<int64_t>(mine.capacity, 1))]);
    counts[c] = bracket_pass(x, chunks[c].begin, chunks[c].end, mine, gathered[c].get());
    if (counts[c].overflow) return;
    // A histogram of the gathered keys, while they are in this core's cache: the k-th key is then looked for
    // in one bin, not among all of them.
    hist[c].assign(bin_of.count(), 0);
    for (int64_t i = 0; i < counts[c].gathered; ++i) ++hist[c][bin_of(gathered[c][i])];
  });
  int64_t above = 0, inside = 0;
  for (const auto& c : counts) {
    if (c.overflow) return false;
    above += c.above;
    inside += c.gathered;
  }
  if (above >= k || above + inside < k) return false;

  // The k-th key is the (k - above)-th largest gathered key: find its bin from the top, then select in the bin.
  const int64_t need = k - above;
  int64_t above_bin = 0;
  uint32_t bin = 0;
  for (size_t b = bin_of.count(); b-- > 0;) {
    int64_t in_bin = 0;
    for (int64_t c = 0; c < n; ++c) in_bin += hist[c][b];
    if (above_bin + in_bin >= need) {
      bin = static_cast<uint32_t>(b);
      break;
    }
    above_bin += in_bin;
  }
  std::vector<std::vector<uint32_t>> candidates(static_cast<size_t>(n));  // per chunk, the keys in that bin
  std::vector<uint32_t> all;
  for (int64_t c = 0; c < n; ++c) {
    for (int64_t i = 0; i < counts[c].gathered; ++i)
      if (bin_of(gathered[c][i]) == bin) candidates[c].push_back(gathered[c][i]);
    all.insert(all.end(), candidates[c].begin(), candidates[c].end());
  }
  const int64_t need_in_bin = need - above_bin;
  std::nth_element(all.begin(), all.begin() + (need_in_bin - 1), all.end(), std::greater<uint32_t>());
  const uint32_t key = all[static_cast<size_t>(need_in_bin - 1)];

  for (const auto& c : counts) s.flags.merge(c.flags);
  s.threshold.key = key;
  int64_t greater_total = 0, equal_total = 0;
  for (int64_t c = 0; c < n; ++c) {
    int64_t greater = counts[c].above, equal = 0;
    for (size_t b = bin + 1; b < bin_of.count(); ++b) greater += hist[c][b];
    for (uint32_t v : candidates[c]) {
      greater += v > key;
      equal += v == key;
    }
    chunks[c].kept = greater;  // ties added below
    chunks[c].equal = equal;
    greater_total += greater;
    equal_total += equal;
  }
  s.threshold.ties = k - greater_total;
  s.threshold.equal = equal_total;
  int64_t ties_left = s.threshold.ties, before = 0;
  for (auto& c : chunks) {
    c.ties = std::min(ties_left, c.equal);
    ties_left -= c.ties;
    c.kept += c.ties;
    c.kept_before = before;
    before += c.kept;
  }
  s.chunks = std::move(chunks);
  return true;
}

}  // namespace

std::vector<Chunk> make_chunks(int64_t d, int threads) {
  int64_t n = threads > 0 ? threads : at::get_num_threads();
  n = std::max<int64_t>(1, std::min<int64_t>(n, (d + kMinChunk - 1) / kMinChunk));
  n = std::max<int64_t>(n, (d + kMaxChunk - 1) / kMaxChunk);
  std::vector<Chunk> chunks;
  int64_t begin = 0;
  for (int64_t c = 0; c < n; ++c) {
    int64_t end = c + 1 == n ? d : ((d * (c + 1) / n) & ~int64_t{7});
    end = std::max(end, begin);
    chunks.push_back(Chunk{begin, end});
    begin = end;
  }
  return chunks;
}

ScanFlags scan_flags(const float* x, int64_t d, const std::vector<Chunk>& chunks) {
  std::vector<ScanFlags> per(chunks.size());
  for_each_chunk(static_cast<int64_t>(chunks.size()),
                 [&](int64_t c) { per[c] = scan_range(x, chunks[c].begin, chunks[c].end); });
  ScanFlags all;
  for (const auto& f : per) all.merge(f);
  return all;
}

Selection select_top_k(const float* x, int64_t d, int64_t k, std::vector<Chunk> chunks) {
  Selection s;
  if (k == 0 || k == d) {
    s.flags = scan_flags(x, d, chunks);
    s.threshold.all = (k == d && d > 0);
    int64_t before = 0;
    for (auto& c : chunks) {
      c.kept_before = before;
      c.kept = s.threshold.all ? c.end - c.begin : 0;
      before += c.kept;
    }
    s.chunks = std::move(chunks);
    return s;
  }
  if (d <= kSmallUnit && chunks.size() == 1) {
    s.threshold = select_small(x, d, k, s.flags);
    chunks[0].kept = k;
    chunks[0].ties = s.threshold.ties;
    chunks[0].equal = s.threshold.equal;
    s.chunks = std::move(chunks);
    return s;
  }
  if (bracket_select(x, d, k, chunks, s)) return s;
  return radix_select(x, k, std::move(chunks));
}

Threshold select_row(const float* x, int64_t n, int64_t k, ScanFlags& flags) {
  if (k == 0 || k == n) {
    flags.merge(scan_range(x, 0, n));
    Threshold t;
    t.all = (k == n && n > 0);
    return t;
  }
  if (n <= kSmallUnit) return select_small(x, n, k, flags);
  const Selection s = select_top_k(x, n, k, {Chunk{0, n}});
  flags.merge(s.flags);
  return s.threshold;
}

}  // namespace mesl::codec::detail
