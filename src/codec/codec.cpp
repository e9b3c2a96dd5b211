// Codec: builds the header for an input, runs the fast or the reference implementation, and decodes payloads by
// their header alone. The cast codecs (identity, fp16, bf16) are a dtype conversion and need no kernels.
#include "mesl/codec/codec.h"

#include <cmath>
#include <cstring>
#include <new>

#include "internal/kernels.h"
#include "mesl/codec/build_config.h"
#include "mesl/error.h"

namespace mesl::codec {
namespace detail {

void refuse_nonfinite(Method method) {
  throw CodecError(::mesl::detail::concat("the input has NaN or Inf values; ", to_string(method),
                          " needs finite activations (check the loss and learning rate)"));
}

void refuse_negative() {
  throw CodecError(
      "the input has negative values, but ms with --sign nonneg needs a non-negative tensor (a cut after a ReLU); "
      "use --sign signed or --sign auto");
}

void refuse_body(const std::string& why) { throw PayloadError("payload refused: " + why); }
void refuse_kept_nonfinite() { refuse_body("a kept value is NaN or Inf"); }
void refuse_kept_negative() { refuse_body("a kept value is negative in an unsigned ms payload"); }
void refuse_invalid_code() { refuse_body("a mask code is invalid (magnitude L without the sign bit)"); }
void refuse_marked(int64_t marked, int64_t kept) {
  refuse_body(::mesl::detail::concat("the mask marks ", marked, " kept positions but the header says ", kept));
}

bool decide_sign(const EncodeJob& job, bool negative, bool nonfinite) {
  if (nonfinite) refuse_nonfinite(job.header.method);
  if (job.header.method != Method::ms) return false;
  switch (job.sign) {
    case Sign::signed_values: return true;
    case Sign::automatic:
      if (negative && job.header.bits < 2)
        throw CodecError("the input has negative values and signed ms needs --bits 2 or more");
      return negative;
    case Sign::nonneg:
      if (negative) refuse_negative();
      return false;
  }
  return false;
}

void check_qu_range(float mn, float mx) {
  if (!std::isfinite(mx - mn))
    throw CodecError("qu cannot quantize this input: its value range overflows float32");
}

}  // namespace detail

namespace {

WireDType wire_dtype(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return WireDType::float32;
    case at::kDouble: return WireDType::float64;
    case at::kHalf: return WireDType::float16;
    case at::kBFloat16: return WireDType::bfloat16;
    default:
      throw CodecError(::mesl::detail::concat("codecs encode floating-point tensors; got ", c10::toString(t),
                                      " (convert with .to(torch::kFloat))"));
  }
}

at::ScalarType scalar_type(WireDType t) {
  switch (t) {
    case WireDType::float32: return at::kFloat;
    case WireDType::float64: return at::kDouble;
    case WireDType::float16: return at::kHalf;
    case WireDType::bfloat16: return at::kBFloat16;
  }
  return at::kFloat;
}

at::ScalarType cast_type(Method m) {
  return m == Method::fp16 ? at::kHalf : (m == Method::bf16 ? at::kBFloat16 : at::kFloat);
}

bool is_cast(Method m) { return m == Method::identity || m == Method::fp16 || m == Method::bf16; }

// Sets LibTorch's thread count for the duration of a call (the --threads option), then restores it.
class ThreadScope {
 public:
  explicit ThreadScope(int threads) : previous_(at::get_num_threads()) {
    if (threads > 0 && threads != previous_) at::set_num_threads(threads);
  }
  ~ThreadScope() {
    if (at::get_num_threads() != previous_) at::set_num_threads(previous_);
  }
  ThreadScope(const ThreadScope&) = delete;
  ThreadScope& operator=(const ThreadScope&) = delete;

 private:
  int previous_;
};

// A device tensor's bytes on the host, through page-locked memory: a copy from the GPU into pageable memory is
// staged by the driver and ran at a few GB/s (docs/performance.md, "GPU"). LibTorch caches pinned
// blocks, so steady encodes reuse them.
at::Tensor to_host(const at::Tensor& t) {
  if (t.device().is_cpu()) return t;
  at::Tensor host = at::empty(t.sizes(), t.options().device(at::kCPU).pinned_memory(true));
  host.copy_(t);
  return host;
}

// A payload's body as a byte tensor on `device`, copied straight from the payload: staging it through pinned memory
// doubled identity's decode onto the GPU (the extra host copy of 67 MB costs more than the pinned transfer saves),
// and the bytes cross in the wire dtype, converted on the device.
at::Tensor bytes_to(const uint8_t* data, int64_t bytes, const at::Device& device) {
  const at::Tensor view = at::from_blob(const_cast<uint8_t*>(data), {bytes}, at::TensorOptions().dtype(at::kByte));
  return view.to(device, /*non_blocking=*/false, /*copy=*/true);
}

// The body a device implementation writes for x, on x's device: the CUDA kernels where the build has them and they
// take the work (fast implementation, ms with batch scope), else the LibTorch-ops path.
at::Tensor encode_on_device(detail::EncodeJob& job, Impl impl, const at::Tensor& x) {
#if MESL_CODEC_CUDA_KERNELS
  if (impl == Impl::fast && detail::cuda_kernels_take(job.header, x.device())) return detail::cuda_encode(job, x);
#endif
  return detail::reference_encode(job, x);
}

at::Tensor decode_on_device(const Header& h, const Layout& l, Impl impl, const at::Tensor& body) {
#if MESL_CODEC_CUDA_KERNELS
  if (impl == Impl::fast && detail::cuda_kernels_take(h, body.device())) return detail::cuda_decode(h, l, body);
#endif
  return detail::reference_decode(h, l, body);
}

std::vector<uint8_t> allocate(size_t bytes) {
  try {
    return std::vector<uint8_t>(bytes);
  } catch (const std::bad_alloc&) {
    throw CodecError(::mesl::detail::concat("cannot allocate ", bytes, " bytes for a payload"));
  }
}

}  // namespace

