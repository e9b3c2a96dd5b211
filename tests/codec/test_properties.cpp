// Properties of every codec over many seeded shapes and settings (docs/codecs.md): exact payload sizes, exact kept
// values, MS never worse than SP element by element, the per-element error bound, sample scope, signed mode,
// rt's seeded draws, the edge cases, and identical results from the fast and the reference implementation.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <tuple>

#include "codec_test_util.h"
#include "mesl/codec/codec.h"
#include "mesl/error.h"

using namespace mesl::codec;
using mesl::codec::test::abs_error;
using mesl::codec::test::for_each_kernel_isa;
using mesl::codec::test::make_input;
using mesl::codec::test::test_shapes;

namespace {

int64_t numel(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (auto s : shape) n *= s;
  return n;
}

// Every setting the property tests sweep, for an input of either sign.
std::vector<CodecOptions> settings(bool signed_input) {
  std::vector<CodecOptions> out;
  const Sign ms_sign = signed_input ? Sign::signed_values : Sign::nonneg;
  for (double keep : {0.0, 0.01, 0.1, 0.5, 1.0}) {
    for (int b : {1, 2, 3, 4, 8}) {
      if (signed_input && b < 2) continue;
      for (Rounding r : {Rounding::round, Rounding::floor})
        for (Scope s : {Scope::batch, Scope::sample})
          out.push_back(CodecOptions(Method::ms).keep(keep).bits(b).rounding(r).scope(s).sign(ms_sign));
    }
    for (Method m : {Method::sp, Method::rt})
      for (Positions p : {Positions::bitmap, Positions::kv})
        for (Scope s : {Scope::batch, Scope::sample})
          out.push_back(CodecOptions(m).keep(keep).positions(p).scope(s).seed(7));
  }
  for (int q : {1, 2, 3, 8, 11, 16}) out.push_back(CodecOptions(Method::qu).bits(q));
  for (Method m : {Method::identity, Method::fp16, Method::bf16}) out.push_back(CodecOptions(m));
  return out;
}

bool sample_ok(const CodecOptions& o, const std::vector<int64_t>& shape) {
  return !(is_sparse(o.method()) && o.scope() == Scope::sample && shape.empty());
}

}  // namespace

TEST_CASE("payload size equals the formula, and fast and reference agree byte for byte") {
  for_each_kernel_isa([] {
    int checked = 0;
    uint64_t seed = 1;
    for (const auto& shape : test_shapes()) {
      for (const char* dist : {"relu", "normal"}) {
        const bool signed_input = std::string(dist) == "normal";
        const at::Tensor x = make_input(shape, dist, seed++);
        for (CodecOptions o : settings(signed_input)) {
          if (!sample_ok(o, shape)) continue;
          CAPTURE(to_spec(o));
          CAPTURE(at::IntArrayRef(shape));
          Codec fast(o.impl(Impl::fast));
          Codec reference(CodecOptions(o).impl(Impl::reference));
          const auto a = fast.encode(x);
          const auto b = reference.encode(x);
          REQUIRE(a.size() == fast.payload_bytes(shape));
          REQUIRE(a == b);
          const at::Tensor da = decode(a);
          const at::Tensor db = decode(b, DecodeOptions().impl(Impl::reference));
          REQUIRE(da.sizes() == x.sizes());
          REQUIRE((da.scalar_type() == x.scalar_type()));
          REQUIRE(at::equal(da, db));
          ++checked;
        }
      }
    }
    CHECK(checked > 1000);
  });
}

