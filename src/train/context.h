#pragma once
// What every rank of a run knows after start-up: the resolved configuration, the dataset's facts, the model's
// split, and the shards. Computed identically on every rank from the configuration and the training labels, so no
// rank needs to send another its plan.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "mesl/data/dataset.h"
#include "mesl/data/loader.h"
#include "mesl/models/model.h"
#include "mesl/train/config.h"

namespace mesl::train {

struct RunContext {
  TrainConfig config;  // resolved and validated
  int world_size = 1;
  data::DatasetOptions dataset;
  data::DatasetInfo info;
  models::ModelOptions model;
  int64_t cut = 0;
  std::vector<int64_t> cut_shape;               // per sample
  std::vector<std::vector<int64_t>> shards;     // training indices per client (client c is shards[c - 1]); some
                                                // may be empty (such a client never trains)
  int64_t test_size = 0;                        // samples evaluated (after --test-limit)
  data::Augment augment = data::Augment::none;  // training augmentation
  models::SplitNet net;                         // built from the run's seed: identical on every rank
};

// Reads the dataset's headers and training labels, resolves the cut and partitions the data. Throws ConfigError,
// DataError or ModelError with the fix.
RunContext make_context(const TrainConfig& config, int world_size);

// Evaluation runs the test set in batches of --eval-batch-size, whoever runs them: eval_batches() of them, and
// the contiguous share [first, end) of part `part` (1-based) of `parts` (the client ranks of a parallel topology).
int64_t eval_batches(const RunContext& ctx);
std::pair<int64_t, int64_t> eval_share(const RunContext& ctx, int part, int parts);

// Every client's shard size, by client - 1.
std::vector<int64_t> shard_sizes(const RunContext& ctx);

// The options of client `client`'s training loader (its shard, its order and augmentation streams), and a test
// loader over samples [begin, end).
data::LoaderOptions train_loader_options(const RunContext& ctx, int64_t client);
data::Loader test_loader(const RunContext& ctx, const data::Split& split, int64_t begin, int64_t end);

// A deep copy of a module (e.g. one bottom per client in the local topology).
torch::nn::Sequential clone_sequential(const torch::nn::Sequential& net);

at::Device parse_device(const std::string& name, int local_rank);

}  // namespace mesl::train
