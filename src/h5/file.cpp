// Handle ownership and opening files.
#include <string>
#include <utility>

#include "check.h"
#include "mesl/h5/h5.h"

namespace mesl::h5 {

// ---- Handle ---------------------------------------------------------------------------------------------------

Handle::Handle(hid_t id) : id_(id) {}

Handle::~Handle() {
  if (id_ < 0) return;
  SilenceErrors quiet;  // a close that fails in a destructor has nobody to report to
  // Each kind of identifier has its own close function; H5Idec_ref would also work but skips the checks (and,
  // for files, the flush on close) that the specific functions do.
  switch (H5Iget_type(id_)) {
    case H5I_FILE: H5Fclose(id_); break;
    case H5I_GROUP: H5Gclose(id_); break;
    case H5I_DATASET: H5Dclose(id_); break;
    case H5I_DATASPACE: H5Sclose(id_); break;
    case H5I_DATATYPE: H5Tclose(id_); break;
    case H5I_ATTR: H5Aclose(id_); break;
    case H5I_GENPROP_LST: H5Pclose(id_); break;
    default: H5Idec_ref(id_); break;
  }
}

Handle::Handle(Handle&& other) noexcept : id_(std::exchange(other.id_, -1)) {}

Handle& Handle::operator=(Handle&& other) noexcept {
  if (this != &other) {
    Handle old(id_);  // closes what this handle held
    id_ = std::exchange(other.id_, -1);
  }
  return *this;
}

// ---- File -----------------------------------------------------------------------------------------------------

namespace {

const char* open_call(Mode mode) {
  return (mode == Mode::read_only || mode == Mode::read_write) ? "H5Fopen" : "H5Fcreate";
}

Handle open_file(const std::string& path, Mode mode) {
  SilenceErrors quiet;
  const std::string object = "file";
  Handle fapl(detail::check_id(H5Pcreate(H5P_FILE_ACCESS), "H5Pcreate", object, path));
  // HDF5 >= 1.10.7 locks a file for its whole open life, exclusively for writers. A writer that kept that lock
  // would stop h5py from reading a run's file while the run goes on, which mesl promises (readable after every
  // flush); so mesl does not lock. Readers do not lock either: HDF5 refuses to open a file twice in one process
  // with different locking settings, and a program may read back the file it writes.
  // (The environment variable HDF5_USE_FILE_LOCKING still overrides this.)
  detail::check(H5Pset_file_locking(fapl.id(), 0, 1), "H5Pset_file_locking", object, path);
  hid_t id = -1;
  switch (mode) {
    case Mode::read_only: id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.id()); break;
    case Mode::read_write: id = H5Fopen(path.c_str(), H5F_ACC_RDWR, fapl.id()); break;
    case Mode::create_truncate: id = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.id()); break;
    case Mode::create_exclusive: id = H5Fcreate(path.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, fapl.id()); break;
  }
  if (id < 0) {
    std::string reason = detail::stack_reason();
    if (reason.empty()) reason = "the HDF5 library gave no reason";
    const bool creating = mode == Mode::create_truncate || mode == Mode::create_exclusive;
    const std::string fix = creating ? "check that the directory exists and is writable"
                                     : "check the path and that it is an HDF5 file";
    throw H5Error(std::string(open_call(mode)) + " failed on " + path + ": " + reason + "; " + fix, reason);
  }
  return Handle(id);
}

}  // namespace

File::File(const std::string& path, Mode mode) : Node(open_file(path, mode), path, "/") {}

void File::flush() const {
  SilenceErrors quiet;
  detail::check(H5Fflush(id(), H5F_SCOPE_GLOBAL), "H5Fflush", "file", path_);
}

}  // namespace mesl::h5
