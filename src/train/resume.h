#pragma once
// Finding where a resumed run continues: the newest complete checkpoint that every rank can load and whose
// configuration matches this run's (docs/checkpoints.md).
#include <torch/torch.h>

#include <memory>
#include <optional>
#include <string>

#include "checkpoint.h"
#include "context.h"
#include "mesl/comm/transport.h"

namespace mesl::train {

struct ResumePoint {
  std::string checkpoint;                                   // the checkpoint directory
  std::shared_ptr<torch::serialize::InputArchive> archive;  // rank 0 (and local runs): its part, loaded
  // A client rank: where its clients' states are (a client without one had not trained), and the bottom saved
  // with id 0 (sequential: the newest), in checked client files of any rank.
  std::vector<std::pair<std::string, ClientEntry>> entries;
};

// With --resume: the point every rank agreed on, or nullopt when the directory holds no complete checkpoint (the
// run starts from the beginning). Falls back to an older checkpoint when a rank cannot load its file. Throws
// ConfigError when the configuration differs from the checkpoint's (unless --resume-force).
std::optional<ResumePoint> find_resume_point(const RunContext& ctx, comm::Transport* transport, int rank);

// The first setting whose value differs between two configurations' identity JSON ("" when they are equal).
// `there_name` names where `there` comes from in the message; with `only_here`, settings that only `there` has
// (a metrics file's full configuration against this run's identity) are not differences.
std::string first_difference(const std::string& here, const std::string& there,
                             const std::string& there_name = "the checkpoint", bool only_here = false);

// Before a run writes --output (rank 0): an existing metrics file is never replaced unless --overwrite says so.
// It is continued when a checkpoint was found (`continues`); with --resume and no checkpoint yet (a job requeued
// before its first) it may be started afresh only when its configuration is this run's. Otherwise throws
// ConfigError naming --overwrite and --resume. A path that is not a regular file is left to the writer's errors.
void check_existing_output(const TrainConfig& config, bool continues);

}  // namespace mesl::train
