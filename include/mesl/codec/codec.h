#pragma once
// The activation codecs of docs/codecs.md. A Codec encodes a floating-point tensor into one self-describing
// payload (wire.h) and decodes payloads back; decoding needs no options because the payload names everything.
//
//   mesl::codec::Codec ms(mesl::codec::CodecOptions(Method::ms).keep(0.01).bits(2));
//   std::vector<uint8_t> payload = ms.encode(activations);       // exactly ms.payload_bytes(shape) bytes
//   at::Tensor x_hat = mesl::codec::decode(payload);              // shape and dtype of `activations`
//
// Contract: encode never reads outside the input and writes exactly the payload; decode refuses a malformed payload
// with PayloadError and never reads or writes out of bounds. The fast (CPU) and reference (LibTorch ops)
// implementations produce identical bytes and identical decoded tensors.
#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

#include "mesl/codec/options.h"
#include "mesl/codec/wire.h"

namespace mesl::codec {

class Codec {
 public:
  explicit Codec(CodecOptions options);  // validates; throws ConfigError
  const CodecOptions& options() const { return options_; }

  // Encodes `x` (float32, float64, float16 or bfloat16; any shape of rank <= 8; CPU or CUDA). Throws CodecError
  // for input the settings cannot encode (NaN/Inf for the lossy sparse and quantizing methods, a negative value for
  // ms with sign=nonneg, k larger than the tensor, a rank-0 tensor with scope=sample).
  std::vector<uint8_t> encode(const at::Tensor& x);

  // rt draws a new random set per training encode; in evaluation mode it behaves as plain top-k.
  void train(bool on = true) { training_ = on; }
  void eval() { training_ = false; }
  bool is_training() const { return training_; }

  // Position of rt's random stream (encodes drawn so far), saved and restored by checkpoints.
  uint64_t draws() const { return draws_; }
  void set_draws(uint64_t draws) { draws_ = draws; }

  // Exact payload size, header size, kept count and nominal bits per element for an input of this shape.
  size_t payload_bytes(const std::vector<int64_t>& shape) const;
  size_t header_bytes(const std::vector<int64_t>& shape) const;
  int64_t kept_count(const std::vector<int64_t>& shape) const;  // K over the whole tensor
  double bits_per_element(const std::vector<int64_t>& shape) const { return nominal_bpe(options_, shape); }

 private:
  Header header_for(const at::Tensor& x) const;
  CodecOptions options_;
  bool training_ = true;
  uint64_t draws_ = 0;
};

struct DecodeOptions {
  TORCH_ARG(Impl, impl) = Impl::fast;
  TORCH_ARG(int, threads) = 0;
  TORCH_ARG(at::Device, device) = at::kCPU;  // where the decoded tensor lives (CUDA decodes on the device)
  TORCH_ARG(DecodeLimits, limits) = {};
};

at::Tensor decode(const uint8_t* data, size_t size, const DecodeOptions& options = {});
inline at::Tensor decode(const std::vector<uint8_t>& payload, const DecodeOptions& options = {}) {
  return decode(payload.data(), payload.size(), options);
}

// The vector instruction set of the fast CPU kernels: "avx512", "avx2", "sse2" (x86-64) or "scalar". By default the best
// the CPU has, unless the environment variable MESL_CODEC_ISA names another. All give identical bytes, only the
// speed differs. set_kernel_isa switches the whole process (benchmarks, tests); it throws ConfigError for a name
// this build or this CPU cannot run. kernel_isas lists those it can, best first.
std::string kernel_isa();
std::vector<std::string> kernel_isas();
void set_kernel_isa(const std::string& name);

// The fast CPU qu decoder writes an output of at least decode_streaming_bytes() bytes (16 MiB by default) with
// non-temporal stores on x86-64: a tensor that size does not stay in the cache for its consumer anyway, and the
// stores skip the read of every cache line that a plain store makes first (docs/performance.md: 40-55% off qu
// decoding at 67 MB). Only the speed differs. set_decode_streaming_bytes switches the whole process (benchmarks,
// tests): 0 streams every output, INT64_MAX none; a negative value throws ConfigError.
int64_t decode_streaming_bytes();
void set_decode_streaming_bytes(int64_t bytes);

// The relative L2 compression error ||x - x_hat|| / ||x|| (||x - x_hat|| where x is all zero; 0 for empty tensors),
// what `mesl train` records for every step and `mesl codec` reports. For float32 tensors on the CPU it is one
// parallel pass over both (float differences and block sums, added up in double in a fixed order, so the result
// does not depend on the thread count); other dtypes and devices compute it in double with LibTorch ops. Throws
// CodecError when the shapes differ.
double relative_error(const at::Tensor& x, const at::Tensor& x_hat);

}  // namespace mesl::codec
