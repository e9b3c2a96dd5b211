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

void check_same_as_cpu(const at::Tensor& x, const CodecOptions& o, bool training) {
  CAPTURE(to_spec(o));
  CAPTURE(training);
  CAPTURE(x.sizes());
  Codec on_cpu(o), on_gpu(o);
  on_cpu.train(training);
  on_gpu.train(training);
  const auto expected = on_cpu.encode(x);
  const auto payload = on_gpu.encode(x.to(kGpu));
  REQUIRE(payload == expected);
  const at::Tensor cpu_hat = decode(expected);
  const at::Tensor gpu_hat = decode(payload, DecodeOptions().device(kGpu));
  CHECK(gpu_hat.device() == kGpu);
  CHECK((gpu_hat.scalar_type() == cpu_hat.scalar_type()));  // (2.x: ScalarType has no doctest-printable form)
  CHECK(at::equal(gpu_hat.cpu(), cpu_hat));
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
