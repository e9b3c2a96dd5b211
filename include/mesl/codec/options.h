#pragma once
// What a codec is asked to do: the method and its settings (docs/codecs.md), as an options struct in the
// style of the PyTorch C++ frontend: CodecOptions(Method::ms).keep(0.01).bits(2).
//
// Settings and the methods that read them:
//   bits       ms: mask width b (1..8); qu: code width q (1..16). 0 = the method's default (ms 2, qu 8)
//   keep | k   ms, sp, rt: the kept fraction or the kept count (exactly one); per sample row with scope=sample
//   positions  sp, rt: how kept positions travel: a 1-bit-per-element bitmap, or a uint32 index per kept value (kv)
//   rounding   ms: round (half to even; default) or floor (the paper's Algorithm 1)
//   sign       ms: nonneg (the paper's setting: the cut follows a ReLU), signed (1 of the b bits is the sign), or
//              auto (signed when any element is negative). sp and rt always rank by |x| and send signed values.
//   scope      ms, sp, rt: batch (one top-k over the whole tensor; the paper's) or sample (one per row of dim 0)
//   alpha      rt: probability mass given to positions outside the top-k set (default 0.1)
//   seed       rt: the random stream; the same seed gives the same draws
//   threads    fast implementation: parallel chunks (0 = LibTorch's current thread count)
//   impl       fast (CPU kernels; on a CUDA device, ms with batch scope runs CUDA kernels where the build has them
//              and everything else the LibTorch-ops path) or reference (the LibTorch-ops path on any device)
#include <torch/arg.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mesl::codec {

// The numeric ids are part of the wire format (docs/wire-format.md): never renumber.
enum class Method : uint8_t { identity = 0, fp16 = 1, bf16 = 2, qu = 3, sp = 4, rt = 5, ms = 6 };
enum class Positions : uint8_t { bitmap = 0, kv = 1 };
enum class Rounding : uint8_t { round = 0, floor = 1 };
enum class Sign : uint8_t { nonneg = 0, signed_values = 1, automatic = 2 };
enum class Scope : uint8_t { batch = 0, sample = 1 };
enum class Impl : uint8_t { fast = 0, reference = 1 };

struct CodecOptions {
  /* implicit */ CodecOptions(Method method = Method::identity) : method_(method) {}
  TORCH_ARG(Method, method);
  TORCH_ARG(int, bits) = 0;
  TORCH_ARG(std::optional<double>, keep);
  TORCH_ARG(std::optional<int64_t>, k);
  TORCH_ARG(Positions, positions) = Positions::bitmap;
  TORCH_ARG(Rounding, rounding) = Rounding::round;
  TORCH_ARG(Sign, sign) = Sign::nonneg;
  TORCH_ARG(Scope, scope) = Scope::batch;
  TORCH_ARG(double, alpha) = 0.1;
  TORCH_ARG(uint64_t, seed) = 0;
  TORCH_ARG(int, threads) = 0;
  TORCH_ARG(Impl, impl) = Impl::fast;
};

// Names as the command line spells them. parse_* throw ConfigError listing the accepted names.
const std::vector<std::string>& method_names();
Method parse_method(const std::string& name);
std::string to_string(Method method);
Positions parse_positions(const std::string& name);
std::string to_string(Positions positions);
Rounding parse_rounding(const std::string& name);
std::string to_string(Rounding rounding);
Sign parse_sign(const std::string& name);
std::string to_string(Sign sign);
Scope parse_scope(const std::string& name);
std::string to_string(Scope scope);
Impl parse_impl(const std::string& name);
std::string to_string(Impl impl);

// True when the method keeps a top-k set (ms, sp, rt) and so needs keep or k.
bool is_sparse(Method method);
// The mask or code width in use: `bits` or the method's default; 0 for methods without one.
int effective_bits(const CodecOptions& options);

// Throws ConfigError when the settings cannot work (bits out of range, neither or both of keep and k, keep outside
// [0, 1], k < 0, alpha outside [0, 1], signed ms with b = 1, ...). Shape-dependent checks (k larger than the tensor)
// happen at encode time.
void validate(const CodecOptions& options);

// A compact, canonical text form that round-trips: "ms:keep=0.01,bits=2,rounding=round,sign=nonneg,scope=batch".
// Only the settings the method reads are written. parse_spec accepts the same keys in any order, and a bare
// method name; it validates the result.
std::string to_spec(const CodecOptions& options);
CodecOptions parse_spec(const std::string& spec);

// k for a segment of `elements` values: floor(keep * elements) (with a relative tolerance of 1e-12 so that a decimal
// keep such as 0.29 of 100 gives 29), or the fixed k. Throws CodecError when a fixed k exceeds `elements`.
int64_t kept_count(const CodecOptions& options, int64_t elements);

// The nominal bits per element of docs/codecs.md's budget arithmetic for a tensor of this shape, with the k the
// tensor really gets: identity 32, fp16/bf16 16, qu q + 64/d, sp/rt-bitmap 1 + 32k/d, sp/rt-kv 64k/d, ms b + 32k/d.
double nominal_bpe(const CodecOptions& options, const std::vector<int64_t>& shape);

}  // namespace mesl::codec
