// Error reporting for the HDF5 wrappers: the silencing guard and the one-line messages.
#include <string>

#include "check.h"
#include "mesl/h5/h5.h"

namespace mesl::h5 {

SilenceErrors::SilenceErrors() {
  // Remember whatever handler the program had (HDF5's default printer, or one a user installed) and restore it on
  // the way out, so that code outside mesl keeps its own behaviour.
  if (H5Eget_auto2(H5E_DEFAULT, &old_func_, &old_data_) < 0) {
    old_func_ = nullptr;
    old_data_ = nullptr;
  }
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
}

SilenceErrors::~SilenceErrors() { H5Eset_auto2(H5E_DEFAULT, old_func_, old_data_); }

namespace detail {
namespace {

// H5Ewalk2 visits the innermost entry first with H5E_WALK_UPWARD; that is where the real cause is described
// ("object 'x' doesn't exist"), the outer entries only say "unable to open dataset".
herr_t keep_innermost(unsigned n, const H5E_error2_t* entry, void* out) {
  if (n == 0 && entry->desc != nullptr) *static_cast<std::string*>(out) = entry->desc;
  return 0;
}

// One line, however HDF5 formatted its description (some embed ctime() output with its newline).
std::string one_line(std::string text) {
  for (char& c : text) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
}

}  // namespace

std::string stack_reason() {
  std::string innermost;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, keep_innermost, &innermost);
  // File-level failures quote the operating system: "... errno = 2, error message = 'No such file or directory',
  // flags = ...". The quoted part is what a user can act on.
  const std::string marker = "error message = '";
  const auto start = innermost.find(marker);
  if (start != std::string::npos) {
    const auto from = start + marker.size();
    const auto end = innermost.find('\'', from);
    if (end != std::string::npos) return one_line(innermost.substr(from, end - from));
  }
  return one_line(innermost);
}

void fail_call(const char* call, const std::string& object, const std::string& file) {
  std::string reason = stack_reason();
  if (reason.empty()) reason = "the HDF5 library gave no reason";
  throw H5Error(std::string(call) + " failed on " + object + " in " + file + ": " + reason, object + ": " + reason);
}

void fail(const std::string& object, const std::string& file, const std::string& problem) {
  throw H5Error(object + " in " + file + ": " + problem, object + " " + problem);
}

std::string join(const std::string& parent, const std::string& child) {
  if (!child.empty() && child.front() == '/') return child;
  if (parent.empty() || parent == "/") return "/" + child;
  return parent + "/" + child;
}

}  // namespace detail
}  // namespace mesl::h5
