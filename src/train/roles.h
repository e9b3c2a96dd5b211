#pragma once
// The parts of a run (private to the train library): the coordinator on rank 0 (coordinator.h), a client rank
// (client_role.cpp) and the one-process runner (local.cpp), and what they share.
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "context.h"
#include "mesl/comm/transport.h"
#include "schedule.h"

namespace mesl::train {

class Recorder;
struct ResumePoint;

// How long a rank waits for an answer it expects (--timeout-s).
inline comm::Timeout role_timeout(const RunContext& ctx) {
  return std::chrono::duration<double>(ctx.config.timeout_s);
}
inline const comm::Timeout kNoWait = std::chrono::duration<double>(0.0);

// A rank's part of the run. Made during start-up (where a failure on any rank stops every rank with one
// message: run.cpp), then run: run() returns the exit code.
class Role {
 public:
  virtual ~Role() = default;
  virtual int run() = 0;
};

std::unique_ptr<Role> make_server(const RunContext& ctx, comm::Transport& transport, Recorder& recorder,
                                  const Schedule& schedule, const std::optional<ResumePoint>& resume);
std::unique_ptr<Role> make_client(const RunContext& ctx, comm::Transport& transport, const Schedule& schedule,
                                  const std::optional<ResumePoint>& resume);
std::unique_ptr<Role> make_local(const RunContext& ctx, Recorder& recorder, const Schedule& schedule,
                                 const std::optional<ResumePoint>& resume);

// The most bytes one client's state can take (client_state.h): its optimizer's momentum, and in a parallel
// topology its own bottom. Throws ConfigError when --client-state-memory cannot hold one.
size_t client_state_bound(const RunContext& ctx, RoundKind kind);
// The state folder of a client rank (`rank` >= 1; the local runner is rank 1): --state-dir/rank-R.
std::string rank_state_dir(const RunContext& ctx, int rank);
// Start-up checks of the client states, before anything is written: the budget holds one state (every rank), and
// where this rank's clients may not all fit in it, its state folder can be written (throws ConfigError).
void check_client_states(const RunContext& ctx, RoundKind kind, int rank);

}  // namespace mesl::train
