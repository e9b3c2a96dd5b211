#pragma once
// Checked MPI calls (the HighFive pattern): every call on a communicator with MPI_ERRORS_RETURN goes through
// mpi_check, which turns a failure into CommError naming the call and the peer,
// e.g. "MPI_Isend to rank 3 failed: MPI_ERR_RANK: invalid rank".
// mesl uses the C API of MPI only. Without these, Open MPI's (and MPICH's) mpi.h also declares the deprecated C++
// bindings, whose inline code then needs libmpi_cxx at link time. Include mpi.h through this header.
#ifndef OMPI_SKIP_MPICXX
#define OMPI_SKIP_MPICXX 1
#endif
#ifndef MPICH_SKIP_MPICXX
#define MPICH_SKIP_MPICXX 1
#endif
#include <mpi.h>

#include <string>
#include <utility>

#include "mesl/error.h"

namespace mesl::comm::detail {

// MPI's own words for an error code.
std::string mpi_error_text(int code);

template <typename... What>
void mpi_check(int rc, What&&... what) {
  if (rc != MPI_SUCCESS) throw CommError(::mesl::detail::concat(std::forward<What>(what)..., " failed: ", mpi_error_text(rc)));
}

bool mpi_initialized();
bool mpi_finalized();

}  // namespace mesl::comm::detail
