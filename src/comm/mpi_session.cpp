#include <cstdio>
#include <cstdlib>

#include "mesl/comm/mpi_transport.h"
#include "mpi_call.h"

namespace mesl::comm {
namespace detail {

std::string mpi_error_text(int code) {
  char text[MPI_MAX_ERROR_STRING] = {};
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) return "MPI error code " + std::to_string(code);
  return std::string(text, static_cast<size_t>(length));
}

bool mpi_initialized() {
  int flag = 0;
  MPI_Initialized(&flag);
  return flag != 0;
}

bool mpi_finalized() {
  int flag = 0;
  MPI_Finalized(&flag);
  return flag != 0;
}

}  // namespace detail

namespace {

// Open MPI's ob1 layer keeps 3 fragments of a large message in flight per progress call by default. mesl's waits
// call MPI from a sleeping poll loop, not a spinning one, so each call should move more: with 64 fragments a
// 4 MB message over shared memory without single-copy moves 2-3 times faster (docs/transport.md). A value the
// user set (environment, or mpirun --mca, which passes the environment) wins. Other MPI libraries ignore it.
void default_open_mpi_settings() { setenv("OMPI_MCA_pml_ob1_send_pipeline_depth", "64", /*overwrite=*/0); }

}  // namespace

MpiSession::MpiSession(int* argc, char*** argv) {
  if (detail::mpi_initialized()) return;  // someone else owns MPI (a test harness, a host program)
  default_open_mpi_settings();
  int provided = MPI_THREAD_SINGLE;
  // FUNNELED: mesl calls MPI from the main thread only, while LibTorch may run its own thread pools.
  detail::mpi_check(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
  owns_ = true;
  if (provided < MPI_THREAD_FUNNELED) {
    MPI_Finalize();
    owns_ = false;
    throw CommError("the MPI library does not support MPI_THREAD_FUNNELED; use an MPI built with thread support");
  }
}

MpiSession::~MpiSession() {
  if (owns_ && !detail::mpi_finalized()) MPI_Finalize();
}

void MpiSession::abort_job(int code) {
  std::fflush(nullptr);  // the message that explains the abort must reach the terminal or the job log
  if (detail::mpi_initialized() && !detail::mpi_finalized()) MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);  // without MPI (or if MPI_Abort returned) this process is the whole job
}

}  // namespace mesl::comm
