// The protocol's messages: exact round trips, and a clean error for a truncated or padded message.
#include <doctest/doctest.h>

#include "mesl/error.h"
#include "protocol.h"

using namespace mesl::train;

TEST_CASE("messages round-trip") {
  Control c(ControlType::evaluate, 3, 4, 5);
  c.begin = 100;
  c.end = 200;
  c.value = 7;
  c.client = 12;
  c.peer = 11;
  c.extra = {1, 2, 3};
  const Control c2 = Control::parse(c.serialize());
  CHECK(c2.client == 12);
  CHECK(c2.peer == 11);
  CHECK(c.serialize().size() == 4 + 9 * 8 + 8 + 3);  // type, nine fields, the extra's length and bytes
  CHECK(c2.type == ControlType::evaluate);
  CHECK(c2.epoch == 3);
  CHECK(c2.round == 4);
  CHECK(c2.steps == 5);
  CHECK(c2.begin == 100);
  CHECK(c2.end == 200);
  CHECK(c2.value == 7);
  CHECK(c2.extra == std::vector<uint8_t>{1, 2, 3});

  StepHeader h;
  h.client = 9;
  h.epoch = 2;
  h.batch_size = 3;
  h.encode_s = 0.25;
  h.rel_error = 0.125;
  h.labels = {4, 0, 9};
  const StepHeader h2 = StepHeader::parse(h.serialize());
  CHECK(h2.labels == h.labels);
  CHECK(h2.client == 9);
  CHECK(h2.encode_s == 0.25);
  CHECK(h2.rel_error == 0.125);
  CHECK(h.serialize().size() == 4 + 4 * 8 + 3 * 8 + 8 + 3 * 4);  // every byte accounted for

  StepDone d{0.5, 1.5, 2.5};
  const StepDone d2 = StepDone::parse(d.serialize());
  CHECK(d2.blocked_s == 2.5);
}

TEST_CASE("truncated or padded messages are refused") {
  StepHeader h;
  h.labels = {1, 2};
  auto bytes = h.serialize();
  for (size_t n = 0; n < bytes.size(); ++n) {
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
    CHECK_THROWS_AS(StepHeader::parse(cut), mesl::CommError);
  }
  bytes.push_back(0);
  CHECK_THROWS_AS(StepHeader::parse(bytes), mesl::CommError);
  auto done = StepDone{}.serialize();
  done.pop_back();
  CHECK_THROWS_AS(StepDone::parse(done), mesl::CommError);
  auto ctl = Control{}.serialize();
  ctl.push_back(1);
  CHECK_THROWS_AS(Control::parse(ctl), mesl::CommError);
}
