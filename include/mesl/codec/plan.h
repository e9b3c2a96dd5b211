#pragma once
// Equal-budget settings (docs/codecs.md, "Budget arithmetic"): given a target in bits per element, the setting of every
// method that meets it without exceeding it, for a tensor of a given shape.
#include <cstdint>
#include <string>
#include <vector>

#include "mesl/codec/options.h"

namespace mesl::codec {

struct PlanEntry {
  CodecOptions options;   // keep is set for the sparse methods (k/d of the planned k)
  int64_t k = 0;          // kept values for this shape (sparse methods)
  double bpe = 0;         // nominal bits per element of this setting for this shape
  size_t payload_bytes = 0;
};

// One entry per method and variant that fits: identity, fp16, bf16, qu (largest q), sp and rt with bitmap and kv
// positions (largest k), ms with mask width `ms_bits` (largest k). Methods that cannot meet the budget are left
// out. Sample scope and other settings come from `base` (applied to every sparse entry).
std::vector<PlanEntry> plan_budget(double bpe, const std::vector<int64_t>& shape, int ms_bits = 2,
                                   const CodecOptions& base = CodecOptions());

}  // namespace mesl::codec
