// The GPU path for ms with batch scope: memory from LibTorch's caching allocator, the work in cuda/ms_kernels.cu,
// and the same refusals as the CPU decoders. Built only with the CUDA kernels (MESL_CUDA_KERNELS in CMake).
#include <ATen/ATen.h>

#include <stdexcept>

#include "cuda/ms_kernels.h"
#include "internal/kernels.h"
#include "mesl/error.h"

namespace mesl::codec::detail {
namespace {

// The kernels count with 32-bit lanes per tile and pack two counts below 2^31 into one 64-bit scan.
constexpr int64_t kMaxElements = (int64_t{1} << 31) - 1;

at::Tensor device_bytes(int64_t bytes, const at::Device& device) {
  return at::empty({bytes}, at::TensorOptions().dtype(at::kByte).device(device));
}

// A failing CUDA call becomes a CodecError (with CUDA's words), like any other failure inside a codec.
template <typename F>
auto checked(F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const std::runtime_error& e) {
    throw CodecError(e.what());
  }
}

}  // namespace

bool cuda_kernels_take(const Header& h, const at::Device& device) {
  return device.is_cuda() && h.method == Method::ms && !h.sample_scope && h.d > 0 && h.d <= kMaxElements;
}

at::Tensor cuda_encode(EncodeJob& job, const at::Tensor& x) {
  Header& h = job.header;
  const at::Tensor scratch = device_bytes(static_cast<int64_t>(gpu::ms_scratch_bytes(h.d)), x.device());
  const at::Tensor body = device_bytes(static_cast<int64_t>(job.layout.body_bytes()), x.device());
  gpu::MsEncodeArgs a;
  a.device = x.get_device();
  a.x = x.data_ptr<float>();
  a.d = h.d;
  a.k = h.k;
  a.bits = h.bits;
  a.floor_rounding = h.floor_rounding;
  a.scratch = scratch.data_ptr();
  a.body = body.data_ptr<uint8_t>();
  a.codes_bytes = static_cast<int64_t>(job.layout.codes_bytes);
  const gpu::ScanFlags flags = checked([&] { return gpu::ms_scan(a); });
  h.is_signed = decide_sign(job, flags.negative, flags.nonfinite);
  a.is_signed = h.is_signed;
  checked([&] { gpu::ms_encode(a); });
  return body;
}

at::Tensor cuda_decode(const Header& h, const Layout& l, const at::Tensor& body) {
  const at::Tensor scratch = device_bytes(static_cast<int64_t>(gpu::ms_scratch_bytes(h.d)), body.device());
  at::Tensor out;
  try {
    out = at::empty({h.d}, at::TensorOptions().dtype(at::kFloat).device(body.device()));
  } catch (const std::exception&) {
    throw PayloadError(::mesl::detail::concat("payload refused: cannot allocate ", h.d, " elements on the GPU"));
  }
  gpu::MsDecodeArgs a;
  a.device = body.get_device();
  a.body = body.data_ptr<uint8_t>();
  a.d = h.d;
  a.kept = l.kept;
  a.bits = h.bits;
  a.is_signed = h.is_signed;
  a.codes_bytes = static_cast<int64_t>(l.codes_bytes);
  a.scratch = scratch.data_ptr();
  a.out = out.data_ptr<float>();
  const gpu::MsBodyCheck c = checked([&] { return gpu::ms_check(a); });
  if (c.nonfinite_kept) refuse_kept_nonfinite();
  if (c.negative_kept) refuse_kept_negative();
  if (c.invalid_code) refuse_invalid_code();
  if (c.reserved != l.kept) refuse_marked(c.reserved, l.kept);
  checked([&] { gpu::ms_decode(a); });
  return out;
}

}  // namespace mesl::codec::detail
