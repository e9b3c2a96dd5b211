#pragma once
// The self-describing payload format (docs/wire-format.md has the byte-level layout for third-party decoders).
//
// A payload is a fixed header followed by the packed sections of its method, and nothing else:
//   header   36 + 8 * rank (+ 8 for qu) bytes, little-endian, ending in a CRC-32 of the header bytes before it
//   body     identity: d float32 | fp16, bf16: d uint16 | qu: ceil(d q / 8) code bytes
//            sp, rt bitmap: ceil(d / 8) bitmap bytes, then K float32 | sp, rt kv: K uint32 indices, K float32
//            ms: ceil(d b / 8) code bytes, then K float32 (kept values in position order)
// where K = k (batch scope) or rows * k (sample scope, k per row of dim 0).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "mesl/codec/options.h"

namespace mesl::codec {

inline constexpr uint8_t kWireVersion = 1;
inline constexpr size_t kHeaderFixedBytes = 36;  // without shape and scalars
inline constexpr int kMaxRank = 8;

// Element types of the tensor that was encoded (decode returns the same dtype). Wire ids.
enum class WireDType : uint8_t { float32 = 0, float64 = 1, float16 = 2, bfloat16 = 3 };

struct Header {
  Method method = Method::identity;
  WireDType dtype = WireDType::float32;
  std::vector<int64_t> shape;
  int64_t d = 0;          // elements
  int64_t k = 0;          // kept values per scope unit (ms, sp, rt); 0 otherwise
  int bits = 0;           // ms: b; qu: q; otherwise 0
  bool is_signed = false;     // ms: the mask holds a sign bit
  bool floor_rounding = false;  // ms: codes were floor(q), not round(q) (informational: decoding is the same)
  bool sample_scope = false;  // ms, sp, rt
  bool kv_positions = false;  // sp, rt
  float qu_min = 0, qu_max = 0;  // qu only
};

// Sizes derived from a header.
struct Layout {
  int64_t units = 1;        // scope units: 1, or rows with sample scope
  int64_t unit_elements = 0;  // d / units
  int64_t kept = 0;         // K, total kept values
  size_t header_bytes = 0;
  size_t codes_bytes = 0;   // mask, codes or bitmap section
  size_t index_bytes = 0;   // kv indices
  size_t values_bytes = 0;  // kept float32 values (or the raw/half values for identity, fp16, bf16)
  size_t body_bytes() const { return codes_bytes + index_bytes + values_bytes; }
  size_t total_bytes() const { return header_bytes + body_bytes(); }
};

// Limits a decoder applies before trusting a header (a lying header must not cause a huge allocation).
struct DecodeLimits {
  int64_t max_elements = int64_t{1} << 28;  // 1 GiB of float32
};

Layout layout_of(const Header& header);
size_t header_bytes(const Header& header);
// Writes header_bytes(header) bytes at `out`, checksum included.
void write_header(const Header& header, uint8_t* out);
// Reads and checks a whole payload's header: magic, version, checksum, ids, ranges, shape product, k <= unit size,
// and that `size` is exactly header + body. Throws PayloadError with a one-line reason.
Header read_header(const uint8_t* data, size_t size, const DecodeLimits& limits = {});

uint32_t crc32(const uint8_t* data, size_t size);

}  // namespace mesl::codec