TEST_CASE("the ms payload is header + ceil(d b / 8) + 4 K bytes (K = k, or rows x k with sample scope)") {
  for (const auto& shape : test_shapes()) {
    for (int b = 1; b <= 8; ++b) {
      for (Scope s : {Scope::batch, Scope::sample}) {
        if (shape.empty() && s == Scope::sample) continue;
        Codec ms(CodecOptions(Method::ms).keep(0.1).bits(b).scope(s));
        const int64_t d = numel(shape);
        const int64_t rows = s == Scope::sample ? shape[0] : 1;
        const int64_t k = rows == 0 ? 0 : static_cast<int64_t>(std::floor(0.1 * static_cast<double>(d / rows) * (1 + 1e-12)));
        CHECK(ms.payload_bytes(shape) == ms.header_bytes(shape) + static_cast<size_t>((d * b + 7) / 8 + 4 * rows * k));
        CHECK(ms.encode(make_input(shape, "relu", 3)).size() == ms.payload_bytes(shape));
      }
    }
  }
}

TEST_CASE("ms keeps its k values exactly and is never worse than sp element by element") {
  uint64_t seed = 100;
  for (const auto& shape : test_shapes()) {
    for (double keep : {0.01, 0.05, 0.3}) {
      for (int b : {1, 2, 3, 5, 8}) {
        for (Rounding r : {Rounding::round, Rounding::floor}) {
          const at::Tensor x = make_input(shape, "relu", seed++);
          CAPTURE(keep);
          CAPTURE(b);
          const at::Tensor ms = decode(Codec(CodecOptions(Method::ms).keep(keep).bits(b).rounding(r)).encode(x));
          const at::Tensor sp = decode(Codec(CodecOptions(Method::sp).keep(keep)).encode(x));
          const at::Tensor kept = sp != 0;  // sp reconstructs exactly the kept positions (x > 0 there)
          CHECK(at::equal(ms.masked_select(kept), x.masked_select(kept)));
          // 0 is always a level, so the extra information can only help (tolerance: float rounding).
          CHECK((abs_error(x, ms) <= abs_error(x, sp) * (1 + 1e-6) + 1e-7).all().item<bool>());
        }
      }
    }
  }
}

TEST_CASE("per non-kept element |x - x_hat| < t / L, and <= t / (2L) with round below the top interval") {
  uint64_t seed = 300;
  for (int b = 2; b <= 8; ++b) {
    for (Rounding r : {Rounding::round, Rounding::floor}) {
      const at::Tensor x = make_input({4, 32, 8, 8}, "relu", seed++);
      Codec ms(CodecOptions(Method::ms).keep(0.05).bits(b).rounding(r));
      const at::Tensor x_hat = decode(ms.encode(x));
      const int64_t k = ms.kept_count({4, 32, 8, 8});
      const float t = std::get<0>(x.reshape({-1}).topk(k)).min().item<float>();
      const double L = (1 << b) - 1;
      const at::Tensor non_kept = x_hat != x;  // kept values are exact
      const at::Tensor err = abs_error(x, x_hat).masked_select(non_kept);
      CAPTURE(b);
      CHECK((err < t / L * (1 + 1e-5)).all().item<bool>());
      if (r == Rounding::round) {
        const at::Tensor below_top = x.masked_select(non_kept) < (L - 0.5) * t / L;
        CHECK((err.masked_select(below_top) <= t / (2 * L) * (1 + 1e-5)).all().item<bool>());
      }
    }
  }
}

TEST_CASE("sample scope: every row keeps its own top k with its own threshold") {
  const at::Tensor x = make_input({6, 50}, "relu", 11);
  x[2].mul_(100.0);  // a row far larger than the others: batch scope would keep only from it
  Codec per_row(CodecOptions(Method::ms).k(5).bits(2).scope(Scope::sample));
  const at::Tensor x_hat = decode(per_row.encode(x));
  for (int64_t r = 0; r < 6; ++r) {
    const at::Tensor top = std::get<1>(x[r].topk(5));
    CHECK(at::equal(x_hat[r].index_select(0, top), x[r].index_select(0, top)));
  }
  Codec whole(CodecOptions(Method::ms).k(30).bits(2));
  const at::Tensor batch_hat = decode(whole.encode(x));
  CHECK(at::equal(std::get<0>(batch_hat[2].topk(30)), std::get<0>(x[2].topk(30))));
  CHECK_FALSE(at::equal(batch_hat[0], x[0]));
}

