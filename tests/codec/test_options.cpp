// Codec options: names, validation messages, the canonical spec string, k from keep, and budget planning.
#include <doctest/doctest.h>

#include "mesl/codec/codec.h"
#include "mesl/codec/plan.h"
#include "mesl/error.h"

using namespace mesl::codec;

TEST_CASE("spec strings round-trip and name only the settings a method reads") {
  const CodecOptions ms = CodecOptions(Method::ms).keep(0.01).bits(2);
  CHECK(to_spec(ms) == "ms:keep=0.01,bits=2,rounding=round,sign=nonneg,scope=batch");
  CHECK(to_spec(parse_spec(to_spec(ms))) == to_spec(ms));
  CHECK(to_spec(CodecOptions(Method::identity)) == "identity");
  CHECK(to_spec(CodecOptions(Method::qu).bits(3)) == "qu:bits=3");
  CHECK(to_spec(CodecOptions(Method::qu)) == "qu:bits=8");
  const auto rt = parse_spec("rt:keep=0.04125,positions=kv,alpha=0.2,seed=9,scope=sample");
  CHECK(rt.method() == Method::rt);
  CHECK(*rt.keep() == 0.04125);
  CHECK(rt.positions() == Positions::kv);
  CHECK(rt.alpha() == 0.2);
  CHECK(rt.seed() == 9);
  CHECK(to_spec(parse_spec(to_spec(rt))) == to_spec(rt));
  CHECK(parse_spec("ms:k=12,bits=3,sign=auto,rounding=floor").k().value() == 12);
}

TEST_CASE("impossible settings are refused with the fix in the message") {
  auto message = [](const CodecOptions& o) {
    try {
      validate(o);
    } catch (const mesl::ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  CHECK(message(CodecOptions(Method::ms).bits(9).keep(0.1)).find("1..8") != std::string::npos);
  CHECK(message(CodecOptions(Method::qu).bits(17)).find("1..16") != std::string::npos);
  CHECK(message(CodecOptions(Method::ms)).find("exactly one of --keep") != std::string::npos);
  CHECK(message(CodecOptions(Method::sp).keep(0.1).k(3)).find("exactly one of --keep") != std::string::npos);
  CHECK(message(CodecOptions(Method::sp).keep(1.5)).find("[0, 1]") != std::string::npos);
  CHECK(message(CodecOptions(Method::sp).k(-1)).find(">= 0") != std::string::npos);
  CHECK(message(CodecOptions(Method::rt).keep(0.1).alpha(2)).find("--alpha") != std::string::npos);
  CHECK(message(CodecOptions(Method::identity).bits(3)).find("not a setting") != std::string::npos);
  CHECK(message(CodecOptions(Method::qu).keep(0.1)).find("not of qu") != std::string::npos);
  CHECK(message(CodecOptions(Method::ms).keep(0.1).bits(1).sign(Sign::signed_values)).find("--bits 2") !=
        std::string::npos);
  CHECK_THROWS_WITH_AS(parse_method("zip"), doctest::Contains("choose one of identity, fp16"), mesl::ConfigError);
  CHECK_THROWS_WITH_AS(parse_spec("ms:keep=0.1,colour=red"), doctest::Contains("unknown codec setting 'colour'"),
                       mesl::ConfigError);
  CHECK_THROWS_WITH_AS(parse_spec("ms:keep=lots"), doctest::Contains("not a number"), mesl::ConfigError);
}

TEST_CASE("k = floor(keep * d) from the actual tensor, exact for decimal fractions") {
  CHECK(kept_count(CodecOptions(Method::ms).keep(0.01), 16384) == 163);
  CHECK(kept_count(CodecOptions(Method::ms).keep(0.29), 100) == 29);  // 0.29 * 100 is 28.999999999999996
  CHECK(kept_count(CodecOptions(Method::ms).keep(0.01), 99) == 0);
  CHECK(kept_count(CodecOptions(Method::ms).keep(1.0), 7) == 7);
  CHECK(kept_count(CodecOptions(Method::ms).k(5), 7) == 5);
  CHECK_THROWS_AS(kept_count(CodecOptions(Method::ms).k(8), 7), mesl::CodecError);
  // The last, smaller batch gets its own k.
  Codec ms(CodecOptions(Method::ms).keep(0.01).bits(2));
  CHECK(ms.kept_count({256, 64, 16, 16}) == 41943);
  CHECK(ms.kept_count({96, 64, 16, 16}) == 15728);
}

TEST_CASE("nominal bits per element follow the budget arithmetic of docs/codecs.md") {
  const std::vector<int64_t> shape{100, 800};  // d = 80000: 0.04125 d is a whole number
  CHECK(nominal_bpe(CodecOptions(Method::identity), shape) == 32);
  CHECK(nominal_bpe(CodecOptions(Method::fp16), shape) == 16);
  CHECK(nominal_bpe(CodecOptions(Method::qu).bits(3), shape) == doctest::Approx(3 + 64.0 / 80000));
  CHECK(nominal_bpe(CodecOptions(Method::ms).keep(0.01).bits(2), shape) == doctest::Approx(2.32));
  CHECK(nominal_bpe(CodecOptions(Method::sp).keep(0.04125), shape) == doctest::Approx(2.32));
  CHECK(nominal_bpe(CodecOptions(Method::sp).keep(0.04125).positions(Positions::kv), shape) ==
        doctest::Approx(64 * 0.04125));
  // The last, smaller batch: k = floor(0.04125 * 10000) = 412, so slightly under budget.
  CHECK(nominal_bpe(CodecOptions(Method::sp).keep(0.04125), {100, 100}) == doctest::Approx(1 + 32 * 0.0412));
}

TEST_CASE("plan: every method's largest setting within 2.32 bits per element (the paper's budget)") {
  const std::vector<int64_t> shape{256, 64, 32, 32};
  const int64_t d = 256 * 64 * 32 * 32;
  const auto plan = plan_budget(2.32, shape);
  auto find = [&](Method m, Positions p) -> const PlanEntry* {
    for (const auto& e : plan)
      if (e.options.method() == m && (!is_sparse(m) || m == Method::ms || e.options.positions() == p)) return &e;
    return nullptr;
  };
  REQUIRE(find(Method::ms, Positions::bitmap));
  CHECK(find(Method::ms, Positions::bitmap)->k == d / 100);
  CHECK(find(Method::sp, Positions::bitmap)->k == static_cast<int64_t>(0.04125 * d));
  CHECK(find(Method::rt, Positions::bitmap)->k == static_cast<int64_t>(0.04125 * d));
  CHECK(find(Method::qu, Positions::bitmap)->options.bits() == 2);  // 3 bits would exceed 2.32
  CHECK(find(Method::identity, Positions::bitmap) == nullptr);
  CHECK(find(Method::fp16, Positions::bitmap) == nullptr);
  for (const auto& e : plan) {
    CAPTURE(to_spec(e.options));
    CHECK(e.bpe <= 2.32 + 1e-9);
    // One more kept value would break the budget.
    if (is_sparse(e.options.method())) {
      CodecOptions more = e.options;
      more.keep(std::nullopt).k(e.k + 1);
      CHECK(nominal_bpe(more, shape) > 2.32);
    }
  }
  CHECK(plan_budget(40, {10}).size() == 9);  // every method fits
  CHECK_THROWS_AS(plan_budget(-1, {10}), mesl::ConfigError);
}
