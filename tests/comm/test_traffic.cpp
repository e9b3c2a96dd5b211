// Byte accounting, the link model and the fixed binary form of Traffic.
#include <doctest/doctest.h>

#include "mesl/comm/traffic.h"
#include "mesl/error.h"

using namespace mesl;
using namespace mesl::comm;

namespace {

const Direction kAll[] = {Direction::fwd, Direction::bwd, Direction::model, Direction::control, Direction::eval_fwd};

uint64_t u64_at(const std::vector<uint8_t>& bytes, size_t offset) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v |= static_cast<uint64_t>(bytes[offset + i]) << (8 * i);
  return v;
}

}  // namespace

TEST_CASE("directions have the names the metrics files use") {
  CHECK(to_string(Direction::fwd) == "fwd");
  CHECK(to_string(Direction::bwd) == "bwd");
  CHECK(to_string(Direction::model) == "model");
  CHECK(to_string(Direction::control) == "control");
  CHECK(to_string(Direction::eval_fwd) == "eval_fwd");
  CHECK(static_cast<int>(Direction::eval_fwd) == kDirections - 1);
}

TEST_CASE("the link model: latency plus 8 bits per byte over the bandwidth") {
  const LinkModel paper;  // 100 Mbps, no latency
  CHECK(paper.seconds(0) == 0.0);
  CHECK(paper.seconds(1'250'000) == doctest::Approx(0.1));
  const LinkModel slow{10.0, 5.0};
  CHECK(slow.seconds(0) == doctest::Approx(0.005));
  CHECK(slow.seconds(125'000) == doctest::Approx(0.105));
}

TEST_CASE("counting by direction") {
  const LinkModel link{100.0, 2.0};
  Traffic traffic(link);
  int64_t expected_bytes = 0;
  double expected_link = 0;
  for (uint64_t size : {0u, 1u, 4u, 100u, 1000u, 10000u, 1u << 20}) {
    CAPTURE(size);
    traffic.count(Direction::fwd, size, size / 10);
    expected_bytes += static_cast<int64_t>(size);
    expected_link += link.seconds(size);
  }
  traffic.count(Direction::bwd, 999);
  traffic.count(Direction::model, 5'000'000);
  CHECK(traffic[Direction::fwd].messages == 7);
  CHECK(traffic.bytes(Direction::fwd) == expected_bytes);
  CHECK(traffic[Direction::fwd].header_bytes == 0 + 0 + 0 + 10 + 100 + 1000 + (1 << 20) / 10);
  CHECK(traffic[Direction::fwd].link_s == doctest::Approx(expected_link));
  CHECK(traffic[Direction::bwd].messages == 1);
  CHECK(traffic.bytes(Direction::bwd) == 999);
  CHECK(traffic[Direction::bwd].header_bytes == 0);
  CHECK(traffic.bytes(Direction::control) == 0);
  CHECK(traffic[Direction::eval_fwd].messages == 0);
  CHECK(traffic.link_s() == doctest::Approx(expected_link + link.seconds(999) + link.seconds(5'000'000)));
  CHECK(traffic.link().latency_ms == 2.0);

  CHECK_THROWS_AS(traffic.count(Direction::fwd, 10, 11), CommError);
  CHECK_THROWS_AS(traffic.count(static_cast<Direction>(kDirections), 10), CommError);
  CHECK(traffic[Direction::fwd].messages == 7);  // a refused count changes nothing
}

TEST_CASE("merging adds every total") {
  Traffic a, b;
  a.count(Direction::fwd, 100, 10);
  a.count(Direction::control, 8);
  b.count(Direction::fwd, 50, 5);
  b.count(Direction::eval_fwd, 7);
  a.merge(b);
  CHECK(a[Direction::fwd].messages == 2);
  CHECK(a.bytes(Direction::fwd) == 150);
  CHECK(a[Direction::fwd].header_bytes == 15);
  CHECK(a.bytes(Direction::control) == 8);
  CHECK(a.bytes(Direction::eval_fwd) == 7);
  CHECK(a.link_s() == doctest::Approx(LinkModel{}.seconds(100) + LinkModel{}.seconds(8) + LinkModel{}.seconds(50) +
                                      LinkModel{}.seconds(7)));
  CHECK(b.bytes(Direction::fwd) == 50);  // the source is unchanged
}

TEST_CASE("the link time does not depend on the order the messages were counted in") {
  // Sizes whose per-message times do not add up exactly in floating point, counted forwards and backwards.
  const LinkModel link{100.0 / 3.0, 0.7};
  const std::vector<uint64_t> sizes{1, 333, 7777777, 12, 5, 90001, 3, 2'000'000'001, 17};
  Traffic forwards(link), backwards(link);
  for (const uint64_t b : sizes) forwards.count(Direction::model, b);
  for (auto it = sizes.rbegin(); it != sizes.rend(); ++it) backwards.count(Direction::model, *it);
  CHECK(forwards.link_s() == backwards.link_s());  // bit for bit
  uint64_t total = 0;
  for (const uint64_t b : sizes) total += b;
  CHECK(forwards.link_s() == link.seconds(static_cast<int64_t>(sizes.size()), static_cast<int64_t>(total)));
  CHECK(forwards.link_s() == doctest::Approx(9 * 0.7e-3 + 8.0 * static_cast<double>(total) / (100.0 / 3.0 * 1e6)));
}

TEST_CASE("serialize and deserialize round trip exactly") {
  const LinkModel link{37.5, 1.25};
  Traffic traffic(link);
  uint64_t size = 3;
  for (Direction d : kAll)
    for (int i = 0; i < static_cast<int>(d) + 1; ++i) {
      size *= 7;
      traffic.count(d, size, size / 3);
    }

  const std::vector<uint8_t> bytes = traffic.serialize();
  REQUIRE(bytes.size() == Traffic::kSerializedBytes);
  const Traffic back = Traffic::deserialize(bytes.data(), bytes.size(), link);
  for (Direction d : kAll) {
    CAPTURE(to_string(d));
    CHECK(back[d].messages == traffic[d].messages);
    CHECK(back[d].bytes == traffic[d].bytes);
    CHECK(back[d].header_bytes == traffic[d].header_bytes);
    CHECK(back[d].link_s == traffic[d].link_s);  // bit for bit
  }
  CHECK(back.link().mbps == 37.5);
  CHECK(back.serialize() == bytes);

  // The fixed layout: per direction messages, bytes, header_bytes, link_s, little-endian.
  CHECK(u64_at(bytes, 0) == 1);                                                  // fwd messages
  CHECK(u64_at(bytes, 32 + 8) == static_cast<uint64_t>(traffic.bytes(Direction::bwd)));  // bwd bytes
  CHECK(u64_at(bytes, 4 * 32) == 5);                                             // eval_fwd messages
}

TEST_CASE("deserialize refuses a buffer of the wrong size or with impossible counts") {
  Traffic traffic;
  traffic.count(Direction::bwd, 1234, 34);
  std::vector<uint8_t> bytes = traffic.serialize();
  for (size_t size : {size_t{0}, size_t{1}, Traffic::kSerializedBytes - 1, Traffic::kSerializedBytes + 1}) {
    CAPTURE(size);
    std::vector<uint8_t> resized = bytes;
    resized.resize(size);
    CHECK_THROWS_WITH_AS(Traffic::deserialize(resized.data(), resized.size(), LinkModel{}),
                         doctest::Contains("a traffic record has 160 bytes"), CommError);
  }
  std::vector<uint8_t> negative = bytes;
  negative[32 + 8 + 7] = 0x80;  // bwd bytes < 0
  CHECK_THROWS_WITH_AS(Traffic::deserialize(negative.data(), negative.size(), LinkModel{}),
                       doctest::Contains("direction bwd is corrupt"), CommError);
  std::vector<uint8_t> header_too_big = bytes;
  header_too_big[32 + 16 + 2] = 0xff;  // bwd header bytes > bytes
  CHECK_THROWS_AS(Traffic::deserialize(header_too_big.data(), header_too_big.size(), LinkModel{}), CommError);
}
