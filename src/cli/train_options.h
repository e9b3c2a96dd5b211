#pragma once
// The options of `mesl train` (every one documented in --help and docs/cli.md) and their mapping to TrainConfig.
#include <optional>

#include "mesl/train/config.h"

namespace mesl::cli {

// nullopt after printing --help.
std::optional<train::TrainConfig> parse_train_options(int argc, char** argv);

}  // namespace mesl::cli
