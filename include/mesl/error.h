#pragma once
// One exception root for the whole project, one subclass per part (the HighFive pattern). The command-line
// front end turns any mesl::Error into a single line on stderr and an exit code; nothing below it calls exit().
//
// Messages are written for the user: they say what is wrong and, where there is one, the fix
// ("--keep must be in [0, 1]; got 1.5"), without a trailing period or newline.
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace mesl {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Bad options or an impossible configuration: the user's command line is at fault (exit code 2).
class ConfigError : public Error {
 public:
  using Error::Error;
};

// A codec setting that cannot work, or input the codec refuses (NaN, a signed tensor for `nonneg`).
class CodecError : public Error {
 public:
  using Error::Error;
};

// A payload that is truncated, oversized, corrupted, of another version or with an impossible header.
class PayloadError : public CodecError {
 public:
  using CodecError::CodecError;
};

// Transport failures: a rank that died or timed out, an unexpected message.
class CommError : public Error {
 public:
  using Error::Error;
};

// A missing, truncated or mislabelled dataset.
class DataError : public Error {
 public:
  using Error::Error;
};

// An unknown model or a cut that does not exist (a configuration error: exit code 2).
class ModelError : public ConfigError {
 public:
  using ConfigError::ConfigError;
};

// The metrics file could not be written, reopened or read (the HDF5 part's own failures are mesl::h5::H5Error).
class MetricsError : public Error {
 public:
  using Error::Error;
};

// A checkpoint that is missing, corrupt or does not match the configuration.
class CheckpointError : public Error {
 public:
  using Error::Error;
};

// NaN/Inf in the training loss or activations, and other failures of a running job.
class TrainError : public Error {
 public:
  using Error::Error;
};

namespace detail {
template <typename... Args>
std::string concat(Args&&... args) {
  std::ostringstream out;
  (out << ... << std::forward<Args>(args));
  return out.str();
}
}  // namespace detail

// MESL_CHECK(cond, ErrorType, "message parts", value, ...) throws ErrorType with the concatenated message.
#define MESL_CHECK(cond, ErrorType, ...)                          \
  do {                                                            \
    if (!(cond)) throw ErrorType(::mesl::detail::concat(__VA_ARGS__)); \
  } while (0)

}  // namespace mesl
