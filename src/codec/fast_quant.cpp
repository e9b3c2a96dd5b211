// Fast CPU kernels for qu, uniform min-max quantization: a parallel min/max (and finiteness) reduction, then one
// pass that quantizes and packs (16 elements at a time for codes of up to 8 bits); decoding is one pass, a table
// lookup per group of codes.
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "internal/bits.h"
#include "internal/code_groups.h"
#include "internal/isa.h"
#include "internal/kernels.h"
#include "internal/select.h"

namespace mesl::codec::detail {

// The group loops, once per instruction set (isa.h).
namespace {
#define MESL_PER_ISA_KERNELS "quant_groups.inc"
#include "internal/per_isa.inc"
}  // namespace

void fast_encode_qu(EncodeJob& job, const float* x, uint8_t* body) {
  Header& h = job.header;
  const auto chunks = make_chunks(h.d, job.threads);
  const auto n = static_cast<int64_t>(chunks.size());
  std::vector<float> lo(static_cast<size_t>(n), std::numeric_limits<float>::infinity());
  std::vector<float> hi(static_cast<size_t>(n), -std::numeric_limits<float>::infinity());
  std::vector<char> bad(static_cast<size_t>(n), 0);
  for_each_chunk(n, [&](int64_t c) {
    float a = lo[c], b = hi[c];
    bool nonfinite = false;
    int64_t i = chunks[c].begin;
#if MESL_CODEC_SIMD
    i = MESL_ISA_CALL(qu_range_groups(x, i, chunks[c].end, a, b, nonfinite));
#endif
    for (; i < chunks[c].end; ++i) {
      const float v = x[i];
      nonfinite |= magnitude_key(v) >= kNonFiniteKey;
      a = v < a ? v : a;
      b = v > b ? v : b;
    }
    lo[c] = a;
    hi[c] = b;
    bad[c] = nonfinite;
  });
  float mn = std::numeric_limits<float>::infinity(), mx = -mn;
  for (int64_t c = 0; c < n; ++c) {
    if (bad[c]) refuse_nonfinite(Method::qu);
    mn = std::min(mn, lo[c]);
    mx = std::max(mx, hi[c]);
  }
  if (h.d == 0) mn = mx = 0.0f;
  mn += 0.0f;  // a zero minimum or maximum is +0 whichever zero came first (as the reference has it)
  mx += 0.0f;
  check_qu_range(mn, mx);
  h.qu_min = mn;
  h.qu_max = mx;
  const float range = mx - mn;
  dispatch_bits(h.bits, [&](auto bits) {
    constexpr int B = decltype(bits)::value;
    constexpr uint32_t levels = (uint32_t{1} << B) - 1;
    const auto levels_f = static_cast<float>(levels);
    for_each_chunk(n, [&](int64_t c) {
      CodeWriter<B> w(body + chunks[c].begin * B / 8, chunks[c].end - chunks[c].begin);
      int64_t i = chunks[c].begin;
#if MESL_CODEC_SIMD
      if constexpr (B <= 8) {
        if (range > 0.0f) i = MESL_ISA_CALL(qu_encode_groups<B>(x, i, chunks[c].end, mn, range, w));
      }
#endif
      for (; i < chunks[c].end; ++i) {
        uint32_t code = 0;
        if (range > 0.0f) {
          const float r = std::nearbyint(((x[i] - mn) * levels_f) / range);
          code = r <= 0.0f ? 0 : (r >= levels_f ? levels : static_cast<uint32_t>(r));
        }
        w.put(code);
      }
      w.finish();
    });
  });
}

void fast_decode_qu(const Header& h, const Layout& l, const uint8_t* body, float* out, int threads) {
  const auto chunks = make_chunks(h.d, threads);
  const float mn = h.qu_min, range = h.qu_max - h.qu_min;
  const bool stream = stream_output(h.d * 4);
  dispatch_bits(h.bits, [&](auto bits) {
    constexpr int B = decltype(bits)::value;
    const auto step = range / static_cast<float>((uint32_t{1} << B) - 1);
    auto value_of = [&](uint32_t code) { return mn + static_cast<float>(code) * step; };
    for_each_chunk(static_cast<int64_t>(chunks.size()), [&](int64_t c) {
      const uint8_t* codes = body + chunks[c].begin * B / 8;  // chunks start at multiples of 8 elements
      const int64_t len = chunks[c].end - chunks[c].begin;
      float* o = out + chunks[c].begin;
      int64_t done = 0;
      if constexpr (B <= 8) {
        const GroupTable<B> table(value_of);
        write_groups<B>(codes, len, o, stream, [&](uint64_t w, float* v) { table.decode(w, v); });
        done = len / 8 * 8;
      }
      CodeReader<B> r(codes + done * B / 8, len - done);
      for (int64_t i = done; i < len; ++i) o[i] = value_of(r.get());
    });
  });
}

}  // namespace mesl::codec::detail
