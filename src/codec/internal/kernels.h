#pragma once
// The two implementations behind mesl::codec::Codec, and what the dispatcher hands them.
//
// fast: CPU loops (select.h's radix select, then one fused pass that quantizes, packs and gathers), parallel over
//       byte-aligned chunks. reference: the same arithmetic written with LibTorch operations (topk, masks, shifts),
//       on any device; it is the baseline the fast path is checked and benchmarked against.
// Both produce identical bytes: the arithmetic is the same float32 operations in the same order
// ((x * L) / t, nearbyint for round, clamp), and the build disables FMA contraction.
#include <ATen/ATen.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "mesl/codec/options.h"
#include "mesl/codec/wire.h"

namespace mesl::codec::detail {

struct EncodeJob {
  Header header;  // complete except what depends on the data: is_signed (sign=auto), qu_min, qu_max
  Layout layout;
  Sign sign = Sign::nonneg;
  double alpha = 0.1;
  uint64_t seed = 0;
  uint64_t draw = 0;    // rt: which encode this is (the random stream)
  bool training = true;  // rt: random draw in training, plain top-k in evaluation
  int threads = 0;
};

// Fast kernels for the sparse methods (ms, sp, rt; fast_sparse.cpp) and for qu (fast_quant.cpp). x is contiguous
// float32 on the CPU with header.d elements; `body` has layout.body_bytes() bytes. Encoders throw CodecError for
// input they refuse; decoders throw PayloadError for a body that contradicts its (already checked) header.
void fast_encode_sparse(EncodeJob& job, const float* x, uint8_t* body);
void fast_decode_sparse(const Header& header, const Layout& layout, const uint8_t* body, float* out, int threads);
void fast_encode_qu(EncodeJob& job, const float* x, uint8_t* body);
void fast_decode_qu(const Header& header, const Layout& layout, const uint8_t* body, float* out, int threads);

// Same contracts for qu, sp, rt and ms; x and body live on any device, and the results stay there.
at::Tensor reference_encode(EncodeJob& job, const at::Tensor& x);  // uint8 [body_bytes]
at::Tensor reference_decode(const Header& header, const Layout& layout, const at::Tensor& body);  // float32 [d]

// The CUDA kernels (cuda_codec.cpp, cuda/ms_kernels.cu), in builds that have them (mesl/codec/build_config.h):
// ms with batch scope on a CUDA device. Same contracts as the reference functions; the results stay on the device.
bool cuda_kernels_take(const Header& header, const at::Device& device);
at::Tensor cuda_encode(EncodeJob& job, const at::Tensor& x);
at::Tensor cuda_decode(const Header& header, const Layout& layout, const at::Tensor& body);

// Checks a scan of the input against the settings (NaN/Inf refused; a negative value refused by ms with
// sign=nonneg) and returns whether an ms mask carries a sign bit.
bool decide_sign(const EncodeJob& job, bool negative, bool nonfinite);
// qu refuses values whose range overflows float32.
void check_qu_range(float mn, float mx);

// Messages shared by both implementations, so that users see the same words whichever ran.
[[noreturn]] void refuse_nonfinite(Method method);
[[noreturn]] void refuse_negative();
[[noreturn]] void refuse_body(const std::string& why);
// The ms and sp/rt body checks every decoder makes (refuse_body with a fixed reason).
[[noreturn]] void refuse_kept_nonfinite();
[[noreturn]] void refuse_kept_negative();
[[noreturn]] void refuse_invalid_code();
[[noreturn]] void refuse_marked(int64_t marked, int64_t kept);

// Unaligned little-endian float32 / uint32 access (sections after a bit stream need not be 4-byte aligned).
inline void store_f32(uint8_t* p, float v) { std::memcpy(p, &v, 4); }
inline float load_f32(const uint8_t* p) {
  float v;
  std::memcpy(&v, p, 4);
  return v;
}
inline void store_u32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }
inline uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

}  // namespace mesl::codec::detail
