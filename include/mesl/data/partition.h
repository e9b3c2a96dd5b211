#pragma once
// Splitting a training set over clients. Deterministic: the same labels, options and seed give the same shards.
#include <cstdint>
#include <string>
#include <vector>

namespace mesl::data {

enum class PartitionScheme { iid, dirichlet, shards };

struct PartitionOptions {
  PartitionScheme scheme = PartitionScheme::iid;
  int64_t num_clients = 1;
  double alpha = 0.5;              // dirichlet: concentration (small = more skewed)
  int64_t shards_per_client = 2;   // shards: label-sorted shards per client
  uint64_t seed = 0;
};

// "iid" | "dirichlet" | "shards"; throws ConfigError listing the names otherwise.
PartitionScheme parse_partition_scheme(const std::string& name);
std::string to_string(PartitionScheme scheme);

// Returns one sorted index list per client. iid: a seeded shuffle cut into near-equal parts (sizes differ by at
// most one; the paper's even split). dirichlet: per class, proportions drawn from Dirichlet(alpha) over clients.
// shards: sort by label, cut into num_clients * shards_per_client shards, deal them out at random. Every index
// appears in exactly one shard. A shard may be empty (more clients than samples; a small alpha; more shards than
// samples): such a client has no data, and training never picks it. Throws ConfigError when the options cannot
// work (no clients, no samples, alpha <= 0, ...).
std::vector<std::vector<int64_t>> partition(const std::vector<int64_t>& labels, int64_t num_classes,
                                            const PartitionOptions& options);

}  // namespace mesl::data
