#pragma once
// Private to mesl_h5: turning a failed HDF5 C call into one H5Error line.
//
// HDF5 reports a failure as a negative return value plus an error stack (innermost function first). The stack is
// only valid until the next API call, so the helpers here read it at once, before any handle is closed.
#include <hdf5.h>

#include <string>

#include "mesl/h5/h5.h"

namespace mesl::h5::detail {

// The most specific explanation on the current error stack: the innermost entry's description, or the system's
// message when HDF5 quotes one ("No such file or directory"). Empty when the stack is empty.
std::string stack_reason();

// Throws H5Error "CALL failed on OBJECT in FILE: REASON", REASON taken from the error stack.
[[noreturn]] void fail_call(const char* call, const std::string& object, const std::string& file);

// Throws H5Error "OBJECT in FILE: PROBLEM" for problems mesl finds itself (a wrong type, a wrong shape).
[[noreturn]] void fail(const std::string& object, const std::string& file, const std::string& problem);

// Returns `id` when it is valid, else fails as above.
inline hid_t check_id(hid_t id, const char* call, const std::string& object, const std::string& file) {
  if (id < 0) fail_call(call, object, file);
  return id;
}

inline void check(herr_t status, const char* call, const std::string& object, const std::string& file) {
  if (status < 0) fail_call(call, object, file);
}

// H5Lexists and friends return a tri-state htri_t: negative on failure.
inline bool check_tri(htri_t value, const char* call, const std::string& object, const std::string& file) {
  if (value < 0) fail_call(call, object, file);
  return value > 0;
}

// The path of `child` below the node called `parent` ("/" + "steps" -> "/steps"); absolute children stay as given.
std::string join(const std::string& parent, const std::string& child);

// How an object is named in messages: '/steps/loss'.
inline std::string quoted(const std::string& name) { return "'" + name + "'"; }

}  // namespace mesl::h5::detail