TEST_CASE("signed mode: top k by |x|, signs restored, auto switches on the first negative value") {
  const at::Tensor x = make_input({8, 64}, "normal", 21);
  for (Impl impl : {Impl::fast, Impl::reference}) {
    Codec ms(CodecOptions(Method::ms).keep(0.05).bits(3).sign(Sign::signed_values).impl(impl));
    const at::Tensor x_hat = decode(ms.encode(x));
    const at::Tensor top = std::get<1>(x.abs().reshape({-1}).topk(ms.kept_count({8, 64})));
    CHECK(at::equal(x_hat.reshape({-1}).index_select(0, top), x.reshape({-1}).index_select(0, top)));
    // Non-kept values keep their sign (or are zero).
    CHECK(((x_hat * x) >= 0).all().item<bool>());
    CHECK((x_hat < 0).any().item<bool>());

    Codec automatic(CodecOptions(Method::ms).keep(0.05).bits(3).sign(Sign::automatic).impl(impl));
    const auto signed_payload = automatic.encode(x);
    CHECK(read_header(signed_payload.data(), signed_payload.size()).is_signed);
    const auto relu_payload = automatic.encode(x.clamp_min(0));
    CHECK_FALSE(read_header(relu_payload.data(), relu_payload.size()).is_signed);

    Codec nonneg(CodecOptions(Method::ms).keep(0.05).bits(3).impl(impl));
    CHECK_THROWS_WITH_AS(nonneg.encode(x), doctest::Contains("--sign signed"), mesl::CodecError);
  }
  CHECK_THROWS_AS(Codec(CodecOptions(Method::ms).keep(0.1).bits(1).sign(Sign::signed_values)), mesl::ConfigError);
  Codec auto_one_bit(CodecOptions(Method::ms).keep(0.1).bits(1).sign(Sign::automatic));
  CHECK_THROWS_WITH_AS(auto_one_bit.encode(x), doctest::Contains("--bits 2"), mesl::CodecError);
}

TEST_CASE("rt: reproducible with a seed, different across seeds and draws, plain top-k in evaluation") {
  const at::Tensor x = make_input({4, 256}, "relu", 31);
  auto opts = CodecOptions(Method::rt).keep(0.05).seed(5);
  Codec a(opts), b(opts), other(CodecOptions(opts).seed(6));
  const auto first = a.encode(x);
  CHECK(first == b.encode(x));
  CHECK(first != other.encode(x));
  CHECK(first != a.encode(x));  // the second draw of a stream differs from the first
  CHECK(a.draws() == 2);
  b.set_draws(0);
  CHECK(first == b.encode(x));

  // The drawn positions are sent with their exact values; about alpha of them come from outside the top k.
  const at::Tensor x_hat = decode(first);
  const at::Tensor chosen = x_hat != 0;
  CHECK(at::equal(x_hat.masked_select(chosen), x.masked_select(chosen)));
  int64_t outside = 0, total = 0;
  for (uint64_t s = 0; s < 40; ++s) {
    Codec c(CodecOptions(opts).seed(s));
    const at::Tensor h = decode(c.encode(x)).reshape({-1});
    const at::Tensor top = at::zeros_like(h, at::kBool).index_fill_(0, std::get<1>(x.reshape({-1}).topk(51)), true);
    outside += ((h != 0) & ~top).sum().item<int64_t>();
    total += 51;
  }
  const double fraction = static_cast<double>(outside) / static_cast<double>(total);
  CHECK(fraction > 0.05);
  CHECK(fraction < 0.15);

  a.eval();
  const auto eval_payload = a.encode(x);
  CHECK(a.draws() == 2);  // evaluation draws nothing
  Codec sp(CodecOptions(Method::sp).keep(0.05));
  CHECK(at::equal(decode(eval_payload), decode(sp.encode(x))));
}

