#pragma once
// Exact top-k selection by magnitude in O(d), without sorting and without copying the tensor.
//
// The k largest |x| are found as a threshold on the 31-bit magnitude key (float bits without the sign, whose
// integer order is the order of |x|). The kept set is every key above the threshold plus the first `ties` keys
// equal to it in index order (docs/codecs.md: ties at the threshold are broken by lower index first), so exactly
// k positions are kept and the result never depends on chunking or on how the threshold was found.
//
// How it is found (select.cpp): a random sample of the keys brackets the k-th key between two sample keys; one
// vectorised pass counts the keys above the bracket and gathers the few inside it; the k-th key is then selected
// among those. When the bracket misses (the pass proves it), a radix select on 15 + 16 key bits does the job in two
// histogram passes instead. Small inputs copy their keys and use nth_element.
#include <ATen/Parallel.h>

#include <cstdint>
#include <vector>

namespace mesl::codec::detail {

// What a scan of the input learned besides the threshold.
struct ScanFlags {
  bool negative = false;   // some x < 0 (-0.0 does not count)
  bool nonfinite = false;  // some NaN or Inf
  void merge(const ScanFlags& o) {
    negative |= o.negative;
    nonfinite |= o.nonfinite;
  }
};

struct Threshold {
  uint32_t key = 0xFFFFFFFFu;  // keep keys above this ...
  int64_t ties = 0;            // ... and the first `ties` keys equal to it
  int64_t equal = 0;           // keys equal to it in the whole unit (ties <= equal)
  bool all = false;            // k == d: keep everything
};

// One parallel chunk of a selection: elements [begin, end), and where its kept values go.
struct Chunk {
  int64_t begin = 0, end = 0;
  int64_t kept_before = 0;  // kept elements in earlier chunks
  int64_t kept = 0;         // kept elements in this chunk
  int64_t ties = 0;         // of which ties at the threshold
  int64_t equal = 0;        // keys equal to the threshold in this chunk (ties <= equal)
};

struct Selection {
  Threshold threshold;
  ScanFlags flags;
  std::vector<Chunk> chunks;
};

// Chunk boundaries for d elements: at most `threads` chunks (0: LibTorch's thread count), no chunk smaller than
// ~64K elements unless there is one chunk, every boundary a multiple of 8 (byte-aligned code streams) and no chunk
// above 2^31 elements (32-bit counters).
std::vector<Chunk> make_chunks(int64_t d, int threads);

// Selects the k largest |x| of x[0, d), scanning the chunks in parallel; also returns the flags.
Selection select_top_k(const float* x, int64_t d, int64_t k, std::vector<Chunk> chunks);

// Single-threaded selection of the k largest |x| of one row (sample scope); also accumulates the flags.
Threshold select_row(const float* x, int64_t n, int64_t k, ScanFlags& flags);

// Scans for the flags only (k == 0 or k == d, or methods without selection).
ScanFlags scan_flags(const float* x, int64_t d, const std::vector<Chunk>& chunks);

// Runs f(chunk_index) for every chunk, in parallel when there are several.
template <typename F>
void for_each_chunk(int64_t n, F&& f) {
  if (n == 1) {
    f(int64_t{0});
    return;
  }
  at::parallel_for(0, n, 1, [&](int64_t b, int64_t e) {
    for (int64_t c = b; c < e; ++c) f(c);
  });
}

}  // namespace mesl::codec::detail
