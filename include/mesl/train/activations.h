#pragma once
// Real cut-layer activations for codec studies (`mesl errors`): the run's model is trained briefly in this process
// (identity codec, one client, the configured data), then its bottom produces activations of test batches.
#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

#include "mesl/train/config.h"

namespace mesl::train {

struct Activations {
  std::vector<at::Tensor> tensors;   // one per test batch, [batch, cut shape...]
  std::vector<int64_t> cut_shape;
  int64_t cut = 0;
  double train_loss = 0;             // mean loss of the last 10% of the training steps
};

// Trains `train_steps` steps (0: none, the initial weights), then runs `batches` test batches of
// config.eval_batch_size through the bottom in evaluation mode.
Activations sample_activations(const TrainConfig& config, int64_t train_steps, int64_t batches);

}  // namespace mesl::train