TEST_CASE("rt's draws are pinned: the same positions on every platform and after every optimization") {
  // A seeded rt run must draw the same positions wherever and whenever it runs (a resumed training run continues
  // its stream). The input is exact integer arithmetic (no random generator), every value distinct and positive,
  // so the decoded non-zeros are exactly the drawn positions; their FNV-1a hash is pinned.
  const at::Tensor x = (at::arange(6000, at::kLong).mul(7919).remainder(10007) + 1).to(at::kFloat).div(10007.0f);
  auto positions_hash = [](const at::Tensor& x_hat) {
    const at::Tensor drawn = x_hat.reshape({-1}).nonzero().reshape({-1}).contiguous();
    uint64_t h = 0xcbf29ce484222325ull;
    const auto index = drawn.accessor<int64_t, 1>();
    for (int64_t i = 0; i < drawn.numel(); ++i) h = (h ^ static_cast<uint64_t>(index[i])) * 0x100000001b3ull;
    return h;
  };
  for (Scope scope : {Scope::batch, Scope::sample}) {
    const at::Tensor input = scope == Scope::batch ? x : x.reshape({3, 2000});
    const auto o = CodecOptions(Method::rt).keep(0.05).seed(7).scope(scope);
    std::vector<uint64_t> hashes;
    for (Impl impl : {Impl::fast, Impl::reference}) {
      for_each_kernel_isa([&] {
        Codec c(CodecOptions(o).impl(impl).threads(2));
        for (int draw = 0; draw < 2; ++draw) hashes.push_back(positions_hash(decode(c.encode(input))));
      });
    }
    CAPTURE(to_spec(o));
    // Recorded with the element-by-element draw of 2026-11-24 (commit 42c6f93), before the group loops drew.
    const uint64_t first = scope == Scope::batch ? 2781521424188087696ull : 4215599956917190539ull;
    const uint64_t second = scope == Scope::batch ? 7768594983436280800ull : 4431976788123701648ull;
    for (size_t i = 0; i < hashes.size(); i += 2) {
      CAPTURE(hashes[i]);
      CAPTURE(hashes[i + 1]);
      CHECK(hashes[i] == first);
      CHECK(hashes[i + 1] == second);
    }
  }
}

TEST_CASE("edge cases: k = 0, k = d, threshold 0, ties broken by lower index, empty tensors") {
  for (Impl impl : {Impl::fast, Impl::reference}) {
    CAPTURE(to_string(impl));
    const at::Tensor x = make_input({3, 10}, "relu", 41);
    // k = 0: every element is a code with t = 0, i.e. zero.
    const at::Tensor none = decode(Codec(CodecOptions(Method::ms).k(0).bits(2).impl(impl)).encode(x));
    CHECK(at::equal(none, at::zeros_like(x)));
    // k = d: everything kept exactly.
    CHECK(at::equal(decode(Codec(CodecOptions(Method::ms).keep(1.0).bits(2).impl(impl)).encode(x)), x));
    CHECK(at::equal(decode(Codec(CodecOptions(Method::sp).keep(1.0).positions(Positions::kv).impl(impl)).encode(x)), x));
    // Threshold 0: more kept values than non-zeros; no division by zero, zeros stay zero.
    at::Tensor sparse = at::zeros({40});
    sparse[3] = 1.5f;
    sparse[17] = 0.25f;
    const at::Tensor t0 = decode(Codec(CodecOptions(Method::ms).k(5).bits(2).impl(impl)).encode(sparse));
    CHECK(at::equal(t0, sparse));
    // Ties: all equal; the first k positions in index order are the kept ones.
    const at::Tensor ones = at::ones({20});
    const auto tie_payload = Codec(CodecOptions(Method::sp).k(3).positions(Positions::kv).impl(impl)).encode(ones);
    const at::Tensor tie_hat = decode(tie_payload);
    CHECK(at::equal(tie_hat.narrow(0, 0, 3), at::ones({3})));
    CHECK(at::equal(tie_hat.narrow(0, 3, 17), at::zeros({17})));
    // Empty tensors of any shape.
    for (Method m : {Method::ms, Method::sp, Method::rt, Method::qu, Method::identity}) {
      CodecOptions o(m);
      if (is_sparse(m)) o.keep(0.5);
      const at::Tensor empty = at::empty({2, 0, 5});
      CHECK(decode(Codec(o.impl(impl)).encode(empty)).sizes() == empty.sizes());
    }
  }
}

