// Writes the fuzzer's seed corpus: valid payloads of every method and variant (dtypes, bit widths, sign modes,
// rounding, positions, scopes, k = 0 and k = all, rank 0 to 8, zero-sized and odd shapes, and a few tensors large
// enough for the fast decoder's parallel chunks), one file each, named after what they hold.
//   fuzz_make_seeds OUT_DIR
// Seeds are generated at test time rather than committed: they follow the wire format as the codec writes it.
#include <ATen/ATen.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "mesl/codec/codec.h"

namespace fs = std::filesystem;
using namespace mesl::codec;

namespace {

class SeedWriter {
 public:
  explicit SeedWriter(fs::path dir) : dir_(std::move(dir)) { fs::create_directories(dir_); }

  void add(const std::string& name, const CodecOptions& options, const at::Tensor& x, bool training = false) {
    Codec codec(options);
    codec.train(training);
    const auto payload = codec.encode(x);
    std::ofstream out(dir_ / (name + ".bin"), std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(payload.data()), static_cast<std::streamsize>(payload.size()));
    if (!out) throw std::runtime_error("cannot write seed " + name);
    ++count_;
    bytes_ += payload.size();
  }

  size_t count() const { return count_; }
  size_t bytes() const { return bytes_; }

 private:
  fs::path dir_;
  size_t count_ = 0, bytes_ = 0;
};

at::Tensor input(const std::vector<int64_t>& shape, bool nonneg, uint64_t seed) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  at::Tensor x = at::empty(shape, at::kFloat).normal_(0.0, 1.0, gen);
  return nonneg ? x.clamp_min(0.0) : x;
}

std::string shape_name(const std::vector<int64_t>& shape) {
  if (shape.empty()) return "scalar";
  std::string s;
  for (auto d : shape) s += (s.empty() ? "" : "x") + std::to_string(d);
  return s;
}

// Small shapes of every rank class: empty, odd, rank 0, zero-sized dimensions, rank 8.
const std::vector<std::vector<int64_t>> kShapes = {{0}, {1}, {7}, {3, 5}, {2, 3, 4}, {4, 9}, {5, 0, 3}, {},
                                                   {2, 1, 1, 1, 1, 1, 1, 3}};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_make_seeds OUT_DIR\n");
    return 2;
  }
  at::set_num_threads(1);
  SeedWriter seeds(argv[1]);
  uint64_t seed = 1;

  // Casts: every method over every input dtype.
  const std::vector<std::pair<std::string, at::ScalarType>> dtypes = {
      {"f32", at::kFloat}, {"f64", at::kDouble}, {"f16", at::kHalf}, {"bf16", at::kBFloat16}};
  for (Method m : {Method::identity, Method::fp16, Method::bf16})
    for (const auto& [dname, dtype] : dtypes)
      for (const auto& shape : {std::vector<int64_t>{0}, std::vector<int64_t>{}, std::vector<int64_t>{3, 5}})
        seeds.add(to_string(m) + "-" + dname + "-" + shape_name(shape), CodecOptions(m),
                  input(shape, false, seed++).to(dtype));

  // qu: every code width class, a constant tensor (zero range), other dtypes.
  for (int bits : {1, 2, 3, 4, 5, 7, 8, 9, 12, 15, 16})
    seeds.add("qu-b" + std::to_string(bits) + "-37", CodecOptions(Method::qu).bits(bits), input({37}, false, seed++));
  seeds.add("qu-b8-constant", CodecOptions(Method::qu), at::full({4, 9}, 0.5f));
  seeds.add("qu-b8-empty", CodecOptions(Method::qu), input({5, 0, 3}, false, seed++));
  seeds.add("qu-b4-f16", CodecOptions(Method::qu).bits(4), input({3, 5}, false, seed++).to(at::kHalf));

  // sp and rt: positions x scope x kept count, rt in training (random draw) and evaluation (top-k).
  for (Method m : {Method::sp, Method::rt})
    for (Positions p : {Positions::bitmap, Positions::kv})
      for (Scope s : {Scope::batch, Scope::sample})
        for (const auto& shape : kShapes) {
          if (s == Scope::sample && shape.empty()) continue;  // sample scope needs a batch dimension
          const std::string base = to_string(m) + "-" + to_string(p) + "-" + to_string(s) + "-" + shape_name(shape);
          const auto opts = CodecOptions(m).positions(p).scope(s);
          seeds.add(base + "-keep0.3", CodecOptions(opts).keep(0.3), input(shape, false, seed++), true);
          seeds.add(base + "-k0", CodecOptions(opts).k(0), input(shape, false, seed++), true);
          seeds.add(base + "-keep1", CodecOptions(opts).keep(1.0), input(shape, false, seed++), true);
          if (m == Method::rt)
            seeds.add(base + "-keep0.3-eval", CodecOptions(opts).keep(0.3), input(shape, false, seed++), false);
        }

  // ms: every mask width, sign mode, rounding and scope.
  for (int bits = 1; bits <= 8; ++bits)
    for (Sign sign : {Sign::nonneg, Sign::signed_values, Sign::automatic}) {
      if (sign == Sign::signed_values && bits < 2) continue;  // a sign bit needs a magnitude bit beside it
      for (Scope s : {Scope::batch, Scope::sample})
        for (Rounding r : {Rounding::round, Rounding::floor}) {
          const auto opts = CodecOptions(Method::ms).bits(bits).sign(sign).scope(s).rounding(r).keep(0.25);
          const bool nonneg = sign == Sign::nonneg || (sign == Sign::automatic && bits == 1);
          seeds.add("ms-b" + std::to_string(bits) + "-" + to_string(sign) + "-" + to_string(s) + "-" +
                        to_string(r) + "-4x9",
                    opts, input({4, 9}, nonneg, seed++));
        }
    }
  for (const auto& shape : kShapes) {
    const std::string base = "ms-b2-" + shape_name(shape);
    seeds.add(base + "-k0", CodecOptions(Method::ms).k(0), input(shape, true, seed++));
    seeds.add(base + "-keep1", CodecOptions(Method::ms).keep(1.0), input(shape, true, seed++));
    if (!shape.empty())
      seeds.add(base + "-sample-keep0.5", CodecOptions(Method::ms).keep(0.5).scope(Scope::sample),
                input(shape, true, seed++));
  }
  seeds.add("ms-b3-zeros", CodecOptions(Method::ms).bits(3).keep(0.5), at::zeros({4, 9}));

  // Large enough for two parallel chunks of the fast decoder (chunks are at least 64K elements).
  const int64_t big = 2 * 65536 + 13;
  seeds.add("ms-b1-chunks", CodecOptions(Method::ms).bits(1).keep(0.001), input({big}, true, seed++));
  seeds.add("sp-bitmap-chunks", CodecOptions(Method::sp).keep(0.001), input({big}, false, seed++));
  seeds.add("qu-b1-chunks", CodecOptions(Method::qu).bits(1), input({big}, false, seed++));

  std::printf("fuzz_make_seeds: %zu seeds, %zu bytes in %s\n", seeds.count(), seeds.bytes(), argv[1]);
  return 0;
}
