// Header serialisation and the checks a decoder makes before it trusts a payload (docs/wire-format.md).
#include "mesl/codec/wire.h"

#include <array>
#include <cmath>
#include <cstring>
#include <limits>

#include "mesl/error.h"

namespace mesl::codec {
namespace {

static_assert(sizeof(float) == 4, "the wire format stores IEEE-754 binary32 values");

constexpr std::array<uint8_t, 4> kMagic = {'M', 'E', 'S', 'L'};

// Header field offsets (docs/wire-format.md, "Header").
constexpr size_t kOffVersion = 4, kOffMethod = 5, kOffDType = 6, kOffRank = 7, kOffBits = 8, kOffFlags = 9,
                 kOffHeaderLen = 10, kOffReserved = 12, kOffD = 16, kOffK = 24, kOffShape = 32;

// Flag bits.
constexpr uint8_t kFlagSigned = 1, kFlagFloor = 2, kFlagSample = 4, kFlagKv = 8;

bool is_little_endian() {
  const uint16_t probe = 1;
  uint8_t first;
  std::memcpy(&first, &probe, 1);
  return first == 1;
}

template <typename T>
void put(uint8_t* out, size_t offset, T value) {
  // The format is little-endian; mesl only builds on little-endian hosts (checked below).
  std::memcpy(out + offset, &value, sizeof(T));
}

template <typename T>
T get(const uint8_t* in, size_t offset) {
  T value;
  std::memcpy(&value, in + offset, sizeof(T));
  return value;
}

size_t scalar_count(Method m) { return m == Method::qu ? 2 : 0; }

uint8_t flags_of(const Header& h) {
  return static_cast<uint8_t>((h.is_signed ? kFlagSigned : 0) | (h.floor_rounding ? kFlagFloor : 0) |
                              (h.sample_scope ? kFlagSample : 0) | (h.kv_positions ? kFlagKv : 0));
}

// The flags each method may carry.
uint8_t allowed_flags(Method m) {
  switch (m) {
    case Method::ms: return kFlagSigned | kFlagFloor | kFlagSample;
    case Method::sp:
    case Method::rt: return kFlagSample | kFlagKv;
    default: return 0;
  }
}

uint64_t ceil_div(uint64_t a, uint64_t b) { return a / b + (a % b != 0); }

[[noreturn]] void refuse(const std::string& why) { throw PayloadError("payload refused: " + why); }

}  // namespace

uint32_t crc32(const uint8_t* data, size_t size) {
  // CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), table-driven.
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int j = 0; j < 8; ++j) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < size; ++i) c = table[(c ^ data[i]) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

size_t header_bytes(const Header& h) {
  return kHeaderFixedBytes + 8 * h.shape.size() + 4 * scalar_count(h.method);
}

Layout layout_of(const Header& h) {
  Layout l;
  l.header_bytes = header_bytes(h);
  l.units = h.sample_scope ? (h.shape.empty() ? 1 : h.shape[0]) : 1;
  l.unit_elements = l.units == 0 ? 0 : h.d / l.units;
  l.kept = is_sparse(h.method) ? l.units * h.k : 0;
  const auto d = static_cast<uint64_t>(h.d), kept = static_cast<uint64_t>(l.kept);
  switch (h.method) {
    case Method::identity: l.values_bytes = 4 * d; break;
    case Method::fp16:
    case Method::bf16: l.values_bytes = 2 * d; break;
    case Method::qu: l.codes_bytes = ceil_div(d * static_cast<uint64_t>(h.bits), 8); break;
    case Method::sp:
    case Method::rt:
      if (h.kv_positions) {
        l.index_bytes = 4 * kept;
      } else {
        l.codes_bytes = ceil_div(d, 8);
      }
      l.values_bytes = 4 * kept;
      break;
    case Method::ms:
      l.codes_bytes = ceil_div(d * static_cast<uint64_t>(h.bits), 8);
      l.values_bytes = 4 * kept;
      break;
  }
  return l;
}

void write_header(const Header& h, uint8_t* out) {
  static const bool little = is_little_endian();
  MESL_CHECK(little, CodecError, "mesl payloads are little-endian and this host is not");
  const size_t n = header_bytes(h);
  std::memcpy(out, kMagic.data(), kMagic.size());
  put<uint8_t>(out, kOffVersion, kWireVersion);
  put<uint8_t>(out, kOffMethod, static_cast<uint8_t>(h.method));
  put<uint8_t>(out, kOffDType, static_cast<uint8_t>(h.dtype));
  put<uint8_t>(out, kOffRank, static_cast<uint8_t>(h.shape.size()));
  put<uint8_t>(out, kOffBits, static_cast<uint8_t>(h.bits));
  put<uint8_t>(out, kOffFlags, flags_of(h));
  put<uint16_t>(out, kOffHeaderLen, static_cast<uint16_t>(n));
  put<uint32_t>(out, kOffReserved, 0);
  put<uint64_t>(out, kOffD, static_cast<uint64_t>(h.d));
  put<uint64_t>(out, kOffK, static_cast<uint64_t>(h.k));
  size_t off = kOffShape;
  for (int64_t s : h.shape) {
    put<uint64_t>(out, off, static_cast<uint64_t>(s));
    off += 8;
  }
  if (h.method == Method::qu) {
    put<float>(out, off, h.qu_min);
    put<float>(out, off + 4, h.qu_max);
    off += 8;
  }
  put<uint32_t>(out, off, crc32(out, off));
}

Header read_header(const uint8_t* data, size_t size, const DecodeLimits& limits) {
  if (size < kHeaderFixedBytes)
    refuse(::mesl::detail::concat("truncated: ", size, " bytes, but a header alone is at least ", kHeaderFixedBytes));
  if (std::memcmp(data, kMagic.data(), kMagic.size()) != 0) refuse("not a mesl payload (bad magic bytes)");
  const auto version = get<uint8_t>(data, kOffVersion);
  if (version != kWireVersion)
    refuse(::mesl::detail::concat("format version ", int(version), " is not supported (this build reads version ",
                          int(kWireVersion), ")"));
  const auto rank = get<uint8_t>(data, kOffRank);
  if (rank > kMaxRank) refuse(::mesl::detail::concat("rank ", int(rank), " exceeds the maximum of ", kMaxRank));
  const auto method_id = get<uint8_t>(data, kOffMethod);
  if (method_id > static_cast<uint8_t>(Method::ms)) refuse(::mesl::detail::concat("unknown codec id ", int(method_id)));
  const auto method = static_cast<Method>(method_id);
  const size_t expected_len = kHeaderFixedBytes + 8 * rank + 4 * scalar_count(method);
  const auto header_len = get<uint16_t>(data, kOffHeaderLen);
  if (header_len != expected_len)
    refuse(::mesl::detail::concat("header length field says ", header_len, " bytes, but rank ", int(rank), " and codec ",
                          to_string(method), " need ", expected_len));
  if (size < expected_len)
    refuse(::mesl::detail::concat("truncated: ", size, " bytes, but the header alone is ", expected_len));
  const size_t crc_at = expected_len - 4;
  if (crc32(data, crc_at) != get<uint32_t>(data, crc_at)) refuse("the header is corrupt (checksum mismatch)");

  Header h;
  h.method = method;
  const auto dtype = get<uint8_t>(data, kOffDType);
  if (dtype > static_cast<uint8_t>(WireDType::bfloat16)) refuse(::mesl::detail::concat("unknown element type id ", int(dtype)));
  h.dtype = static_cast<WireDType>(dtype);
  h.bits = get<uint8_t>(data, kOffBits);
  const auto flags = get<uint8_t>(data, kOffFlags);
  if ((flags & ~allowed_flags(method)) != 0)
    refuse(::mesl::detail::concat("flags 0x", std::hex, int(flags), " are not valid for codec ", to_string(method)));
  if (get<uint32_t>(data, kOffReserved) != 0) refuse("reserved header bytes are not zero");
  h.is_signed = flags & kFlagSigned;
  h.floor_rounding = flags & kFlagFloor;
  h.sample_scope = flags & kFlagSample;
  h.kv_positions = flags & kFlagKv;

  const auto d = get<uint64_t>(data, kOffD);
  const auto k = get<uint64_t>(data, kOffK);
  if (d > static_cast<uint64_t>(limits.max_elements))
    refuse(::mesl::detail::concat("it describes ", d, " elements, above the decoder's limit of ", limits.max_elements));
  h.d = static_cast<int64_t>(d);
  uint64_t product = 1;
  bool zero_dim = false;
  for (int i = 0; i < rank; ++i) {
    const auto s = get<uint64_t>(data, kOffShape + 8 * i);
    if (s > static_cast<uint64_t>(limits.max_elements))
      refuse(::mesl::detail::concat("dimension ", i, " is ", s, ", above the decoder's limit"));
    h.shape.push_back(static_cast<int64_t>(s));
    if (s == 0) zero_dim = true;
    // With every factor <= 2^28 and the running product <= 2^28 (checked), the product cannot overflow.
    if (!zero_dim) {
      product *= s;
      if (product > static_cast<uint64_t>(limits.max_elements))
        refuse("its shape describes more elements than the decoder's limit");
    }
  }
  if (zero_dim) product = 0;
  if (product != d) refuse(::mesl::detail::concat("the shape's product is ", product, " but d is ", d));

  switch (method) {
    case Method::ms:
      if (h.bits < 1 || h.bits > 8) refuse(::mesl::detail::concat("ms mask width ", h.bits, " is outside 1..8"));
      if (h.is_signed && h.bits < 2) refuse("signed ms needs a mask width of at least 2");
      break;
    case Method::qu:
      if (h.bits < 1 || h.bits > 16) refuse(::mesl::detail::concat("qu code width ", h.bits, " is outside 1..16"));
      break;
    default:
      if (h.bits != 0) refuse(::mesl::detail::concat("codec ", to_string(method), " carries no bit width, but the header says ", h.bits));
  }
  if (h.sample_scope && rank == 0) refuse("sample scope needs a tensor of rank >= 1");
  const int64_t units = h.sample_scope ? h.shape[0] : 1;
  const int64_t unit_elements = units == 0 ? 0 : h.d / units;
  if (is_sparse(method)) {
    if (k > static_cast<uint64_t>(unit_elements))
      refuse(::mesl::detail::concat("k = ", k, " is larger than the ", unit_elements, " elements it selects from"));
    h.k = static_cast<int64_t>(k);
  } else if (k != 0) {
    refuse(::mesl::detail::concat("codec ", to_string(method), " keeps no values, but k is ", k));
  }
  if (h.kv_positions && h.d > static_cast<int64_t>(std::numeric_limits<uint32_t>::max()))
    refuse("kv positions address at most 2^32 - 1 elements");

  if (method == Method::qu) {
    const size_t off = kOffShape + 8 * rank;
    h.qu_min = get<float>(data, off);
    h.qu_max = get<float>(data, off + 4);
    // The encoder refuses ranges whose width overflows float32 (check_qu_range); decoding one would give NaN.
    if (!std::isfinite(h.qu_min) || !std::isfinite(h.qu_max) || h.qu_min > h.qu_max ||
        !std::isfinite(h.qu_max - h.qu_min))
      refuse("qu range is not a finite interval");
  }
  const Layout l = layout_of(h);
  if (size != l.total_bytes())
    refuse(::mesl::detail::concat(size < l.total_bytes() ? "truncated: " : "oversized: ", size,
                          " bytes, but its header describes ", l.total_bytes()));
  return h;
}

}  // namespace mesl::codec