TEST_CASE("NaN and Inf are refused by the lossy codecs and passed through by the casts") {
  at::Tensor x = make_input({4, 16}, "relu", 51);
  x[1][3] = std::numeric_limits<float>::quiet_NaN();
  for (Impl impl : {Impl::fast, Impl::reference}) {
    for (Method m : {Method::ms, Method::sp, Method::rt, Method::qu}) {
      CodecOptions o(m);
      if (is_sparse(m)) o.keep(0.1);
      CHECK_THROWS_WITH_AS(Codec(o.impl(impl)).encode(x), doctest::Contains("NaN or Inf"), mesl::CodecError);
    }
  }
  CHECK(std::isnan(decode(Codec(CodecOptions(Method::identity)).encode(x))[1][3].item<float>()));
  CHECK_THROWS_WITH_AS(Codec(CodecOptions(Method::ms).k(100).bits(2)).encode(make_input({4, 16}, "relu", 1)),
                       doctest::Contains("larger than the 64 elements"), mesl::CodecError);
}

TEST_CASE("qu: min-max levels, codes within q bits, error at most half a step, constant input is exact") {
  for (int q : {1, 2, 3, 8, 12, 16}) {
    const at::Tensor x = make_input({7, 33}, "normal", 61 + q);
    const at::Tensor x_hat = decode(Codec(CodecOptions(Method::qu).bits(q)).encode(x));
    const double step = (x.max().item<double>() - x.min().item<double>()) / ((1 << q) - 1);
    CAPTURE(q);
    CHECK((abs_error(x, x_hat) <= step / 2 * (1 + 1e-4) + 1e-6).all().item<bool>());
  }
  const at::Tensor flat = at::full({5, 5}, 3.25f);
  CHECK(at::equal(decode(Codec(CodecOptions(Method::qu).bits(3)).encode(flat)), flat));
}

TEST_CASE("casts: identity is exact, fp16/bf16 round to nearest, dtypes are preserved") {
  const at::Tensor x = make_input({3, 9}, "normal", 71);
  CHECK(at::equal(decode(Codec(CodecOptions(Method::identity)).encode(x)), x));
  CHECK(at::equal(decode(Codec(CodecOptions(Method::fp16)).encode(x)), x.to(at::kHalf).to(at::kFloat)));
  CHECK(at::equal(decode(Codec(CodecOptions(Method::bf16)).encode(x)), x.to(at::kBFloat16).to(at::kFloat)));
  for (auto dtype : {at::kDouble, at::kHalf, at::kBFloat16}) {
    const at::Tensor y = x.to(dtype);
    const at::Tensor y_hat = decode(Codec(CodecOptions(Method::ms).keep(0.2).bits(4).sign(Sign::automatic)).encode(y));
    CHECK((y_hat.scalar_type() == dtype));
    CHECK(y_hat.sizes() == y.sizes());
  }
  CHECK_THROWS_WITH_AS(Codec(CodecOptions(Method::identity)).encode(at::ones({3}, at::kInt)),
                       doctest::Contains("floating-point"), mesl::CodecError);
}

