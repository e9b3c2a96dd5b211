#pragma once
// The MPI backend of Transport: Isend/Iprobe/Recv on MPI_COMM_WORLD with MPI_ERRORS_RETURN (every MPI call is
// checked and a failure becomes CommError naming the call). Messages larger than INT_MAX bytes travel in pieces.
#include <memory>

#include "mesl/comm/transport.h"

namespace mesl::comm {

// Owns MPI_Init_thread (MPI_THREAD_FUNNELED) and MPI_Finalize. Construct once per process, before any other MPI
// use; if MPI was already initialised by someone else, it is neither initialised nor finalised here. Before it
// initialises MPI it sets OMPI_MCA_pml_ob1_send_pipeline_depth=64 unless the environment already has a value, so
// that large messages move fast between polling waits (docs/transport.md).
class MpiSession {
 public:
  MpiSession(int* argc, char*** argv);
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;
  // Ends the whole job now (MPI_Abort) with `code`; for a rank that cannot continue and must not hang the others.
  [[noreturn]] static void abort_job(int code);

 private:
  bool owns_ = false;
};

// A transport over all ranks of MPI_COMM_WORLD (it works on duplicates of it, so it never sees other users'
// messages). Collective: every rank calls it at the same time. Reads MESL_MPI_MAX_MESSAGE (the largest piece of
// one MPI message, default and maximum INT_MAX bytes; the ranks use the smallest value any of them has) and throws
// ConfigError on every rank when a rank's value is not a whole number in [1, INT_MAX].
// After a send threw (timeout or abort), MPI may still read its buffer until the job ends, as Open MPI cannot
// cancel a send that has started: keep the buffer alive, or end the job (what mesl does).
std::unique_ptr<Transport> make_mpi_transport();

}  // namespace mesl::comm
