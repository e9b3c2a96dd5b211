#pragma once
// How the idle OpenMP threads of a rank wait, chosen before libgomp reads its settings (docs/performance.md,
// "Several ranks on a node: OpenMP waiting").
//
// libgomp's threads spin for a while after each parallel region before they sleep. With several ranks on a
// node, the spinning threads of a rank that has just finished steal the cores from the rank that computes next,
// so mesl asks for passive waiting. Passive waiting with no spin at all makes every parallel region wake its
// threads through the kernel, though, which slowed the small CNN's compute by several percent; where the ranks
// that compute at the same time have a core for each of their threads (one client at a time in sequential split
// learning, or few threads per rank), a short spin keeps the threads awake between the regions of one step and
// costs nothing, because the spin ends long before the rank's next turn. What the user sets is left alone.
#include <string>
#include <utility>
#include <vector>

#include "mesl/train/config.h"

namespace mesl::train {

// GOMP_SPINCOUNT for the short spin: libgomp's own estimate is 100,000 spins per millisecond, so about 0.1 ms.
inline constexpr const char* kShortSpin = "10000";

struct OpenmpWaitFacts {
  int ranks_on_node = 1;  // ranks the launcher starts on this node
  int cores = 1;          // the node's cores
  int threads = 0;        // --threads (0: the node's cores shared among its ranks)
  std::string topology = "sequential";
  bool policy_set = false;     // OMP_WAIT_POLICY is in the environment
  bool spincount_set = false;  // GOMP_SPINCOUNT is in the environment
};

// Intra-op threads of a rank: `configured` (--threads) if positive, else the node's cores shared among its ranks.
int threads_per_rank(int configured, int cores, int ranks_on_node);

// The environment variables to set, as (name, value) pairs; empty when the defaults stand.
std::vector<std::pair<std::string, std::string>> openmp_wait_settings(const OpenmpWaitFacts& facts);

// The number of ranks the launcher starts on this node, from its environment (before MPI_Init): Open MPI's
// mpirun, MPICH/Hydra, or Slurm's srun (tasks of the step over its nodes). 1 when unknown.
int ranks_on_this_node();

// Sets openmp_wait_settings() for this process and `config`, then runs the program again with the same command
// line (`argv`, null-terminated, argv[0] the program) so that libgomp, which reads them when it is loaded,
// sees them. Returns when there is nothing to set, or if the re-execution fails (the environment is then put
// back as it was, and libgomp's defaults stand).
void apply_openmp_wait_settings(const TrainConfig& config, char** argv);

}  // namespace mesl::train
