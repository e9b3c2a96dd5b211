#include "mesl/train/openmp_waits.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

#include "schedule.h"

namespace mesl::train {

int threads_per_rank(int configured, int cores, int ranks_on_node) {
  return configured > 0 ? configured : std::max(1, cores / std::max(1, ranks_on_node));
}

std::vector<std::pair<std::string, std::string>> openmp_wait_settings(const OpenmpWaitFacts& facts) {
  // One rank alone keeps libgomp's default (a long spin): nobody else needs its cores. A user's policy stands,
  // and so does the spin that goes with it.
  if (facts.ranks_on_node <= 1 || facts.policy_set) return {};
  std::vector<std::pair<std::string, std::string>> settings{{"OMP_WAIT_POLICY", "PASSIVE"}};
  if (facts.spincount_set) return settings;
  const int cores = std::max(1, facts.cores);
  const int threads = threads_per_rank(facts.threads, cores, facts.ranks_on_node);
  // In sequential split learning the server and one client take turns: one rank computes at a time. In SplitFed
  // every client computes at once.
  const bool turns = is_local(facts.topology) || schedule_kind(facts.topology) == RoundKind::turns;
  const int computing = turns ? 1 : facts.ranks_on_node;
  if (static_cast<long>(threads) * computing <= cores) settings.emplace_back("GOMP_SPINCOUNT", kShortSpin);
  return settings;
}

int ranks_on_this_node() {
  for (const char* name : {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS"})
    if (const char* v = std::getenv(name)) return std::max(1, std::atoi(v));
  const char* tasks = std::getenv("SLURM_STEP_NUM_TASKS");
  const char* nodes = std::getenv("SLURM_STEP_NUM_NODES");
  if (tasks != nullptr && nodes != nullptr) {
    const int t = std::atoi(tasks), n = std::atoi(nodes);
    return n > 0 ? std::max(1, (t + n - 1) / n) : 1;
  }
  return 1;
}

void apply_openmp_wait_settings(const TrainConfig& config, char** argv) {
  OpenmpWaitFacts facts;
  facts.ranks_on_node = ranks_on_this_node();
  facts.cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  facts.threads = config.threads;
  facts.topology = config.topology;
  facts.policy_set = std::getenv("OMP_WAIT_POLICY") != nullptr;
  facts.spincount_set = std::getenv("GOMP_SPINCOUNT") != nullptr;
  const auto settings = openmp_wait_settings(facts);
  if (settings.empty()) return;
  for (const auto& [name, value] : settings) setenv(name.c_str(), value.c_str(), 1);
  // The same pid and command line, before MPI is initialised; the second run finds the policy set and goes on.
  execv("/proc/self/exe", argv);
  // Still here: the re-execution failed and libgomp keeps what it read. Take the settings back, so that the
  // environment (which the metrics file records) says what the threads really do.
  for (const auto& setting : settings) unsetenv(setting.first.c_str());
}

}  // namespace mesl::train
