// `mesl train`: options -> TrainConfig, MPI start-up when a launcher started us, and the error policy of a
// distributed job: start-up errors are agreed on and printed once; a rank that fails later prints its error, tells
// every other rank (which print why they stop) and ends the job, so no rank is left waiting.
#include <unistd.h>

#include <cerrno>  // program_invocation_name
#include <cstdlib>
#include <iostream>
#include <vector>

#include "cli_util.h"
#include "commands.h"
#include "mesl/comm/mpi_transport.h"
#include "mesl/data/dataset.h"
#include "mesl/error.h"
#include "mesl/models/model.h"
#include "mesl/train/openmp_waits.h"
#include "mesl/train/run.h"
#include "mesl/train/signals.h"
#include "train_options.h"

namespace mesl::cli {
namespace {

// The rank a launcher (mpirun, srun) gave this process, or -1 when none started it.
int launcher_rank() {
  for (const char* name : {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID"}) {
    if (const char* v = std::getenv(name)) return std::atoi(v);
  }
  return -1;
}

bool under_launcher() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE"})
    if (std::getenv(name)) return true;
  return false;
}

}  // namespace

int train_command(int argc, char** argv) {
  // First thing: a SIGTERM/SIGUSR1 that arrives during start-up must not kill the rank (see signals.h).
  train::install_stop_handlers();
  const int env_rank = launcher_rank();
  train::TrainConfig config;
  try {
    auto parsed = parse_train_options(argc, argv);
    if (!parsed) return 0;
    config = *parsed;
  } catch (const Error& e) {
    // Every rank parses the same command line and fails the same way: rank 0 alone says what is wrong and
    // gives the exit code. The others end quietly with 0: had they exited non-zero, mpirun could kill the job
    // before rank 0 had printed its message (seen under load in CI).
    if (env_rank > 0) return 0;
    throw;
  }
  // How idle OpenMP threads wait depends on the ranks sharing this node (openmp_waits.h); libgomp reads that when
  // it is loaded, so this may run the program again, from the start, with the settings in its environment.
  std::vector<char*> command_line{program_invocation_name};
  command_line.insert(command_line.end(), argv, argv + argc);
  command_line.push_back(nullptr);
  train::apply_openmp_wait_settings(config, command_line.data());
  if (!under_launcher()) return train::run_training(config, nullptr);

  comm::MpiSession session(&argc, &argv);
  auto transport = comm::make_mpi_transport();
  const int rank = transport->rank();
  try {
    return train::run_training(config, transport.get());
  } catch (const train::StartupFailed& e) {
    print_error(e.what());
    return e.code();
  } catch (const train::PeerFailed& e) {
    return e.code();
  } catch (const comm::AbortedError& e) {
    train::remove_stop_handlers();  // mpirun's SIGTERMs from here on end this rank; it is not a graceful stop
    print_error("rank " + std::to_string(rank) + " stops: " + e.what());
    usleep(300 * 1000);  // the rank that failed ends the job; leave it the time to
    comm::MpiSession::abort_job(1);
  } catch (const std::exception& e) {  // mesl's errors and anything else (LibTorch's carry a backtrace: line 1 only)
    train::remove_stop_handlers();
    std::string what = "rank " + std::to_string(rank) + ": " + e.what();
    what = what.substr(0, what.find('\n'));
    print_error(what);
    transport->abort_all(what);
    usleep(1000 * 1000);  // let the other ranks say why they stop
    comm::MpiSession::abort_job(dynamic_cast<const ConfigError*>(&e) ? 2 : 1);
  }
}

}  // namespace mesl::cli
