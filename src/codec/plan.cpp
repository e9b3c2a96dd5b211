// Equal-budget planning (docs/codecs.md, "Budget arithmetic").
#include "mesl/codec/plan.h"

#include <cmath>

#include "mesl/codec/codec.h"
#include "mesl/error.h"

namespace mesl::codec {
namespace {

// The largest k with fixed_bits * d + bits_per_kept * k <= bpe * d, or -1 if even k = 0 does not fit. The budget
// is a decimal the user typed (2.32), so the comparison allows a relative 1e-9 of slack for its binary rounding.
int64_t largest_k(double bpe, int64_t d, double fixed_bits, double bits_per_kept) {
  const double budget = bpe * static_cast<double>(d) * (1.0 + 1e-9);
  const double left = budget - fixed_bits * static_cast<double>(d);
  if (left < 0) return -1;
  return std::min<int64_t>(d, static_cast<int64_t>(std::floor(left / bits_per_kept)));
}

}  // namespace

std::vector<PlanEntry> plan_budget(double bpe, const std::vector<int64_t>& shape, int ms_bits,
                                   const CodecOptions& base) {
  MESL_CHECK(std::isfinite(bpe) && bpe > 0, ConfigError, "--bpe must be a positive number of bits per element");
  MESL_CHECK(ms_bits >= 1 && ms_bits <= 8, ConfigError, "--bits for ms must be 1..8; got ", ms_bits);
  int64_t d = 1;
  for (auto s : shape) d *= s;
  MESL_CHECK(d > 0, ConfigError, "--shape must describe at least one element");
  const bool sample = base.scope() == Scope::sample;
  const int64_t rows = sample ? shape.at(0) : 1;
  const int64_t unit = d / rows;

  std::vector<PlanEntry> plan;
  auto add = [&](CodecOptions o) {
    PlanEntry e;
    e.options = o;
    Codec codec(o);
    e.k = codec.kept_count(shape);
    e.bpe = nominal_bpe(o, shape);
    e.payload_bytes = codec.payload_bytes(shape);
    plan.push_back(e);
  };
  auto sparse = [&](Method m, Positions p, double fixed_bits, double bits_per_kept, int bits) {
    // Budget per selection unit: with sample scope every row gets the same k.
    const int64_t k = largest_k(bpe, unit, fixed_bits, bits_per_kept);
    if (k < 0) return;
    CodecOptions o = base;
    o.method(m).positions(p).k(std::nullopt).keep(static_cast<double>(k) / static_cast<double>(unit)).bits(bits);
    if (m == Method::ms) o.sign(base.sign());
    add(o);
  };

  if (bpe >= 32.0 * (1 - 1e-9)) add(CodecOptions(Method::identity));
  if (bpe >= 16.0 * (1 - 1e-9)) {
    add(CodecOptions(Method::fp16));
    add(CodecOptions(Method::bf16));
  }
  for (int q = 16; q >= 1; --q) {
    if (q + 64.0 / static_cast<double>(d) <= bpe * (1.0 + 1e-9)) {
      add(CodecOptions(Method::qu).bits(q));
      break;
    }
  }
  sparse(Method::sp, Positions::bitmap, 1.0, 32.0, 0);
  sparse(Method::sp, Positions::kv, 0.0, 64.0, 0);
  sparse(Method::rt, Positions::bitmap, 1.0, 32.0, 0);
  sparse(Method::rt, Positions::kv, 0.0, 64.0, 0);
  sparse(Method::ms, Positions::bitmap, ms_bits, 32.0, ms_bits);
  return plan;
}

}  // namespace mesl::codec
