// The `mesl` executable: dispatches to a subcommand and turns every failure into one line on stderr and an exit
// code (2: bad usage or configuration; 1: anything else), never a raw exception trace.
#include <c10/util/Exception.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

#include "cli_util.h"
#include "commands.h"
#include "mesl/error.h"
#include "mesl/util/allocator.h"
#include "mesl/util/heap_allocator.h"
#include "mesl/version.h"

namespace {

const char* kUsage =
    "mesl: communication-efficient split learning on MPI\n"
    "usage: mesl <command> [options]     (mesl <command> --help)\n"
    "commands:\n"
    "  train    run split learning: mpirun -np N+1 mesl train [options]\n"
    "  codec    activation codecs: roundtrip | encode | decode | bench | plan\n"
    "  errors   compression error of every codec on real cut-layer activations\n"
    "  version  print the version\n";

// The number of ranks the launcher starts on this node, from its environment (before MPI_Init): Open MPI's mpirun,
// MPICH/Hydra, or Slurm's srun (tasks of the step over its nodes). 1 when unknown.
long ranks_on_this_node() {
  for (const char* name : {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS"})
    if (const char* v = std::getenv(name)) return std::strtol(v, nullptr, 10);
  const char* tasks = std::getenv("SLURM_STEP_NUM_TASKS");
  const char* nodes = std::getenv("SLURM_STEP_NUM_NODES");
  if (tasks != nullptr && nodes != nullptr) {
    const long t = std::strtol(tasks, nullptr, 10), n = std::strtol(nodes, nullptr, 10);
    return n > 0 ? (t + n - 1) / n : 1;
  }
  return 1;
}

// OpenMP worker threads spin for a while after each parallel region. With several ranks on a node they steal the
// cores from the rank that computes next: two ranks on two cores trained the CNN 3.3x slower than with passive
// waiting (docs/performance.md). libgomp reads OMP_WAIT_POLICY when it is loaded, before main(), so when the
// launcher starts several ranks here and the user has not chosen a policy, mesl sets PASSIVE and runs itself
// again (same pid, before MPI is initialised). One process alone keeps the default: spinning is 12% faster there.
void passive_openmp_when_sharing(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr || ranks_on_this_node() <= 1) return;
  setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
  execv("/proc/self/exe", argv);  // returns only on failure: then carry on with the default policy
}

}  // namespace

int main(int argc, char** argv) {
  passive_openmp_when_sharing(argv);
  mesl::keep_freed_memory();
  mesl::install_heap_allocator();
  if (argc < 2) {
    std::cerr << kUsage;
    return 2;
  }
  const std::string command = argv[1];
  try {
    if (command == "codec") return mesl::cli::codec_command(argc - 1, argv + 1);
    if (command == "train") return mesl::cli::train_command(argc - 1, argv + 1);
    if (command == "errors") return mesl::cli::errors_command(argc - 1, argv + 1);
    if (command == "version" || command == "--version") {
      std::cout << "mesl " << mesl::kVersion << std::endl;
      return 0;
    }
    if (command == "help" || command == "--help" || command == "-h") {
      std::cout << kUsage;
      return 0;
    }
    mesl::cli::print_error("unknown command '" + command + "'; choose train, codec, errors or version");
    return 2;
  } catch (const mesl::ConfigError& e) {
    mesl::cli::print_error(e.what());
    return 2;
  } catch (const mesl::Error& e) {
    mesl::cli::print_error(e.what());
    return 1;
  } catch (const c10::Error& e) {
    mesl::cli::print_error(std::string("LibTorch: ") + e.what_without_backtrace());
    return 1;
  } catch (const std::bad_alloc&) {
    mesl::cli::print_error("out of memory");
    return 1;
  } catch (const std::exception& e) {
    mesl::cli::print_error(e.what());
    return 1;
  }
}
