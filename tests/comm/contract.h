#pragma once
// The Transport contract (transport.h) as checks that every rank runs on its own transport, written once and run
// over both backends: the in-process one in the doctest cases, the MPI one by mpi_contract under mpirun.
// A check that finds a broken promise throws ContractFailure; the other ranks are then released by an abort.
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "mesl/comm/transport.h"

namespace mesl::comm::contract {

struct ContractFailure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Check {
  const char* name;
  int min_ranks;  // the check needs at least this many ranks (it passes trivially with fewer)
  void (*run)(Transport&);
};

// Every contract check, in the order the MPI program runs them.
const std::vector<Check>& checks();
const Check& check_named(const std::string& name);

// Test data: `size` bytes that depend on every index and on `seed`, so that a shifted, truncated or mixed-up
// message never compares equal.
std::vector<uint8_t> pattern(size_t size, uint32_t seed);
// The message sizes every size-parameterised check goes through.
const std::vector<size_t>& message_sizes();

// CPU seconds (user + system) of this thread or of the whole process, for the "waits do not spin" checks.
enum class CpuScope { thread, process };
double cpu_seconds(CpuScope scope);

// Rank 0 waits `wait_s` in recv for a message that rank 1 sends after sleeping that long; returns the CPU seconds
// rank 0 used while waiting (on rank 1: 0). Checks that the message arrived intact.
double measure_recv_wait_cpu(Transport& t, double wait_s, CpuScope scope);

}  // namespace mesl::comm::contract

// EXPECT(condition, message parts...): throws ContractFailure naming the file, line and condition. At least one
// message part is required.
#define EXPECT(cond, ...)                                                                                        \
  do {                                                                                                           \
    if (!(cond))                                                                                                 \
      throw ::mesl::comm::contract::ContractFailure(                                                             \
          ::mesl::detail::concat(__FILE__, ":", __LINE__, ": expected ", #cond, "; ", __VA_ARGS__));             \
  } while (0)