TEST_CASE("results do not depend on the number of threads") {
  const at::Tensor x = make_input({8, 64, 32, 32}, "relu", 81);  // 524288 elements: several chunks
  for (CodecOptions o : {CodecOptions(Method::ms).keep(0.01).bits(2), CodecOptions(Method::ms).keep(0.3).bits(5),
                         CodecOptions(Method::sp).keep(0.04125), CodecOptions(Method::rt).keep(0.04125).seed(3),
                         CodecOptions(Method::qu).bits(3),
                         CodecOptions(Method::ms).keep(0.01).bits(2).scope(Scope::sample)}) {
    CAPTURE(to_spec(o));
    const auto one = Codec(CodecOptions(o).threads(1)).encode(x);
    for (int threads : {2, 3, 5}) {
      const auto many = Codec(CodecOptions(o).threads(threads)).encode(x);
      CHECK(one == many);
      CHECK(at::equal(decode(one, DecodeOptions().threads(1)), decode(many, DecodeOptions().threads(threads))));
    }
  }
}

TEST_CASE("fast and reference agree on inputs full of ties, at every mask width and thread count") {
  // Values on a coarse grid: many elements equal the threshold, so the vector kernels (ms, sp, rt) must hand tied
  // groups to the element-by-element path (ties are kept lowest index first) and still produce the same bytes.
  // The reference does not depend on the kernels' instruction set: it is computed once per setting.
  uint64_t seed = 500;
  for (const std::vector<int64_t>& shape : {std::vector<int64_t>{4099}, {3, 1000}, {4, 64, 17, 17}}) {
    for (const char* dist : {"relu", "normal"}) {
      const bool signed_input = std::string(dist) == "normal";
      const at::Tensor x = (make_input(shape, dist, seed++) * 4.0).round() / 4.0;
      CAPTURE(at::IntArrayRef(shape));
      for (double keep : {0.01, 0.1, 0.3}) {
        std::vector<CodecOptions> sparse;
        for (Method m : {Method::sp, Method::rt})
          for (Positions p : {Positions::bitmap, Positions::kv})
            for (Scope s : {Scope::batch, Scope::sample})
              sparse.push_back(CodecOptions(m).keep(keep).positions(p).scope(s).seed(5));
        for (const auto& o : sparse) {
          for (bool training : {false, true}) {  // rt: plain top-k in evaluation, a seeded draw in training
            CAPTURE(to_spec(o));
            CAPTURE(training);
            Codec reference(CodecOptions(o).impl(Impl::reference));
            reference.train(training);
            const auto expected = reference.encode(x);
            for_each_kernel_isa([&] {
              for (int threads : {1, 2, 3}) {
                Codec fast(CodecOptions(o).threads(threads));
                fast.train(training);
                REQUIRE(fast.encode(x) == expected);
              }
            });
          }
        }
        for (int b = signed_input ? 2 : 1; b <= 8; ++b) {
          for (Rounding r : {Rounding::round, Rounding::floor}) {
            for (Scope s : {Scope::batch, Scope::sample}) {
              const auto o = CodecOptions(Method::ms).keep(keep).bits(b).rounding(r).scope(s).sign(
                  signed_input ? Sign::signed_values : Sign::nonneg);
              CAPTURE(to_spec(o));
              const auto expected = Codec(CodecOptions(o).impl(Impl::reference)).encode(x);
              const at::Tensor expected_x = decode(expected, DecodeOptions().impl(Impl::reference));
              for_each_kernel_isa([&] {
                for (int threads : {1, 2, 3}) {
                  const auto got = Codec(CodecOptions(o).threads(threads)).encode(x);
                  REQUIRE(got == expected);
                  REQUIRE(at::equal(decode(got, DecodeOptions().threads(threads)), expected_x));
                }
              });
            }
          }
        }
      }
    }
  }
}

