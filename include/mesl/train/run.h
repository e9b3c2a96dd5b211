#pragma once
// The entry point of a training run. `mesl train` parses the options into a TrainConfig and calls run_training;
// under mpirun rank 0 becomes the server and coordinator, ranks 1..R host the clients (docs/protocol.md).
#include <optional>

#include "mesl/comm/transport.h"
#include "mesl/train/config.h"

namespace mesl::train {

// Start-up failed on this rank and this rank reports it (the message is the original one); every rank agreed to
// exit with code(), so no abort is needed.
class StartupFailed : public Error {
 public:
  StartupFailed(const std::string& message, int code) : Error(message), code_(code) {}
  int code() const { return code_; }

 private:
  int code_;
};

// Start-up failed on some rank, and another rank reports it: this rank exits with code() and prints nothing.
class PeerFailed : public Error {
 public:
  explicit PeerFailed(int code) : Error("start-up failed on another rank"), code_(code) {}
  int code() const { return code_; }

 private:
  int code_;
};

// Runs the configured topology on `transport` (MPI or in-process), or locally for --topology local (then
// `transport` may be null). Returns the process exit code. Errors propagate as mesl::Error. Start-up errors
// (options, data, model) are agreed on by all ranks first, so that every rank exits with the same code and the
// message is printed once: by rank 0 if it failed, else by each rank that did (they throw StartupFailed, the others PeerFailed).
int run_training(const TrainConfig& config, comm::Transport* transport);

}  // namespace mesl::train
