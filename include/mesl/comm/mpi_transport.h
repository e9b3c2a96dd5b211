#pragma once
// The MPI backend of Transport: Isend/Iprobe/Recv on MPI_COMM_WORLD with MPI_ERRORS_RETURN (every MPI call is
// checked and a failure becomes CommError naming the call). Messages larger than INT_MAX bytes travel in pieces.
#include <memory>

#include "mesl/comm/transport.h"

namespace mesl::comm {

// Owns MPI_Init_thread (MPI_THREAD_FUNNELED) and MPI_Finalize. Construct once per process, before any other MPI
// use; if MPI was already initialised by someone else, it is neither initialised nor finalised here.
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

std::unique_ptr<Transport> make_mpi_transport();

}  // namespace mesl::comm
