#include "resume.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>

#include "checkpoint.h"
#include "mesl/error.h"
#include "mesl/metrics/run_writer.h"
#include "schedule.h"

namespace mesl::train {
namespace {

// The top-level "key":value pairs of a flat JSON object (what config.cpp writes: no nesting beyond arrays).
std::map<std::string, std::string> flat_json(const std::string& json) {
  std::map<std::string, std::string> out;
  size_t i = 1;
  while (i < json.size()) {
    const size_t key_start = json.find('"', i);
    if (key_start == std::string::npos) break;
    const size_t key_end = json.find('"', key_start + 1);
    const std::string key = json.substr(key_start + 1, key_end - key_start - 1);
    size_t v = key_end + 2;  // past the colon
    size_t end = v;
    bool quoted = false;
    int depth = 0;
    for (; end < json.size(); ++end) {
      const char c = json[end];
      if (quoted) {
        if (c == '\\') ++end;
        else if (c == '"') quoted = false;
      } else if (c == '"') {
        quoted = true;
      } else if (c == '[') {
        ++depth;
      } else if (c == ']') {
        --depth;
      } else if ((c == ',' || c == '}') && depth == 0) {
        break;
      }
    }
    out[key] = json.substr(v, end - v);
    i = end + 1;
  }
  return out;
}

}  // namespace

std::string first_difference(const std::string& here, const std::string& there, const std::string& there_name,
                             bool only_here) {
  const auto a = flat_json(here), b = flat_json(there);
  for (const auto& [key, value] : a) {
    const auto it = b.find(key);
    if (it == b.end()) return key + " is " + value + " here but not set in " + there_name;
    if (it->second != value) return key + " is " + value + " here but " + it->second + " in " + there_name;
  }
  if (only_here) return "";
  for (const auto& [key, value] : b)
    if (!a.count(key)) return key + " is " + value + " in " + there_name + " but not set here";
  return "";
}

void check_existing_output(const TrainConfig& config, bool continues) {
  std::error_code error;
  if (config.overwrite || continues || !std::filesystem::is_regular_file(config.output, error)) return;
  const std::string output = "--output " + config.output;
  if (!config.resume) {
    throw ConfigError(output + " exists: pass --overwrite to replace it, or --resume to continue it from "
                      "--checkpoint-dir (or choose another --output)");
  }
  std::string why;
  try {
    why = first_difference(identity_json(config), metrics::RunWriter::stored_config(config.output), "the file",
                           true);
  } catch (const Error& e) {  // not HDF5, or not a mesl metrics file
    why = e.what();
  }
  if (!why.empty()) {
    throw ConfigError(output + " exists and is not this run's (" + why + ") and --checkpoint-dir holds no "
                      "checkpoint to continue it: pass --overwrite to replace it, or choose another --output");
  }
}

std::optional<ResumePoint> find_resume_point(const RunContext& ctx, comm::Transport* transport, int rank) {
  const CheckpointStore store(ctx.config.checkpoint_dir);
  const auto candidates = store.complete();
  const std::string identity = identity_json(ctx.config);
  for (const auto& checkpoint : candidates) {
    ResumePoint point{checkpoint, std::make_shared<torch::serialize::InputArchive>(), {}};
    int status = 0;  // 0: usable, 1: cannot be loaded here, 2: another configuration
    std::string why;
    try {
      if (rank == 0) {
        store.load(checkpoint, rank, *point.archive);
        const std::string theirs = get_string(*point.archive, "identity");
        why = first_difference(identity, theirs);
        if (!why.empty() && !ctx.config.resume_force) status = 2;
      }
      if (rank != 0 || is_local(ctx.config.topology)) {
        // Any rank's file may hold this rank's clients (the run may have had another number of ranks). The local
        // runner hosts every client, as one client rank would.
        const int host = std::max(rank, 1);
        const Placement placement{ctx.config.clients, std::max(1, client_ranks(ctx.config, ctx.world_size))};
        for (const std::string& file : store.client_files(checkpoint)) {
          for (const ClientEntry& e : read_client_index(file)) {
            if (e.id == 0 || (e.id >= 1 && e.id <= ctx.config.clients && placement.rank_of(e.id) == host))
              point.entries.emplace_back(file, e);
          }
        }
      }
    } catch (const CheckpointError& e) {
      status = 1;
      why = e.what();
    }
    const int64_t agreed = transport && transport->size() > 1 ? transport->all_max(status) : status;
    if (agreed == 0) {
      if (rank == 0) std::printf("mesl: resuming from %s\n", checkpoint.c_str());
      return point;
    }
    if (agreed == 2) {
      throw ConfigError("--resume: the configuration differs from the checkpoint's (" + why +
                        "); pass --resume-force to resume anyway, or use another --checkpoint-dir");
    }
    if (status == 1) std::fprintf(stderr, "mesl: warning: %s; trying an older checkpoint\n", why.c_str());
  }
  if (rank == 0)
    std::printf("mesl: no usable checkpoint in %s: starting from the beginning\n", ctx.config.checkpoint_dir.c_str());
  return std::nullopt;
}

}  // namespace mesl::train
