// Splitting a training set over clients: see partition.h. All randomness comes from random.h, so the shards are
// the same on every platform and standard library.
#include "mesl/data/partition.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "mesl/error.h"
#include "random.h"

namespace mesl::data {
namespace {

using Shards = std::vector<std::vector<int64_t>>;

// Cuts `order` into `parts` contiguous pieces whose sizes differ by at most one (the larger ones first).
Shards cut_evenly(const std::vector<int64_t>& order, int64_t parts) {
  const auto n = static_cast<int64_t>(order.size());
  Shards pieces(static_cast<size_t>(parts));
  int64_t begin = 0;
  for (int64_t p = 0; p < parts; ++p) {
    const int64_t length = n / parts + (p < n % parts ? 1 : 0);
    pieces[static_cast<size_t>(p)].assign(order.begin() + begin, order.begin() + begin + length);
    begin += length;
  }
  return pieces;
}

Shards partition_iid(int64_t n, int64_t clients, detail::Rng& rng) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  detail::shuffle(order, rng);
  return cut_evenly(order, clients);
}

// Per class, client proportions from Dirichlet(alpha) (normalised gamma variates, handled as logarithms so that
// tiny alphas do not underflow to all zeros); each class's shuffled samples are cut at the cumulative proportions.
Shards partition_dirichlet(const std::vector<int64_t>& labels, int64_t num_classes, int64_t clients, double alpha,
                           detail::Rng& rng) {
  std::vector<std::vector<int64_t>> by_class(static_cast<size_t>(num_classes));
  for (size_t i = 0; i < labels.size(); ++i)
    by_class[static_cast<size_t>(labels[i])].push_back(static_cast<int64_t>(i));

  Shards shards(static_cast<size_t>(clients));
  std::vector<double> weights(static_cast<size_t>(clients));
  for (auto& members : by_class) {
    detail::shuffle(members, rng);
    double top = -INFINITY;
    for (auto& w : weights) top = std::max(top, w = rng.log_gamma_variate(alpha));
    double total = 0.0;
    for (auto& w : weights) total += (w = std::exp(w - top));
    const auto count = static_cast<double>(members.size());
    double cumulative = 0.0;
    size_t begin = 0;
    for (size_t c = 0; c < weights.size(); ++c) {
      cumulative += weights[c] / total;
      // The last client takes the rest, so rounding never loses or invents a sample.
      const auto boundary = static_cast<size_t>(std::llround(cumulative * count));
      const size_t end = c + 1 == weights.size() ? members.size() : std::min(members.size(), std::max(begin, boundary));
      shards[c].insert(shards[c].end(), members.begin() + static_cast<std::ptrdiff_t>(begin),
                       members.begin() + static_cast<std::ptrdiff_t>(end));
      begin = end;
    }
  }

  return shards;
}

// Sort by label (index order within a label), cut into clients * per_client shards, deal them out at random.
Shards partition_shards(const std::vector<int64_t>& labels, int64_t clients, int64_t per_client, detail::Rng& rng) {
  std::vector<int64_t> order(labels.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return labels[static_cast<size_t>(a)] < labels[static_cast<size_t>(b)];
  });
  const Shards pieces = cut_evenly(order, clients * per_client);
  std::vector<int64_t> deal(pieces.size());
  std::iota(deal.begin(), deal.end(), 0);
  detail::shuffle(deal, rng);
  Shards shards(static_cast<size_t>(clients));
  for (size_t k = 0; k < deal.size(); ++k) {
    const auto& piece = pieces[static_cast<size_t>(deal[k])];
    auto& shard = shards[k / static_cast<size_t>(per_client)];
    shard.insert(shard.end(), piece.begin(), piece.end());
  }
  return shards;
}

}  // namespace

PartitionScheme parse_partition_scheme(const std::string& name) {
  if (name == "iid") return PartitionScheme::iid;
  if (name == "dirichlet") return PartitionScheme::dirichlet;
  if (name == "shards") return PartitionScheme::shards;
  throw ConfigError("unknown partition scheme '" + name + "'; use one of: iid, dirichlet, shards");
}

std::string to_string(PartitionScheme scheme) {
  switch (scheme) {
    case PartitionScheme::iid: return "iid";
    case PartitionScheme::dirichlet: return "dirichlet";
    case PartitionScheme::shards: return "shards";
  }
  return "unknown";
}

std::vector<std::vector<int64_t>> partition(const std::vector<int64_t>& labels, int64_t num_classes,
                                            const PartitionOptions& options) {
  const auto n = static_cast<int64_t>(labels.size());
  const int64_t clients = options.num_clients;
  MESL_CHECK(clients >= 1, ConfigError, "the number of clients must be at least 1; got ", clients);
  MESL_CHECK(n >= 1, ConfigError, "there are no samples to partition over ", clients,
             " clients; give a dataset (or --train-limit) with data");
  MESL_CHECK(num_classes >= 1, ConfigError, "the number of classes must be at least 1; got ", num_classes);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t label = labels[static_cast<size_t>(i)];
    MESL_CHECK(label >= 0 && label < num_classes, DataError, "label ", label, " of sample ", i,
               " is out of range [0, ", num_classes, "); the dataset's labels do not match its class count");
  }

  detail::Rng rng(detail::hash_words(detail::Domain::partition,
                                     {options.seed, static_cast<uint64_t>(options.scheme)}));
  Shards shards;
  switch (options.scheme) {
    case PartitionScheme::iid:
      shards = partition_iid(n, clients, rng);
      break;
    case PartitionScheme::dirichlet:
      MESL_CHECK(std::isfinite(options.alpha) && options.alpha > 0, ConfigError,
                 "--alpha must be a positive number for the dirichlet partition; got ", options.alpha);
      shards = partition_dirichlet(labels, num_classes, clients, options.alpha, rng);
      break;
    case PartitionScheme::shards:
      MESL_CHECK(options.shards_per_client >= 1, ConfigError, "shards per client must be at least 1; got ",
                 options.shards_per_client);
      shards = partition_shards(labels, clients, options.shards_per_client, rng);
      break;
  }
  for (auto& shard : shards) std::sort(shard.begin(), shard.end());
  return shards;
}

}  // namespace mesl::data
