// Radix select of the k largest magnitudes (see internal/select.h).
#include "internal/select.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <memory>

#include "internal/bits.h"

namespace mesl::codec::detail {
namespace {

constexpr int kHighBits = 15;  // keys are 31 bits: 15 high + 16 low
constexpr uint32_t kHighBins = 1u << kHighBits;
constexpr uint32_t kLowBins = 1u << 16;
constexpr int64_t kMinChunk = 1 << 16;
constexpr int64_t kMaxChunk = int64_t{1} << 31;
constexpr int64_t kSmallRow = 1 << 14;  // rows up to this size are selected with nth_element on a key copy

inline void note(uint32_t u, ScanFlags& f) {
  const uint32_t key = u & 0x7FFFFFFFu;
  f.negative |= (u >> 31) && key != 0;
  f.nonfinite |= key >= kNonFiniteKey;
}

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
  for_each_chunk(static_cast<int64_t>(chunks.size()), [&](int64_t c) {
    ScanFlags f;
    for (int64_t i = chunks[c].begin; i < chunks[c].end; ++i) note(float_bits(x[i]), f);
    per[c] = f;
  });
  ScanFlags all;
  for (const auto& f : per) all.merge(f);
  return all;
}

Selection select_top_k(const float* x, int64_t d, int64_t k, std::vector<Chunk> chunks) {
  Selection s;
  const auto n = static_cast<int64_t>(chunks.size());
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

  // Where each chunk's kept values go: keys above the threshold, plus its share of the ties in index order.
  int64_t before = 0, ties_left = s.threshold.ties;
  for (int64_t c = 0; c < n; ++c) {
    int64_t greater = 0;
    for (uint32_t b = high_bin + 1; b < kHighBins; ++b) greater += high[c][b];
    for (uint32_t b = low_bin + 1; b < kLowBins; ++b) greater += low[c][b];
    const int64_t ties = std::min<int64_t>(ties_left, low[c][low_bin]);
    ties_left -= ties;
    chunks[c].kept_before = before;
    chunks[c].ties = ties;
    chunks[c].kept = greater + ties;
    before += chunks[c].kept;
  }
  s.chunks = std::move(chunks);
  return s;
}

Threshold select_row(const float* x, int64_t n, int64_t k, ScanFlags& flags) {
  Threshold t;
  if (k == 0 || k == n) {
    ScanFlags f;
    for (int64_t i = 0; i < n; ++i) note(float_bits(x[i]), f);
    flags.merge(f);
    t.all = (k == n && n > 0);
    return t;
  }
  if (n > kSmallRow) {
    const Selection s = select_top_k(x, n, k, {Chunk{0, n}});
    flags.merge(s.flags);
    return s.threshold;
  }
  std::vector<uint32_t> keys(static_cast<size_t>(n));
  ScanFlags f;
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t u = float_bits(x[i]);
    note(u, f);
    keys[static_cast<size_t>(i)] = u & 0x7FFFFFFFu;
  }
  flags.merge(f);
  std::nth_element(keys.begin(), keys.begin() + (k - 1), keys.end(), std::greater<uint32_t>());
  t.key = keys[static_cast<size_t>(k - 1)];
  int64_t greater = 0;
  for (int64_t i = 0; i < n; ++i) greater += magnitude_key(x[i]) > t.key;
  t.ties = k - greater;
  return t;
}

}  // namespace mesl::codec::detail
