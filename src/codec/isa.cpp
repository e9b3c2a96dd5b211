// How the fast kernels use the CPU, and the public switches for it (codec.h): the instruction set (internal/isa.h)
// and the output size from which the qu decoder streams its stores (internal/code_groups.h).
#include <atomic>
#include <cstdlib>
#include <string>
#include <vector>

#include "internal/isa.h"
#include "mesl/codec/codec.h"
#include "mesl/error.h"

namespace mesl::codec {
namespace detail {
namespace {

constexpr int kUnset = -1;
std::atomic<int> chosen{kUnset};
// 16 MiB: half of the last-level cache of this project's VMs, which the rest of a step's data shares. Decoding
// qu b 2 streamed took 36-55% less time there at 1 thread, at 16 MiB and at 67 MB (docs/performance.md).
std::atomic<int64_t> streaming_from{int64_t{16} << 20};

const char* name_of(Isa isa) {
  switch (isa) {
    case Isa::avx512: return "avx512";
    case Isa::avx2: return "avx2";
    case Isa::sse2: return "sse2";
    case Isa::scalar: break;
  }
  return "scalar";
}

bool cpu_has(Isa isa) {
  switch (isa) {
    case Isa::scalar: return MESL_CODEC_SIMD == 0;  // the element-by-element code only where there is no SIMD
    case Isa::sse2: return MESL_CODEC_SIMD != 0;
    case Isa::avx2:
#if MESL_CODEC_AVX2
      // libgcc's check includes the OS's support for the 256-bit registers (XGETBV).
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2") &&
             __builtin_cpu_supports("popcnt");
#else
      return false;
#endif
    case Isa::avx512:
#if MESL_CODEC_AVX2
      // The same check for the 512-bit and mask registers' state.
      return cpu_has(Isa::avx2) && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
#else
      return false;
#endif
  }
  return false;
}

Isa best() {
  for (Isa isa : {Isa::avx512, Isa::avx2, Isa::sse2})
    if (cpu_has(isa)) return isa;
  return Isa::scalar;
}

Isa parse(const std::string& name, const char* where) {
  std::string names;
  for (Isa isa : {Isa::avx512, Isa::avx2, Isa::sse2, Isa::scalar}) {
    if (!cpu_has(isa)) continue;
    if (name == name_of(isa)) return isa;
    names += names.empty() ? name_of(isa) : std::string(", ") + name_of(isa);
  }
  const bool from_env = std::string(where).rfind("MESL_CODEC_ISA", 0) == 0;
  throw ConfigError(::mesl::detail::concat(where, "'", name, "' is not an instruction set this build and CPU run; ",
                                           "choose one of ", names, from_env ? " (or unset MESL_CODEC_ISA)" : ""));
}

}  // namespace

bool stream_output(int64_t bytes) { return bytes >= streaming_from.load(std::memory_order_relaxed); }

Isa active_isa() {
  int isa = chosen.load(std::memory_order_relaxed);
  if (isa != kUnset) return static_cast<Isa>(isa);
  const char* env = std::getenv("MESL_CODEC_ISA");
  const Isa pick = env && *env ? parse(env, "MESL_CODEC_ISA=") : best();
  chosen.store(static_cast<int>(pick), std::memory_order_relaxed);
  return pick;
}

}  // namespace detail

std::string kernel_isa() { return detail::name_of(detail::active_isa()); }

std::vector<std::string> kernel_isas() {
  std::vector<std::string> names;
  for (detail::Isa isa : {detail::Isa::avx512, detail::Isa::avx2, detail::Isa::sse2, detail::Isa::scalar})
    if (detail::cpu_has(isa)) names.emplace_back(detail::name_of(isa));
  return names;
}

void set_kernel_isa(const std::string& name) {
  detail::chosen.store(static_cast<int>(detail::parse(name, "kernel instruction set ")), std::memory_order_relaxed);
}

int64_t decode_streaming_bytes() { return detail::streaming_from.load(std::memory_order_relaxed); }

void set_decode_streaming_bytes(int64_t bytes) {
  MESL_CHECK(bytes >= 0, ConfigError, "the decode streaming size must be >= 0 bytes (INT64_MAX: never stream), not ",
             bytes);
  detail::streaming_from.store(bytes, std::memory_order_relaxed);
}

}  // namespace mesl::codec