TEST_CASE("fast and reference agree when k is at either end of a unit that takes the sampled bracket") {
  // Units above 256 elements are selected through a sampled bracket around the k-th key; with k near d the
  // bracket's lower end lies past the sample (this read past the sample once; found by the GPU tests).
  for_each_kernel_isa([] {
    const int64_t d = 100003;
    uint64_t seed = 800;
    for (const char* dist : {"relu", "normal"}) {
      const at::Tensor x = make_input({d}, dist, seed++);
      const at::Tensor rows = make_input({2, d}, dist, seed++);
      for (int64_t k : {int64_t{1}, int64_t{2}, d / 2, d - 2, d - 1}) {
        for (const auto& o : {CodecOptions(Method::ms).k(k).bits(2).sign(Sign::automatic),
                              CodecOptions(Method::sp).k(k), CodecOptions(Method::ms).k(k).bits(3).sign(
                                  Sign::automatic).scope(Scope::sample)}) {
          CAPTURE(to_spec(o));
          CAPTURE(dist);
          const at::Tensor& input = o.scope() == Scope::sample ? rows : x;
          const auto expected = Codec(CodecOptions(o).impl(Impl::reference)).encode(input);
          for (int threads : {1, 2}) REQUIRE(Codec(CodecOptions(o).threads(threads)).encode(input) == expected);
        }
      }
    }
  });
}

TEST_CASE("every instruction set of the kernels gives the same payloads on cut-layer-sized inputs") {
  // Large units take the sampled bracket, the vector loops and, with several threads, several chunks; qu and the
  // decoders ride along. The reference is the first instruction set listed (the default: the best the CPU has).
  const std::vector<std::string> isas = kernel_isas();
  REQUIRE(!isas.empty());
  const std::string before = kernel_isa();
  if (std::getenv("MESL_CODEC_ISA") == nullptr) CHECK(before == isas.front());  // the default is the best
  uint64_t seed = 900;
  for (const std::vector<int64_t>& shape : {std::vector<int64_t>{8, 64, 32, 32}, {3, 100003}}) {
    for (const char* dist : {"relu", "normal"}) {
      const bool signed_input = std::string(dist) == "normal";
      const at::Tensor x = make_input(shape, dist, seed++);
      for (const auto& o : {CodecOptions(Method::ms).keep(0.01).bits(2), CodecOptions(Method::ms).keep(0.05).bits(3),
                            CodecOptions(Method::ms).keep(0.01).bits(4).rounding(Rounding::floor),
                            CodecOptions(Method::ms).keep(0.01).bits(8),
                            CodecOptions(Method::ms).keep(0.1).bits(5).scope(Scope::sample),
                            CodecOptions(Method::sp).keep(0.04125), CodecOptions(Method::rt).keep(0.04125).seed(3),
                            CodecOptions(Method::qu).bits(2)}) {
        const auto opts = o.method() == Method::ms
                              ? CodecOptions(o).sign(signed_input ? Sign::signed_values : Sign::nonneg)
                              : o;
        CAPTURE(to_spec(opts));
        CAPTURE(dist);
        set_kernel_isa(isas.front());
        const auto expected = Codec(CodecOptions(opts).threads(2)).encode(x);
        const at::Tensor expected_x = decode(expected, DecodeOptions().threads(2));
        for (const std::string& isa : isas) {
          CAPTURE(isa);
          set_kernel_isa(isa);
          for (int threads : {1, 2}) {
            const auto got = Codec(CodecOptions(opts).threads(threads)).encode(x);
            REQUIRE(got == expected);
            REQUIRE(at::equal(decode(got, DecodeOptions().threads(threads)), expected_x));
          }
        }
      }
    }
  }
  set_kernel_isa(before);
}

