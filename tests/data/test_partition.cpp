// Partitioning over clients: every sample in exactly one shard, the shape each scheme promises, seeded.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <set>

#include "fixtures.h"
#include "mesl/data/partition.h"
#include "mesl/error.h"

using namespace mesl::data;
using namespace mesl::data::test;

namespace {

// Balanced labels 0..classes-1 in a scrambled order.
std::vector<int64_t> balanced_labels(int64_t n, int64_t classes) {
  std::vector<int64_t> labels(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) labels[static_cast<size_t>(i)] = (i * 7919) % n % classes;
  return labels;
}

PartitionOptions options_of(PartitionScheme scheme, int64_t clients, uint64_t seed = 0) {
  PartitionOptions options;
  options.scheme = scheme;
  options.num_clients = clients;
  options.seed = seed;
  return options;
}

// Every index 0..n-1 appears exactly once, and every shard is sorted (and non-empty, unless allowed).
void check_cover(const std::vector<std::vector<int64_t>>& shards, int64_t n, int64_t clients,
                 bool empty_allowed = false) {
  REQUIRE(static_cast<int64_t>(shards.size()) == clients);
  std::vector<int64_t> seen(static_cast<size_t>(n), 0);
  int64_t total = 0;
  for (const auto& shard : shards) {
    if (!empty_allowed) CHECK_FALSE(shard.empty());
    CHECK(std::is_sorted(shard.begin(), shard.end()));
    for (const int64_t index : shard) {
      REQUIRE((index >= 0 && index < n));
      ++seen[static_cast<size_t>(index)];
    }
    total += static_cast<int64_t>(shard.size());
  }
  CHECK(total == n);
  CHECK(std::all_of(seen.begin(), seen.end(), [](int64_t count) { return count == 1; }));
}

// The mean over clients of the largest fraction of one class in the client's shard.
double mean_max_class_fraction(const std::vector<std::vector<int64_t>>& shards, const std::vector<int64_t>& labels,
                               int64_t classes) {
  double sum = 0.0;
  int64_t counted = 0;
  for (const auto& shard : shards) {
    if (shard.empty()) continue;
    ++counted;
    std::vector<int64_t> histogram(static_cast<size_t>(classes), 0);
    for (const int64_t index : shard) ++histogram[static_cast<size_t>(labels[static_cast<size_t>(index)])];
    sum += static_cast<double>(*std::max_element(histogram.begin(), histogram.end())) /
           static_cast<double>(shard.size());
  }
  return sum / static_cast<double>(counted);
}

}  // namespace

TEST_CASE("partition scheme names and options that cannot work") {
  for (const auto scheme : {PartitionScheme::iid, PartitionScheme::dirichlet, PartitionScheme::shards})
    CHECK(parse_partition_scheme(to_string(scheme)) == scheme);
  CHECK(to_string(PartitionScheme::dirichlet) == "dirichlet");
  CHECK(message_of<mesl::ConfigError>([] { parse_partition_scheme("noniid"); }) ==
        "unknown partition scheme 'noniid'; use one of: iid, dirichlet, shards");
  {  // partition options that cannot work
    const auto labels = balanced_labels(20, 4);
    const auto config_error = [&](PartitionOptions options, int64_t classes = 4) {
      return message_of<mesl::ConfigError>([&] { partition(labels, classes, options); });
    };
    CHECK(config_error(options_of(PartitionScheme::iid, 0)) == "the number of clients must be at least 1; got 0");
    CHECK(message_of<mesl::ConfigError>([] { partition({}, 4, options_of(PartitionScheme::iid, 3)); })
              .find("there are no samples to partition over 3 clients") == 0);
    CHECK_THROWS_AS(partition(labels, 0, options_of(PartitionScheme::iid, 1)), mesl::ConfigError);
    auto options = options_of(PartitionScheme::dirichlet, 2);
    for (const double alpha : {0.0, -1.0, std::nan("")}) {
      options.alpha = alpha;
      CHECK(config_error(options).find("--alpha must be a positive number") == 0);
    }
    options = options_of(PartitionScheme::shards, 2);
    options.shards_per_client = 0;
    CHECK(config_error(options).find("shards per client must be at least 1") == 0);
    CHECK(message_of<mesl::DataError>([&] { partition(labels, 3, options_of(PartitionScheme::iid, 2)); })
              .find("label 3 of sample") == 0);
  }
}

