// How a rank's idle OpenMP threads are told to wait (openmp_waits.h).
#include <doctest/doctest.h>

#include <cstdlib>
#include <map>

#include "mesl/train/openmp_waits.h"

using namespace mesl::train;

namespace {

std::map<std::string, std::string> settings(const OpenmpWaitFacts& facts) {
  std::map<std::string, std::string> out;
  for (const auto& [name, value] : openmp_wait_settings(facts)) out[name] = value;
  return out;
}

OpenmpWaitFacts facts(int ranks, int cores, int threads, const std::string& topology) {
  OpenmpWaitFacts f;
  f.ranks_on_node = ranks;
  f.cores = cores;
  f.threads = threads;
  f.topology = topology;
  return f;
}

const std::map<std::string, std::string> kPassive{{"OMP_WAIT_POLICY", "PASSIVE"}};
const std::map<std::string, std::string> kPassiveShortSpin{{"OMP_WAIT_POLICY", "PASSIVE"},
                                                           {"GOMP_SPINCOUNT", kShortSpin}};

}  // namespace

TEST_CASE("one rank on a node keeps libgomp's defaults") {
  CHECK(settings(facts(1, 2, 2, "sequential")).empty());
  CHECK(settings(facts(1, 64, 0, "sflv1")).empty());
}

TEST_CASE("sequential split learning spins briefly: one rank computes at a time") {
  // The server and one client take turns: each rank's threads fit the cores, however many clients wait.
  CHECK(settings(facts(2, 2, 2, "sequential")) == kPassiveShortSpin);
  CHECK(settings(facts(5, 2, 2, "sequential")) == kPassiveShortSpin);
  CHECK(settings(facts(5, 2, 0, "sequential")) == kPassiveShortSpin);
  // More threads than cores even for one rank: no spin.
  CHECK(settings(facts(2, 2, 4, "sequential")) == kPassive);
}

TEST_CASE("SplitFed spins only where every rank's threads have cores") {
  // 4 clients and the server, 2 threads each, on 2 cores: spinning would take the cores of the ranks computing.
  CHECK(settings(facts(5, 2, 2, "sflv1")) == kPassive);
  CHECK(settings(facts(5, 2, 2, "sflv2")) == kPassive);
  // --threads 0 shares the cores: 16 / 5 = 3 threads each, 15 of 16 cores.
  CHECK(settings(facts(5, 16, 0, "sflv1")) == kPassiveShortSpin);
  CHECK(settings(facts(5, 16, 4, "sflv1")) == kPassive);
  // Fewer cores than ranks: still 1 thread each, which does not fit.
  CHECK(settings(facts(5, 2, 0, "sflv2")) == kPassive);
}

TEST_CASE("a rank's threads: --threads, or the node's cores shared among its ranks") {
  CHECK(threads_per_rank(3, 2, 5) == 3);
  CHECK(threads_per_rank(0, 16, 5) == 3);
  CHECK(threads_per_rank(0, 2, 5) == 1);  // never 0
  CHECK(threads_per_rank(0, 8, 0) == 8);  // an unknown rank count counts as one rank
}

TEST_CASE("the user's OpenMP settings stand") {
  OpenmpWaitFacts f = facts(2, 2, 1, "sequential");
  f.policy_set = true;
  CHECK(settings(f).empty());  // a policy of the user's: and no spin count added to it either
  f.policy_set = false;
  f.spincount_set = true;
  CHECK(settings(f) == kPassive);
}

TEST_CASE("ranks on this node from the launcher's environment") {
  const char* names[] = {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "SLURM_STEP_NUM_TASKS",
                         "SLURM_STEP_NUM_NODES"};
  std::map<std::string, std::string> saved;
  for (const char* name : names)
    if (const char* v = std::getenv(name)) saved[name] = v;
  for (const char* name : names) unsetenv(name);

  CHECK(ranks_on_this_node() == 1);
  setenv("SLURM_STEP_NUM_TASKS", "9", 1);
  setenv("SLURM_STEP_NUM_NODES", "2", 1);
  CHECK(ranks_on_this_node() == 5);  // the busier node of the step
  setenv("MPI_LOCALNRANKS", "3", 1);
  CHECK(ranks_on_this_node() == 3);  // the MPI launcher's count wins over Slurm's estimate
  setenv("OMPI_COMM_WORLD_LOCAL_SIZE", "4", 1);
  CHECK(ranks_on_this_node() == 4);

  for (const char* name : names) unsetenv(name);
  for (const auto& [name, value] : saved) setenv(name.c_str(), value.c_str(), 1);
}