TEST_CASE("sample scope: a negative or non-finite value in a late row, after rows already encoded") {
  // The fast encoder selects and encodes each row in one pass while assuming the payload's sign; a negative
  // value in a later row makes automatic ms encode every row again, signed, and a non-finite one is refused.
  // 4096-element rows are written in parallel (their codes start on byte boundaries), 4099-element ones by one
  // writer after the selection.
  for_each_kernel_isa([] {
    for (int64_t n : {int64_t{4096}, int64_t{4099}}) {
      CAPTURE(n);
      const at::Tensor relu = make_input({8, n}, "relu", 90 + n);
      at::Tensor late_negative = relu.clone();
      late_negative[6][n / 2] = -0.5f;
      at::Tensor late_minus_zero = relu.clone();
      late_minus_zero[6][n / 2] = -0.0f;  // not negative: the payload stays unsigned
      at::Tensor late_nan = relu.clone();
      late_nan[7][n - 1] = std::numeric_limits<float>::quiet_NaN();
      for (int bits : {2, 3}) {
        CAPTURE(bits);
        const auto automatic =
            CodecOptions(Method::ms).keep(0.02).bits(bits).sign(Sign::automatic).scope(Scope::sample);
        const auto signed_values = CodecOptions(automatic).sign(Sign::signed_values);
        for (const auto& [o, x, is_signed] : {std::tuple{automatic, late_negative, true},
                                              std::tuple{automatic, late_minus_zero, false},
                                              std::tuple{signed_values, relu, true}}) {
          const auto expected = Codec(CodecOptions(o).impl(Impl::reference)).encode(x);
          CHECK(read_header(expected.data(), expected.size()).is_signed == is_signed);
          for (int threads : {1, 2, 3}) {
            CAPTURE(threads);
            CHECK(Codec(CodecOptions(o).threads(threads)).encode(x) == expected);
          }
        }
        const auto nonneg = CodecOptions(automatic).sign(Sign::nonneg);
        for (int threads : {1, 2}) {
          CHECK_THROWS_WITH_AS(Codec(CodecOptions(nonneg).threads(threads)).encode(late_negative),
                               doctest::Contains("--sign signed"), mesl::CodecError);
          CHECK_THROWS_WITH_AS(Codec(CodecOptions(automatic).threads(threads)).encode(late_nan),
                               doctest::Contains("NaN or Inf"), mesl::CodecError);
        }
      }
      for (Method m : {Method::sp, Method::rt}) {
        for (int threads : {1, 2}) {
          CHECK_THROWS_WITH_AS(
              Codec(CodecOptions(m).keep(0.02).scope(Scope::sample).threads(threads)).encode(late_nan),
              doctest::Contains("NaN or Inf"), mesl::CodecError);
        }
      }
    }
  });
}

TEST_CASE("an instruction set the CPU or the build lacks is refused with a message that lists the choices") {
  const std::string before = kernel_isa();
  try {
    set_kernel_isa("avx9000");
    FAIL("set_kernel_isa accepted an unknown instruction set");
  } catch (const mesl::ConfigError& e) {
    const std::string what = e.what();
    CHECK(what.find("avx9000") != std::string::npos);
    CHECK(what.find(kernel_isas().front()) != std::string::npos);
  }
  CHECK(kernel_isa() == before);
}

TEST_CASE("streamed qu decoding gives the reference's tensors, and a negative streaming size is refused") {
  // decode_streaming_bytes 0 sends every qu output through write_groups' non-temporal stores (whole tensors and
  // their chunks are 16-byte aligned); the tails after the last whole group take plain stores.
  const int64_t before = decode_streaming_bytes();
  set_decode_streaming_bytes(0);
  CHECK(decode_streaming_bytes() == 0);
  std::vector<std::vector<int64_t>> shapes = test_shapes();
  shapes.push_back({8, 64, 32, 32});
  shapes.push_back({3, 100003});
  uint64_t seed = 950;
  for (const auto& shape : shapes) {
    for (const char* dist : {"relu", "normal"}) {
      const at::Tensor x = make_input(shape, dist, seed++);
      for (int q : {1, 2, 3, 5, 8, 11}) {
        CAPTURE(q);
        CAPTURE(x.sizes());
        const auto payload = Codec(CodecOptions(Method::qu).bits(q)).encode(x);
        const at::Tensor expected = decode(payload, DecodeOptions().impl(Impl::reference));
        for (int threads : {1, 2, 3}) REQUIRE(at::equal(decode(payload, DecodeOptions().threads(threads)), expected));
      }
    }
  }
  CHECK_THROWS_WITH_AS(set_decode_streaming_bytes(-1), doctest::Contains(">= 0"), mesl::ConfigError);
  CHECK(decode_streaming_bytes() == 0);
  set_decode_streaming_bytes(before);
}