TEST_CASE("more clients than data: empty shards, and the others still cover everything") {
  const auto labels = balanced_labels(20, 4);
  for (const auto scheme : {PartitionScheme::iid, PartitionScheme::dirichlet, PartitionScheme::shards}) {
    CAPTURE(to_string(scheme));
    for (const int64_t clients : {21, 40, 1000}) {
      auto options = options_of(scheme, clients, 5);
      options.alpha = 0.1;
      const auto shards = partition(labels, 4, options);
      check_cover(shards, 20, clients, /*empty_allowed=*/true);
      const auto empty = std::count_if(shards.begin(), shards.end(), [](const auto& s) { return s.empty(); });
      CHECK(empty >= clients - 20);
      if (scheme == PartitionScheme::iid) CHECK(empty == clients - 20);  // near-equal: one sample each
    }
  }
  // A small alpha leaves some of few clients without data, which no longer get a sample taken from others.
  auto options = options_of(PartitionScheme::dirichlet, 50, 1);
  options.alpha = 0.01;
  const auto shards = partition(balanced_labels(1000, 10), 10, options);
  check_cover(shards, 1000, 50, true);
  CHECK(std::count_if(shards.begin(), shards.end(), [](const auto& s) { return s.empty(); }) > 0);
}

TEST_CASE("iid: near-equal disjoint shards covering everything") {
  for (const int64_t n : {1, 7, 100, 1001}) {
    for (const int64_t clients : {1, 3, 7, 10}) {
      if (clients > n) continue;
      CAPTURE(n);
      CAPTURE(clients);
      const auto labels = balanced_labels(n, 10);
      const auto shards = partition(labels, 10, options_of(PartitionScheme::iid, clients, 3));
      check_cover(shards, n, clients);
      size_t smallest = SIZE_MAX, largest = 0;
      for (const auto& shard : shards) {
        smallest = std::min(smallest, shard.size());
        largest = std::max(largest, shard.size());
      }
      CHECK(largest - smallest <= 1);
      CHECK(partition(labels, 10, options_of(PartitionScheme::iid, clients, 3)) == shards);
    }
  }
  // Shuffled: not simply consecutive ranges, and another seed gives other shards.
  const auto labels = balanced_labels(1000, 10);
  const auto shards = partition(labels, 10, options_of(PartitionScheme::iid, 4, 1));
  CHECK(shards[0].back() - shards[0].front() > 500);
  CHECK(partition(labels, 10, options_of(PartitionScheme::iid, 4, 2)) != shards);
}

TEST_CASE("dirichlet: small alpha skews the classes, large alpha is near uniform") {
  const int64_t n = 5000, classes = 10, clients = 10;
  const auto labels = balanced_labels(n, classes);
  auto options = options_of(PartitionScheme::dirichlet, clients, 7);

  options.alpha = 0.1;
  const auto skewed = partition(labels, classes, options);
  check_cover(skewed, n, clients);
  CHECK(mean_max_class_fraction(skewed, labels, classes) > 0.5);
  CHECK(partition(labels, classes, options) == skewed);
  options.seed = 8;
  CHECK(partition(labels, classes, options) != skewed);

  options.alpha = 1000.0;
  const auto uniform = partition(labels, classes, options);
  check_cover(uniform, n, clients);
  CHECK(mean_max_class_fraction(uniform, labels, classes) < 0.15);
  for (const auto& shard : uniform) CHECK(std::abs(static_cast<int64_t>(shard.size()) - n / clients) < 50);

  // Tiny alphas and as many clients as samples still cover every sample once (some clients may get none).
  options.alpha = 0.001;
  check_cover(partition(labels, classes, options), n, clients, /*empty_allowed=*/true);
  options.num_clients = 40;
  const auto few = balanced_labels(40, 4);
  check_cover(partition(few, 4, options), 40, 40, /*empty_allowed=*/true);
}

TEST_CASE("shards: label-sorted shards give each client few classes") {
  const int64_t n = 1000, classes = 10, clients = 10;
  const auto labels = balanced_labels(n, classes);
  for (const int64_t per_client : {1, 2, 3}) {
    CAPTURE(per_client);
    auto options = options_of(PartitionScheme::shards, clients, 11);
    options.shards_per_client = per_client;
    const auto shards = partition(labels, classes, options);
    check_cover(shards, n, clients);
    for (const auto& shard : shards) {
      std::set<int64_t> seen;
      for (const int64_t index : shard) seen.insert(labels[static_cast<size_t>(index)]);
      // A shard spans at most two classes when it is no longer than a class.
      CHECK(static_cast<int64_t>(seen.size()) <= 2 * per_client);
      CHECK(std::abs(static_cast<int64_t>(shard.size()) - n / clients) <= per_client);
    }
    CHECK(partition(labels, classes, options) == shards);
    options.seed = 12;
    CHECK(partition(labels, classes, options) != shards);
  }
  // Odd sizes: shards differ by at most one sample.
  const auto odd = balanced_labels(37, 3);
  auto options = options_of(PartitionScheme::shards, 5, 0);
  options.shards_per_client = 3;
  check_cover(partition(odd, 3, options), 37, 5);
}

