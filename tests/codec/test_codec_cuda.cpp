// The codecs on a CUDA device: a tensor on the GPU encodes to the same bytes as the same tensor on the CPU (the
// fast kernels), and a payload decoded onto the GPU equals its CPU decode. Built only against a CUDA-enabled
// LibTorch; on a machine without a GPU the executable exits 77, which CTest reports as skipped, never as passed.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>
#include <torch/cuda.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "codec_test_util.h"
#include "mesl/error.h"

namespace mesl::codec::test {
namespace {

const at::Device kGpu(at::kCUDA, 0);

// Every method and the settings that change the device code's arithmetic or layout.
std::vector<CodecOptions> settings_for(bool signed_input) {
  std::vector<CodecOptions> all;
  for (double keep : {0.01, 0.1, 0.5}) {
    for (int b = signed_input ? 2 : 1; b <= 8; b += 3)
      for (Rounding r : {Rounding::round, Rounding::floor})
        for (Scope s : {Scope::batch, Scope::sample})
          all.push_back(CodecOptions(Method::ms).keep(keep).bits(b).rounding(r).scope(s).sign(
              signed_input ? Sign::signed_values : Sign::nonneg));
    for (Method m : {Method::sp, Method::rt})
      for (Positions p : {Positions::bitmap, Positions::kv})
        for (Scope s : {Scope::batch, Scope::sample})
          all.push_back(CodecOptions(m).keep(keep).positions(p).scope(s).seed(7));
  }
  if (signed_input) all.push_back(CodecOptions(Method::ms).keep(0.05).bits(3).sign(Sign::automatic));
  for (int q : {1, 2, 5, 8, 16}) all.push_back(CodecOptions(Method::qu).bits(q));
  for (Method m : {Method::identity, Method::fp16, Method::bf16}) all.push_back(CodecOptions(m));
  return all;
}

// x_gpu encodes on the GPU (with `impl` there: the CUDA kernels or LibTorch ops for fast, LibTorch ops for
// reference) to the bytes the CPU's fast kernels give, and decodes on the GPU to the CPU's decode.
void check_gpu_tensor(const at::Tensor& x_gpu, const CodecOptions& o, bool training, Impl impl = Impl::fast) {
  CAPTURE(to_spec(o));
  CAPTURE(training);
  CAPTURE(x_gpu.sizes());
  CAPTURE(to_string(impl));
  Codec on_cpu(o), on_gpu(CodecOptions(o).impl(impl));
  on_cpu.train(training);
  on_gpu.train(training);
  const auto expected = on_cpu.encode(x_gpu.cpu());
  const auto payload = on_gpu.encode(x_gpu);
  REQUIRE(payload == expected);
  const at::Tensor cpu_hat = decode(expected);
  const at::Tensor gpu_hat = decode(payload, DecodeOptions().device(kGpu).impl(impl));
  CHECK(gpu_hat.device() == kGpu);
  CHECK((gpu_hat.scalar_type() == cpu_hat.scalar_type()));  // (2.x: ScalarType has no doctest-printable form)
  CHECK(at::equal(gpu_hat.cpu(), cpu_hat));
}

void check_same_as_cpu(const at::Tensor& x, const CodecOptions& o, bool training) {
  check_gpu_tensor(x.to(kGpu), o, training);
}

TEST_CASE("a GPU tensor encodes to the CPU's bytes and decodes on the GPU to the CPU's tensor") {
  uint64_t seed = 900;
  for (const auto& shape : test_shapes()) {
    for (const char* dist : {"relu", "normal"}) {
      const bool signed_input = std::string(dist) == "normal";
      const at::Tensor x = make_input(shape, dist, seed++);
      for (const auto& o : settings_for(signed_input)) {
        if (o.scope() == Scope::sample && x.dim() == 0) continue;  // refused on both devices (tested on the CPU)
        for (bool training : {false, true}) check_same_as_cpu(x, o, training);
      }
    }
  }
}

TEST_CASE("GPU and CPU agree on a cut-layer tensor, on inputs full of ties, and in float16 and bfloat16") {
  const at::Tensor relu = make_input({32, 64, 16, 16}, "relu", 31);  // 524,288 elements
  const at::Tensor tied = (make_input({4, 64, 17, 17}, "normal", 32) * 4.0).round() / 4.0;
  for (const auto& o : settings_for(false)) check_same_as_cpu(relu, o, true);
  for (const auto& o : settings_for(true)) check_same_as_cpu(tied, o, true);
  for (at::ScalarType t : {at::kHalf, at::kBFloat16, at::kDouble})
    for (const auto& o : {CodecOptions(Method::ms).keep(0.02).bits(2), CodecOptions(Method::qu).bits(4),
                          CodecOptions(Method::sp).keep(0.03), CodecOptions(Method::identity)})
      check_same_as_cpu(relu.to(t), o, false);
}

TEST_CASE("ms on the GPU, kernels and LibTorch ops: every k from none to all, tile edges, ties, a misaligned view") {
  // The CUDA kernels work in threads of 16 elements and tiles of 4096, and select on 11 + 10 + 10 key bits.
  uint64_t seed = 700;
  for (int64_t d : {15, 16, 17, 4095, 4096, 4097, 100003}) {
    const at::Tensor relu = make_input({d}, "relu", seed++).to(kGpu);
    const at::Tensor normal = make_input({d}, "normal", seed++).to(kGpu);
    for (int64_t k : {int64_t{0}, int64_t{1}, d / 3, d - 1, d}) {
      for (int b = 1; b <= 8; ++b) {
        const auto o = CodecOptions(Method::ms).k(k).bits(b);
        for (Impl impl : {Impl::fast, Impl::reference}) {
          check_gpu_tensor(relu, o, true, impl);
          if (b >= 2) check_gpu_tensor(normal, CodecOptions(o).sign(Sign::signed_values), true, impl);
        }
      }
    }
  }
  // Ties everywhere: a few distinct magnitudes, so the threshold's ties span many tiles and are kept lowest index
  // first; floor rounding; automatic sign.
  const at::Tensor tied = ((make_input({300000}, "normal", seed++) * 2.0).round() / 2.0).to(kGpu);
  for (double keep : {0.01, 0.2, 0.6})
    for (Rounding r : {Rounding::round, Rounding::floor})
      check_gpu_tensor(tied, CodecOptions(Method::ms).keep(keep).bits(3).rounding(r).sign(Sign::automatic), true);
  // A view that starts 4 bytes into its storage: the kernels' vector loads must not assume alignment.
  const at::Tensor base = make_input({2 * 4096 + 35}, "relu", seed++).to(kGpu);
  check_gpu_tensor(base.narrow(0, 1, 2 * 4096 + 33), CodecOptions(Method::ms).keep(0.05).bits(2), true);
  // Every element the same: all keys tie.
  check_gpu_tensor(at::full({5000}, 0.75f, at::TensorOptions().device(kGpu)), CodecOptions(Method::ms).k(777), true);
}

TEST_CASE("the GPU refuses what the CPU refuses: NaN, negative input for nonneg ms, malformed payloads") {
  at::Tensor x = make_input({4, 100}, "relu", 40);
  x[1][3] = NAN;
  CHECK_THROWS_AS(Codec(CodecOptions(Method::ms).keep(0.1)).encode(x.to(kGpu)), CodecError);
  CHECK_THROWS_AS(Codec(CodecOptions(Method::qu).bits(4)).encode(x.to(kGpu)), CodecError);
  const at::Tensor negative = make_input({4, 100}, "normal", 41);
  CHECK_THROWS_AS(Codec(CodecOptions(Method::ms).keep(0.1)).encode(negative.to(kGpu)), CodecError);

  const at::Tensor good = make_input({4, 100}, "relu", 42);
  const auto payload = Codec(CodecOptions(Method::ms).keep(0.1).bits(2)).encode(good);
  const size_t header = Codec(CodecOptions(Method::ms).keep(0.1).bits(2)).header_bytes({4, 100});
  auto marks_too_many = payload;
  marks_too_many[header] = 0xFF;  // the first four positions marked kept: more than the header's k
  REQUIRE_THROWS_AS(decode(marks_too_many), PayloadError);
  CHECK_THROWS_AS(decode(marks_too_many, DecodeOptions().device(kGpu)), PayloadError);
  auto bad_value = payload;
  const float nan = NAN;
  std::memcpy(bad_value.data() + bad_value.size() - sizeof(float), &nan, sizeof(float));
  CHECK_THROWS_AS(decode(bad_value, DecodeOptions().device(kGpu)), PayloadError);
  auto negative_value = payload;  // a kept value below zero in an unsigned mask
  const float minus = -1.0f;
  std::memcpy(negative_value.data() + negative_value.size() - sizeof(float), &minus, sizeof(float));
  CHECK_THROWS_AS(decode(negative_value, DecodeOptions().device(kGpu)), PayloadError);
  auto truncated = payload;
  truncated.pop_back();
  CHECK_THROWS_AS(decode(truncated, DecodeOptions().device(kGpu)), PayloadError);
}

}  // namespace
}  // namespace mesl::codec::test

int main(int argc, char** argv) {
  if (!torch::cuda::is_available()) {
    std::puts("test_codec_cuda: no CUDA device visible; skipped (exit 77)");
    return 77;
  }
  return doctest::Context(argc, argv).run();
}
