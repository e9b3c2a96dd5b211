#include "decode_check.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "mesl/codec/codec.h"
#include "mesl/codec/wire.h"
#include "mesl/error.h"

namespace mesl::fuzz {
namespace {

using codec::DecodeOptions;
using codec::Impl;

// Where the header keeps its own length (docs/wire-format.md): the checksum sits in its last 4 bytes.
constexpr size_t kHeaderLenOffset = 10;

[[noreturn]] void finding(const std::string& what) {
  std::fprintf(stderr, "mesl fuzz finding: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

struct Outcome {
  bool accepted = false;
  at::Tensor x;
  std::string refusal;
};

codec::DecodeLimits limits() {
  codec::DecodeLimits l;
  l.max_elements = kFuzzMaxElements;
  return l;
}

const char* name(Impl impl) { return impl == Impl::fast ? "fast" : "reference"; }

Outcome decode_with(const uint8_t* data, size_t size, Impl impl) {
  Outcome out;
  try {
    out.x = codec::decode(data, size, DecodeOptions().impl(impl).limits(limits()));
    out.accepted = true;
  } catch (const PayloadError& e) {
    out.refusal = e.what();
  } catch (const std::exception& e) {
    // A decoder may only refuse with PayloadError: anything else reaches the user as an unclear message.
    finding(std::string(name(impl)) + " decoder threw something other than PayloadError: " + e.what());
  }
  return out;
}

void check_refusal(const Outcome& o, Impl impl) {
  const std::string prefix = "payload refused: ";
  if (o.refusal.compare(0, prefix.size(), prefix) != 0 || o.refusal.size() == prefix.size())
    finding(std::string(name(impl)) + " refusal does not say why: '" + o.refusal + "'");
  if (o.refusal.find('\n') != std::string::npos)
    finding(std::string(name(impl)) + " refusal is not one line: '" + o.refusal + "'");
}

void check_accepted(const Outcome& o, const uint8_t* data, size_t size, Impl impl) {
  codec::Header h;
  try {
    h = codec::read_header(data, size, limits());
  } catch (const PayloadError& e) {
    finding(std::string(name(impl)) + " decoder accepted a payload whose header is refused: " + e.what());
  }
  if (o.x.sizes().vec() != h.shape) finding(std::string(name(impl)) + " result has another shape than the header");
  const at::ScalarType expected[] = {at::kFloat, at::kDouble, at::kHalf, at::kBFloat16};
  if (o.x.scalar_type() != expected[static_cast<int>(h.dtype)])
    finding(std::string(name(impl)) + " result has another dtype than the header");
}

// Bit-for-bit equality: the codec promises identical decoded tensors from both implementations.
bool same_bits(const at::Tensor& a, const at::Tensor& b) {
  if (a.scalar_type() != b.scalar_type() || a.sizes() != b.sizes()) return false;
  const at::Tensor ca = a.contiguous(), cb = b.contiguous();
  if (ca.nbytes() == 0) return true;  // no storage: data_ptr() is null, which memcmp must not see
  return std::memcmp(ca.data_ptr(), cb.data_ptr(), static_cast<size_t>(ca.nbytes())) == 0;
}

void check_bytes(const uint8_t* data, size_t size) {
  const Outcome fast = decode_with(data, size, Impl::fast);
  const Outcome reference = decode_with(data, size, Impl::reference);
  for (const auto* o : {&fast, &reference}) {
    const Impl impl = o == &fast ? Impl::fast : Impl::reference;
    if (o->accepted)
      check_accepted(*o, data, size, impl);
    else
      check_refusal(*o, impl);
  }
  if (fast.accepted != reference.accepted)
    finding(std::string("the implementations disagree: ") + (fast.accepted ? "fast accepts" : "fast refuses (" +
            fast.refusal + ")") + ", " + (reference.accepted ? "reference accepts" : "reference refuses (" +
            reference.refusal + ")"));
  if (fast.accepted && !same_bits(fast.x, reference.x))
    finding("fast and reference decoders return different values for the same payload");
}

}  // namespace

void init_decode_check() { at::set_num_threads(2); }

void check_decode(const uint8_t* data, size_t size) {
  // The bytes as given: nearly every mutation of a valid payload dies at the checksum here.
  check_bytes(data, size);

  // The same bytes with a checksum that matches the header they now hold.
  if (size < codec::kHeaderFixedBytes) return;
  uint16_t header_len = 0;
  std::memcpy(&header_len, data + kHeaderLenOffset, sizeof header_len);
  if (header_len < codec::kHeaderFixedBytes || header_len > size) return;
  std::vector<uint8_t> repaired(data, data + size);
  const size_t crc_at = header_len - 4u;
  const uint32_t crc = codec::crc32(repaired.data(), crc_at);
  if (std::memcmp(repaired.data() + crc_at, &crc, 4) == 0) return;  // already valid: checked above
  std::memcpy(repaired.data() + crc_at, &crc, 4);
  check_bytes(repaired.data(), repaired.size());
}

}  // namespace mesl::fuzz
