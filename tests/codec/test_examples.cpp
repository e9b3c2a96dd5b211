// The seed paper's worked example (docs/codecs.md, Fig. 1): b = 2, k = 4, non-negative, batch scope, row-major 4x4.
#include <doctest/doctest.h>

#include <cstring>

#include "codec_test_util.h"
#include "mesl/codec/codec.h"
#include "mesl/codec/wire.h"

using namespace mesl::codec;

namespace {

at::Tensor figure1() {
  return at::tensor({2.2f, 0.8f, 1.2f, 0.4f, 1.8f, 0.2f, 3.1f, 2.0f, 2.1f, 0.2f, 1.1f, 1.7f, 0.3f, 2.8f, 1.4f, 0.9f})
      .reshape({4, 4});
}

// Unpacks the 2-bit codes of a payload (LSB-first stream right after the header).
std::vector<int> codes_of(const std::vector<uint8_t>& payload, int bits, int64_t d) {
  const Header h = read_header(payload.data(), payload.size());
  const uint8_t* body = payload.data() + header_bytes(h);
  std::vector<int> codes;
  for (int64_t i = 0; i < d; ++i) {
    int c = 0;
    for (int j = 0; j < bits; ++j) {
      const int64_t bit = i * bits + j;
      c |= ((body[bit / 8] >> (bit % 8)) & 1) << j;
    }
    codes.push_back(c);
  }
  return codes;
}

double l2(const at::Tensor& a, const at::Tensor& b) { return (a - b).norm().item<double>(); }

}  // namespace

TEST_CASE("Fig. 1: floor codes are the figure's mask, 20 data bytes, errors 4.06 / 1.02 / 1.18") {
  const at::Tensor x = figure1();
  for (Impl impl : {Impl::fast, Impl::reference}) {
    CAPTURE(to_string(impl));
    Codec floor_ms(CodecOptions(Method::ms).k(4).bits(2).rounding(Rounding::floor).impl(impl));
    const auto payload = floor_ms.encode(x);
    const Header h = read_header(payload.data(), payload.size());
    CHECK(payload.size() - header_bytes(h) == 20);  // 16 x 2 bits + 4 x 4 bytes
    CHECK(codes_of(payload, 2, 16) == std::vector<int>{3, 1, 1, 0, 2, 0, 3, 2, 3, 0, 1, 2, 0, 3, 2, 1});
    // Kept values in position order, exact, after the code bytes.
    float kept[4];
    std::memcpy(kept, payload.data() + header_bytes(h) + 4, sizeof kept);
    CHECK(kept[0] == 2.2f);
    CHECK(kept[1] == 3.1f);
    CHECK(kept[2] == 2.1f);
    CHECK(kept[3] == 2.8f);
    CHECK(l2(x, decode(payload)) == doctest::Approx(1.18).epsilon(0.005));

    Codec round_ms(CodecOptions(Method::ms).k(4).bits(2).impl(impl));
    CHECK(l2(x, decode(round_ms.encode(x))) == doctest::Approx(1.02).epsilon(0.005));

    Codec top4(CodecOptions(Method::sp).k(4).impl(impl));
    CHECK(l2(x, decode(top4.encode(x))) == doctest::Approx(4.06).epsilon(0.005));
  }
}

TEST_CASE("Fig. 1: the bytes docs/wire-format.md shows") {
  Codec ms(CodecOptions(Method::ms).k(4).bits(2).rounding(Rounding::floor));
  const auto p = ms.encode(figure1());
  REQUIRE(p.size() == 52 + 20);
  const std::vector<uint8_t> head(p.begin(), p.begin() + 12);
  CHECK(head == std::vector<uint8_t>{0x4D, 0x45, 0x53, 0x4C, 1, 6, 0, 2, 2, 2, 52, 0});
  const std::vector<uint8_t> codes(p.begin() + 52, p.begin() + 56);
  CHECK(codes == std::vector<uint8_t>{0x17, 0xB2, 0x93, 0x6C});
  CHECK(crc32(p.data(), 48) == (uint32_t(p[48]) | uint32_t(p[49]) << 8 | uint32_t(p[50]) << 16 | uint32_t(p[51]) << 24));
}

TEST_CASE("Fig. 1: the payload is exactly header + ceil(d b / 8) + 4 k bytes") {
  Codec ms(CodecOptions(Method::ms).k(4).bits(2));
  const auto payload = ms.encode(figure1());
  CHECK(payload.size() == ms.header_bytes({4, 4}) + 4 + 16);
  CHECK(payload.size() == ms.payload_bytes({4, 4}));
  CHECK(ms.header_bytes({4, 4}) == kHeaderFixedBytes + 2 * 8);
}
