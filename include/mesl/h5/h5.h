#pragma once
// Checked RAII wrappers around the HDF5 C API (the HighFive pattern): every C call that can fail is wrapped so
// that a failure throws mesl::h5::H5Error naming the call, the object and the file; the C library's own error
// printing is silenced while mesl is in control (an RAII guard), so users see one clear line.
//
// Only what mesl needs: files, groups, attributes (string, int64, double, int64 vectors), whole n-d datasets to
// and from at::Tensor, raw uint8 blobs, and extendable 1-D column tables (see table.h).
#include <ATen/ATen.h>
#include <hdf5.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "mesl/error.h"

namespace mesl::h5 {

// The HDF5 part's error (mesl/error.h: one root, one class per part). Its users (metrics, data) read and write
// HDF5 and rephrase it for their own users where the context says more (MetricsError, DataError).
class H5Error : public Error {
 public:
  using Error::Error;
  H5Error(const std::string& message, std::string reason) : Error(message), reason_(std::move(reason)) {}
  // What went wrong, without the call and the file path: the C library's explanation ("No such file or
  // directory") or mesl's own finding ("table '/steps' holds columns ..."), so that a caller can rephrase the
  // error for its user (RunWriter: "cannot write metrics file PATH: REASON").
  const std::string& reason() const { return reason_; }

 private:
  std::string reason_;
};

// Owns one hid_t and closes it with the right H5*close function.
class Handle {
 public:
  Handle() = default;
  explicit Handle(hid_t id);
  ~Handle();
  Handle(Handle&& other) noexcept;
  Handle& operator=(Handle&& other) noexcept;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  hid_t id() const { return id_; }
  bool valid() const { return id_ >= 0; }

 private:
  hid_t id_ = -1;
};

enum class Mode { read_only, read_write, create_truncate, create_exclusive };

class Group;

// A location that can hold groups, datasets and attributes: a file or a group.
class Node {
 public:
  hid_t id() const { return handle_.id(); }
  const std::string& file_path() const { return path_; }
  const std::string& name() const { return name_; }

  bool has_child(const std::string& name) const;
  Group group(const std::string& name) const;          // opens; H5Error if missing
  Group create_group(const std::string& name) const;   // creates; H5Error if present

  bool has_attribute(const std::string& name) const;
  void set_attribute(const std::string& name, const std::string& value) const;  // replaces if present
  void set_attribute(const std::string& name, int64_t value) const;
  void set_attribute(const std::string& name, double value) const;
  void set_attribute(const std::string& name, const std::vector<int64_t>& value) const;
  std::string string_attribute(const std::string& name) const;
  int64_t int_attribute(const std::string& name) const;
  double double_attribute(const std::string& name) const;
  std::vector<int64_t> int_vector_attribute(const std::string& name) const;

  // Whole datasets. read_tensor accepts any integer or floating dataset and returns a tensor of the matching
  // dtype and shape; write_tensor writes a contiguous copy (replacing an existing dataset of that name).
  // Tensor dtypes: uint8, int8, int16, int32, int64, float16, float32, float64 (bool and bfloat16 tensors must be
  // converted first); uint16 and uint32 datasets read as int32 and int64, uint64 datasets are refused. Rank-0
  // tensors are stored as scalar datasets, and 0-size shapes work. Names may contain '/': missing parent groups
  // are created.
  at::Tensor read_tensor(const std::string& dataset) const;
  void write_tensor(const std::string& dataset, const at::Tensor& tensor) const;
  std::vector<uint8_t> read_bytes(const std::string& dataset) const;       // 1-D uint8
  void write_bytes(const std::string& dataset, const std::vector<uint8_t>& bytes) const;
  std::vector<int64_t> dataset_shape(const std::string& dataset) const;
  // 1-D variable-length UTF-8 string datasets (h5py reads them as bytes or str).
  void write_strings(const std::string& dataset, const std::vector<std::string>& values) const;
  std::vector<std::string> read_strings(const std::string& dataset) const;

 protected:
  Node(Handle handle, std::string path, std::string name);
  Handle handle_;
  std::string path_;
  std::string name_;
};

class Group : public Node {
 public:
  using Node::Node;

 private:
  friend class Node;  // Node::group() and create_group() construct groups through the protected constructor
};

class File : public Node {
 public:
  // Opens or creates `path`. Errors name the path and the fix ("cannot create ...: No such file or directory").
  File(const std::string& path, Mode mode);
  void flush() const;  // H5Fflush: readers see everything written so far
};

// Silences HDF5's automatic error printing for its lifetime (restores the previous handler after).
class SilenceErrors {
 public:
  SilenceErrors();
  ~SilenceErrors();
  SilenceErrors(const SilenceErrors&) = delete;
  SilenceErrors& operator=(const SilenceErrors&) = delete;

 private:
  H5E_auto2_t old_func_ = nullptr;
  void* old_data_ = nullptr;
};

}  // namespace mesl::h5