Codec::Codec(CodecOptions options) : options_(std::move(options)) { validate(options_); }

Header Codec::header_for(const at::Tensor& x) const {
  const auto& o = options_;
  MESL_CHECK(x.dim() <= kMaxRank, CodecError, "codecs encode tensors of rank <= ", kMaxRank, "; got rank ", x.dim());
  Header h;
  h.method = o.method();
  h.dtype = wire_dtype(x.scalar_type());
  h.shape = x.sizes().vec();
  h.d = x.numel();
  h.bits = effective_bits(o);
  if (is_sparse(o.method())) {
    h.sample_scope = o.scope() == Scope::sample;
    MESL_CHECK(!h.sample_scope || x.dim() >= 1, CodecError,
               "--scope sample needs a tensor with a batch dimension; got a rank-0 tensor");
    const int64_t units = h.sample_scope ? h.shape[0] : 1;
    h.k = codec::kept_count(o, units == 0 ? 0 : h.d / units);
    h.kv_positions = o.method() != Method::ms && o.positions() == Positions::kv;
    MESL_CHECK(!h.kv_positions || h.d <= int64_t{0xFFFFFFFF}, CodecError,
               "kv positions address at most 2^32 - 1 elements; use --positions bitmap");
  }
  h.floor_rounding = o.method() == Method::ms && o.rounding() == Rounding::floor;
  return h;
}

size_t Codec::payload_bytes(const std::vector<int64_t>& shape) const {
  return layout_of(header_for(at::empty(shape, at::TensorOptions().device(at::kMeta)))).total_bytes();
}

size_t Codec::header_bytes(const std::vector<int64_t>& shape) const {
  return layout_of(header_for(at::empty(shape, at::TensorOptions().device(at::kMeta)))).header_bytes;
}

int64_t Codec::kept_count(const std::vector<int64_t>& shape) const {
  return layout_of(header_for(at::empty(shape, at::TensorOptions().device(at::kMeta)))).kept;
}

std::vector<uint8_t> Codec::encode(const at::Tensor& input) {
  detail::EncodeJob job;
  job.header = header_for(input);
  job.layout = layout_of(job.header);
  job.sign = options_.sign();
  job.alpha = options_.alpha();
  job.seed = options_.seed();
  job.training = training_;
  job.threads = options_.threads();
  if (options_.method() == Method::rt && training_) job.draw = draws_++;

  std::vector<uint8_t> payload = allocate(job.layout.total_bytes());
  uint8_t* body = payload.data() + job.layout.header_bytes;
  const Method m = options_.method();
  const bool fast = options_.impl() == Impl::fast && input.device().is_cpu();
  ThreadScope threads(fast ? options_.threads() : 0);

  if (is_cast(m)) {
    const at::Tensor wire = to_host(input.to(cast_type(m)).contiguous());
    // An empty tensor has no storage (data_ptr() is null), and memcpy from null is undefined even for 0 bytes.
    if (job.layout.body_bytes() > 0) std::memcpy(body, wire.data_ptr(), job.layout.body_bytes());
  } else if (fast) {
    const at::Tensor x = input.to(at::kFloat).contiguous();
    if (m == Method::qu)
      detail::fast_encode_qu(job, x.data_ptr<float>(), body);
    else
      detail::fast_encode_sparse(job, x.data_ptr<float>(), body);
  } else {
    const at::Tensor on_device = encode_on_device(job, options_.impl(), input.to(at::kFloat).contiguous());
    const at::Tensor wire = to_host(on_device).contiguous();
    MESL_CHECK(static_cast<size_t>(wire.numel()) == job.layout.body_bytes(), CodecError,
               "internal error: the device body has ", wire.numel(), " bytes, expected ", job.layout.body_bytes());
    if (job.layout.body_bytes() > 0) std::memcpy(body, wire.data_ptr(), job.layout.body_bytes());
  }
  write_header(job.header, payload.data());
  return payload;
}

at::Tensor decode(const uint8_t* data, size_t size, const DecodeOptions& options) {
  const Header h = read_header(data, size, options.limits());
  const Layout l = layout_of(h);
  const uint8_t* body = data + l.header_bytes;
  const auto out_type = scalar_type(h.dtype);
  const bool on_cpu = options.device().is_cpu();

  if (is_cast(h.method)) {
    const at::Tensor wire = bytes_to(body, static_cast<int64_t>(l.body_bytes()), options.device())
                                .view(cast_type(h.method));
    return wire.to(out_type).reshape(h.shape);
  }
  ThreadScope threads(options.threads());
  at::Tensor flat;
  if (options.impl() == Impl::fast && on_cpu) {
    try {
      flat = at::empty({h.d}, at::kFloat);
    } catch (const std::exception&) {
      throw PayloadError(::mesl::detail::concat("payload refused: cannot allocate ", h.d, " elements"));
    }
    if (h.method == Method::qu)
      detail::fast_decode_qu(h, l, body, flat.data_ptr<float>(), options.threads());
    else
      detail::fast_decode_sparse(h, l, body, flat.data_ptr<float>(), options.threads());
  } else {
    flat = decode_on_device(h, l, options.impl(),
                            bytes_to(body, static_cast<int64_t>(l.body_bytes()), options.device()));
  }
  return flat.to(out_type).reshape(h.shape);
}

}  // namespace mesl::codec
