#pragma once
// The data part's own random numbers. Shards, batch orders, augmentation and synthetic pixels must be the same on
// every platform and standard library, so nothing here uses std::*_distribution (whose output is unspecified):
// splitmix64 hashes seeds, xoshiro256** generates (both mesl/util/random.h), and integers and uniforms come from
// exact integer and IEEE operations. Only the normal and gamma samplers (Dirichlet proportions) and the
// random-resized-crop geometry use log/exp, whose last-bit differences between math libraries could at most move a
// rare rounding boundary.
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <utility>
#include <vector>

#include "mesl/util/random.h"

namespace mesl::data::detail {

// Domain tags keep the streams of different consumers apart even when they share a seed.
enum class Domain : uint64_t {
  partition = 0x7061727469746e31ULL,
  loader_order = 0x6c6f616465726f31ULL,
  loader_augment = 0x6c6f616465726131ULL,
  synthetic_template = 0x73796e7474706c31ULL,
  synthetic_label = 0x73796e746c626c31ULL,
  synthetic_noise = 0x73796e746e6f7331ULL,
};

using util::splitmix64;

// Hashes a sequence of words into one seed; every word changes the result.
inline uint64_t hash_words(std::initializer_list<uint64_t> words) {
  uint64_t state = 0x6d65736c64617461ULL;  // "mesldata"
  uint64_t h = 0;
  for (uint64_t w : words) {
    state ^= w;
    h = splitmix64(state);
    state = h;
  }
  return h;
}

inline uint64_t hash_words(Domain domain, std::initializer_list<uint64_t> words) {
  uint64_t h = hash_words({static_cast<uint64_t>(domain)});
  for (uint64_t w : words) h = hash_words({h, w});
  return h;
}

// The shared generator (mesl/util/random.h) with the data part's samplers.
class Rng {
 public:
  explicit Rng(uint64_t seed) : gen_(seed) {}

  uint64_t next() { return gen_.next(); }

  // Uniform in [0, 1) with 53 random bits.
  double uniform() { return gen_.uniform(); }
  // Uniform in (0, 1): safe to take the logarithm of.
  double uniform_open() { return (static_cast<double>(next() >> 11) + 0.5) * 0x1.0p-53; }

  // Uniform integer in [0, n) without modulo bias (rejects the short top range). n must be > 0.
  uint64_t below(uint64_t n) {
    const uint64_t threshold = (0 - n) % n;  // 2^64 mod n
    for (;;) {
      const uint64_t r = next();
      if (r >= threshold) return r % n;
    }
  }

  // Uniform integer in [lo, hi], inclusive.
  int64_t between(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(below(static_cast<uint64_t>(hi - lo) + 1));
  }

  // Standard normal by Marsaglia's polar method.
  double normal() {
    for (;;) {
      const double u = 2.0 * uniform() - 1.0;
      const double v = 2.0 * uniform() - 1.0;
      const double s = u * u + v * v;
      if (s > 0.0 && s < 1.0) return u * std::sqrt(-2.0 * std::log(s) / s);
    }
  }

  // log of a Gamma(alpha, 1) variate (Marsaglia and Tsang). Returned as a logarithm because for small alpha the
  // variate itself underflows to 0 (u^(1/alpha) with alpha = 0.01), which would make Dirichlet draws all-zero.
  double log_gamma_variate(double alpha) {
    if (alpha < 1.0) {
      // Gamma(a) = Gamma(a + 1) * U^(1/a).
      const double boost = std::log(uniform_open()) / alpha;
      return log_gamma_variate(alpha + 1.0) + boost;
    }
    const double d = alpha - 1.0 / 3.0;
    const double c = 1.0 / std::sqrt(9.0 * d);
    for (;;) {
      double x, v;
      do {
        x = normal();
        v = 1.0 + c * x;
      } while (v <= 0.0);
      v = v * v * v;
      const double u = uniform_open();
      if (u < 1.0 - 0.0331 * (x * x) * (x * x)) return std::log(d * v);
      if (std::log(u) < 0.5 * x * x + d * (1.0 - v + std::log(v))) return std::log(d * v);
    }
  }

 private:
  util::Xoshiro256 gen_;
};

// Fisher-Yates shuffle driven by Rng (std::shuffle's use of the generator is implementation-defined).
template <typename T>
void shuffle(std::vector<T>& values, Rng& rng) {
  for (size_t i = values.size(); i > 1; --i) {
    const size_t j = static_cast<size_t>(rng.below(i));
    std::swap(values[i - 1], values[j]);
  }
}

}  // namespace mesl::data::detail
