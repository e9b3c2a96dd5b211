// The reference implementation: every codec written with LibTorch operations (topk, comparisons, cumsum, shifts,
// masked_select), so it runs on any device and is the straightforward baseline the fast kernels are checked and
// benchmarked against (issue: keep it reachable as --impl reference). The arithmetic is the fast path's, op for op.
#include <ATen/ATen.h>

#include <algorithm>
#include <vector>

#include "internal/kernels.h"
#include "internal/rng.h"
#include "mesl/error.h"

namespace mesl::codec::detail {
namespace {

// Divides by a scalar as a 0-dim tensor on x's device. CUDA divides a tensor by a plain (CPU) scalar as a
// multiplication by its reciprocal, which rounds differently from x / s; a device tensor gets a true division,
// the arithmetic of the CPU and of the fast kernels.
at::Tensor divide(const at::Tensor& x, double s) { return at::div(x, at::scalar_tensor(s, x.options())); }

// Packs int64 codes of `bits` bits into the LSB-first stream of internal/bits.h, as `nbytes` bytes. Up to 7 bits,
// eight codes fill exactly `bits` bytes: they are summed into one 64-bit word, code j at bit j * bits, whose first
// `bits` little-endian bytes are the stream's (two passes over the codes instead of one int64 per bit).
at::Tensor pack_codes(const at::Tensor& codes, int bits, int64_t nbytes) {
  const auto opts = codes.options().dtype(at::kLong);
  if (nbytes == 0) return at::empty({0}, opts.dtype(at::kByte));
  if (bits == 8) return codes.reshape({-1}).to(at::kByte);
  if (bits < 8) {
    const int64_t groups = (codes.numel() + 7) / 8;
    const at::Tensor padded = at::constant_pad_nd(codes.reshape({-1}), {0, groups * 8 - codes.numel()});
    const at::Tensor words = at::bitwise_left_shift(padded.view({groups, 8}), at::arange(8, opts) * bits).sum(1);
    // (contiguous: with bits = 1 the narrowed column is a strided view, and callers copy the bytes out raw)
    return words.view(at::kByte).view({groups, 8}).narrow(1, 0, bits).reshape({-1}).narrow(0, 0, nbytes).contiguous();
  }
  const at::Tensor shifts = at::arange(bits, opts);  // wider codes (qu up to 16 bits): one int64 per stream bit
  at::Tensor stream = at::bitwise_and(at::bitwise_right_shift(codes.reshape({-1, 1}), shifts), 1).reshape({-1});
  stream = at::constant_pad_nd(stream, {0, nbytes * 8 - stream.numel()});
  const at::Tensor weights = at::bitwise_left_shift(at::ones({8}, opts), at::arange(8, opts));
  return (stream.view({nbytes, 8}) * weights).sum(1).to(at::kByte);
}

at::Tensor unpack_codes(const at::Tensor& bytes, int bits, int64_t d) {
  const auto opts = bytes.options().dtype(at::kLong);
  if (d == 0) return at::empty({0}, opts);
  if (bits == 8) return bytes.narrow(0, 0, d).to(at::kLong);
  if (bits < 8) {  // the inverse of pack_codes: `bits` bytes per 64-bit word of eight codes
    const int64_t groups = (d + 7) / 8;
    const int64_t present = std::min(bytes.numel(), groups * bits);  // the last word may lack its high bytes
    const at::Tensor padded = at::constant_pad_nd(bytes.narrow(0, 0, present), {0, groups * bits - present});
    const at::Tensor words =
        at::constant_pad_nd(padded.view({groups, bits}), {0, 8 - bits}).contiguous().view(at::kLong);
    const at::Tensor codes = at::bitwise_and(at::bitwise_right_shift(words, at::arange(8, opts) * bits),
                                             (int64_t{1} << bits) - 1);
    return codes.reshape({-1}).narrow(0, 0, d);
  }
  const at::Tensor stream =
      at::bitwise_and(at::bitwise_right_shift(bytes.to(at::kLong).reshape({-1, 1}), at::arange(8, opts)), 1)
          .reshape({-1})
          .narrow(0, 0, d * bits)
          .view({d, bits});
  const at::Tensor weights = at::bitwise_left_shift(at::ones({bits}, opts), at::arange(bits, opts));
  return (stream * weights).sum(1);
}

at::Tensor as_bytes(const at::Tensor& t) { return t.contiguous().view(at::kByte).reshape({-1}); }

// Reinterprets a byte slice as `dtype` (copied first: a view must start at an aligned storage offset).
at::Tensor bytes_as(const at::Tensor& bytes, at::ScalarType dtype) { return bytes.clone().view(dtype); }

// The top-k set of each row of a [rows, n] magnitude tensor, ties at the k-th value broken by lower index.
at::Tensor top_k_mask(const at::Tensor& a, int64_t k) {
  const int64_t n = a.size(1);
  if (k == 0) return at::zeros(a.sizes(), a.options().dtype(at::kBool));
  if (k == n) return at::ones(a.sizes(), a.options().dtype(at::kBool));
  const at::Tensor kth = std::get<0>(at::topk(a, k, 1, /*largest=*/true, /*sorted=*/false)).amin(1, true);
  const at::Tensor greater = a > kth;
  const at::Tensor equal = a == kth;
  const at::Tensor need = k - greater.sum(1, true);
  return greater | (equal & (equal.to(at::kLong).cumsum(1) <= need));
}

std::vector<int64_t> ranks_of(const RankSet& set, int64_t n) {
  std::vector<int64_t> out;
  for (int64_t r = 0; r < n; ++r)
    if (set.has(r)) out.push_back(r);
  return out;
}

// rt in training: per row, replace the top-k set by the draw of rt_choose (same stream as the fast path).
at::Tensor rt_mask(const EncodeJob& job, const at::Tensor& top, int64_t k) {
  const int64_t rows = top.size(0), n = top.size(1);
  at::Tensor chosen = at::zeros_like(top);
  const auto long_opts = top.options().dtype(at::kLong);
  for (int64_t r = 0; r < rows; ++r) {
    Rng rng(job.seed, job.draw, static_cast<uint64_t>(r));
    const RtChoice c = rt_choose(n, k, job.alpha, rng);
    const at::Tensor top_pos = top[r].nonzero().reshape({-1});
    const at::Tensor rest_pos = at::logical_not(top[r]).nonzero().reshape({-1});
    const auto tr = ranks_of(c.top, k), rr = ranks_of(c.rest, n - k);
    const at::Tensor picks = at::cat({top_pos.index_select(0, at::tensor(tr, long_opts.device(at::kCPU)).to(top.device())),
                                      rest_pos.index_select(0, at::tensor(rr, long_opts.device(at::kCPU)).to(top.device()))});
    chosen[r].index_fill_(0, picks, true);
  }
  return chosen;
}

at::Tensor encode_qu(EncodeJob& job, const at::Tensor& x) {
  Header& h = job.header;
  if (!at::isfinite(x).all().item<bool>()) refuse_nonfinite(Method::qu);
  // (+ 0.0f: a zero minimum or maximum is +0 whichever zero the reduction met first)
  const float mn = (h.d == 0 ? 0.0f : x.min().item<float>()) + 0.0f;
  const float mx = (h.d == 0 ? 0.0f : x.max().item<float>()) + 0.0f;
  check_qu_range(mn, mx);
  h.qu_min = mn;
  h.qu_max = mx;
  const float range = mx - mn;
  const int64_t levels = (int64_t{1} << h.bits) - 1;
  at::Tensor codes = range > 0.0f
                         ? at::round(divide((x - mn) * static_cast<double>(levels), static_cast<double>(range)))
                               .clamp(0, static_cast<double>(levels))
                               .to(at::kLong)
                         : at::zeros({h.d}, x.options().dtype(at::kLong));
  return pack_codes(codes, h.bits, static_cast<int64_t>(job.layout.codes_bytes));
}

at::Tensor encode_sparse(EncodeJob& job, const at::Tensor& x) {
  Header& h = job.header;
  const Layout& l = job.layout;
  const int64_t rows = l.units, n = l.unit_elements, k = h.k;
  const at::Tensor x2 = x.reshape({rows, n});
  const bool nonfinite = !at::isfinite(x).all().item<bool>();
  const bool negative = h.d > 0 && (x < 0).any().item<bool>();
  h.is_signed = decide_sign(job, negative, nonfinite);
  const at::Tensor a = x2.abs();
  at::Tensor mask = top_k_mask(a, k);
  if (h.method == Method::rt && job.training) mask = rt_mask(job, mask, k);
  const at::Tensor values = as_bytes(x2.masked_select(mask));

  if (h.method != Method::ms) {
    if (h.kv_positions) return at::cat({as_bytes(mask.reshape({-1}).nonzero().reshape({-1}).to(at::kInt)), values});
    return at::cat({pack_codes(mask.reshape({-1}).to(at::kLong), 1, static_cast<int64_t>(l.codes_bytes)), values});
  }

  const int64_t levels = h.is_signed ? (int64_t{1} << (h.bits - 1)) - 1 : (int64_t{1} << h.bits) - 1;
  const int64_t reserved = (int64_t{1} << h.bits) - 1;
  const at::Tensor t = (k == 0 || k == n)
                           ? at::zeros({rows, 1}, a.options())
                           : at::where(mask, a, at::full({}, INFINITY, a.options())).amin(1, true);
  const at::Tensor q = (a * static_cast<double>(levels)) / t;
  const at::Tensor r = h.floor_rounding ? at::floor(q) : at::round(q);
  at::Tensor codes =
      at::where(t > 0, r.clamp(0, static_cast<double>(levels - 1)), at::zeros({}, a.options())).to(at::kLong);
  if (h.is_signed) codes = codes + at::bitwise_left_shift((x2 < 0).to(at::kLong), h.bits - 1);
  codes = at::where(mask, at::full({}, reserved, codes.options()), codes);
  return at::cat({pack_codes(codes.reshape({-1}), h.bits, static_cast<int64_t>(l.codes_bytes)), values});
}

}  // namespace

at::Tensor reference_encode(EncodeJob& job, const at::Tensor& x) {
  const at::Tensor flat = x.reshape({-1});
  return job.header.method == Method::qu ? encode_qu(job, flat) : encode_sparse(job, flat);
}

at::Tensor reference_decode(const Header& h, const Layout& l, const at::Tensor& body) {
  const auto fopts = body.options().dtype(at::kFloat);
  if (h.method == Method::qu) {
    const float step = (h.qu_max - h.qu_min) / static_cast<float>((uint32_t{1} << h.bits) - 1);
    const at::Tensor codes = unpack_codes(body, h.bits, h.d);
    return (codes.to(at::kFloat) * static_cast<double>(step)) + static_cast<double>(h.qu_min);
  }
  const int64_t rows = l.units, n = l.unit_elements;
  const at::Tensor values = bytes_as(body.narrow(0, static_cast<int64_t>(l.codes_bytes + l.index_bytes),
                                                 static_cast<int64_t>(l.values_bytes)),
                                     at::kFloat);
  if (!at::isfinite(values).all().item<bool>()) refuse_kept_nonfinite();
  if (h.method == Method::ms && !h.is_signed && (values < 0).any().item<bool>())
    refuse_kept_negative();

  if (h.kv_positions) {
    const at::Tensor idx =
        bytes_as(body.narrow(0, 0, static_cast<int64_t>(l.index_bytes)), at::kInt).to(at::kLong).bitwise_and(int64_t{0xFFFFFFFF});
    if (l.kept > 0) {
      const bool increasing = l.kept == 1 || (idx.diff() > 0).all().item<bool>();
      if (!increasing || idx.max().item<int64_t>() >= h.d)
        refuse_body("kv indices are not strictly increasing positions inside the tensor");
      if (h.sample_scope && (at::div(idx, n, "floor") != at::div(at::arange(l.kept, idx.options()), h.k, "floor"))
                                .any()
                                .item<bool>())
        refuse_body("a kv index lies outside its sample row");
    }
    return at::zeros({h.d}, fopts).index_put_({idx}, values);
  }

  const bool ms = h.method == Method::ms;
  const int bits = ms ? h.bits : 1;
  const bool is_signed = ms && h.is_signed;
  const at::Tensor codes = unpack_codes(body.narrow(0, 0, static_cast<int64_t>(l.codes_bytes)), bits, h.d)
                               .reshape({rows, n});
  const int64_t reserved = (int64_t{1} << bits) - 1;
  const int64_t levels = is_signed ? (int64_t{1} << (bits - 1)) - 1 : reserved;
  if (is_signed && (codes == levels).any().item<bool>())
    refuse_invalid_code();
  const at::Tensor kept = codes == reserved;
  if (h.sample_scope) {
    const at::Tensor per_row = kept.sum(1);
    const at::Tensor wrong = (per_row != h.k).nonzero();
    if (wrong.numel() > 0) {
      const int64_t r = wrong[0][0].item<int64_t>();
      refuse_body(::mesl::detail::concat("row ", r, " marks ", per_row[r].item<int64_t>(),
                                 " kept positions but the header says ", h.k));
    }
  } else {
    const int64_t marked = kept.sum().item<int64_t>();
    if (marked != l.kept)
      refuse_marked(marked, l.kept);
  }
  const at::Tensor t = (ms && h.k > 0) ? values.view({rows, h.k}).abs().amin(1, true) : at::zeros({rows, 1}, fopts);
  const int64_t mag_mask = is_signed ? levels : reserved;
  at::Tensor out = divide(at::bitwise_and(codes, mag_mask).to(at::kFloat) * t, static_cast<double>(levels));
  if (is_signed) out = at::where(at::bitwise_and(codes, int64_t{1} << (bits - 1)) != 0, -out, out);
  return out.masked_scatter(kept, values).reshape({-1});
}

}  // namespace mesl::codec::detail
