// Fast CPU kernels for qu, uniform min-max quantization: a parallel min/max (and finiteness) reduction, then one
// pass that quantizes and packs; decoding is one pass.
#include <cmath>
#include <limits>
#include <vector>

#include "internal/bits.h"
#include "internal/kernels.h"
#include "internal/select.h"

namespace mesl::codec::detail {

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
    for (int64_t i = chunks[c].begin; i < chunks[c].end; ++i) {
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
      for (int64_t i = chunks[c].begin; i < chunks[c].end; ++i) {
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
  dispatch_bits(h.bits, [&](auto bits) {
    constexpr int B = decltype(bits)::value;
    const auto step = range / static_cast<float>((uint32_t{1} << B) - 1);
    for_each_chunk(static_cast<int64_t>(chunks.size()), [&](int64_t c) {
      CodeReader<B> r(body + chunks[c].begin * B / 8, chunks[c].end - chunks[c].begin);
      for (int64_t i = chunks[c].begin; i < chunks[c].end; ++i) out[i] = mn + static_cast<float>(r.get()) * step;
    });
  });
}

}  // namespace mesl::codec::detail
