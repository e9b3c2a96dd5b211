// The choice of instruction set for the fast kernels (internal/isa.h), and its public switch (codec.h).
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

const char* name_of(Isa isa) {
  switch (isa) {
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
  }
  return false;
}

Isa best() {
  for (Isa isa : {Isa::avx2, Isa::sse2})
    if (cpu_has(isa)) return isa;
  return Isa::scalar;
}

Isa parse(const std::string& name, const char* where) {
  std::string names;
  for (Isa isa : {Isa::avx2, Isa::sse2, Isa::scalar}) {
    if (!cpu_has(isa)) continue;
    if (name == name_of(isa)) return isa;
    names += names.empty() ? name_of(isa) : std::string(", ") + name_of(isa);
  }
  const bool from_env = std::string(where).rfind("MESL_CODEC_ISA", 0) == 0;
  throw ConfigError(::mesl::detail::concat(where, "'", name, "' is not an instruction set this build and CPU run; ",
                                           "choose one of ", names, from_env ? " (or unset MESL_CODEC_ISA)" : ""));
}

}  // namespace

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
  for (detail::Isa isa : {detail::Isa::avx2, detail::Isa::sse2, detail::Isa::scalar})
    if (detail::cpu_has(isa)) names.emplace_back(detail::name_of(isa));
  return names;
}

void set_kernel_isa(const std::string& name) {
  detail::chosen.store(static_cast<int>(detail::parse(name, "kernel instruction set ")), std::memory_order_relaxed);
}

}  // namespace mesl::codec
