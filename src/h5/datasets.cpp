// Whole datasets: tensors, byte blobs and string lists.
#include <string>
#include <utility>
#include <vector>

#include "check.h"
#include "mesl/h5/h5.h"
#include "types.h"

namespace mesl::h5 {
namespace {

using detail::check;
using detail::check_id;
using detail::quoted;
using detail::Where;

Where dataset_where(const Node& node, const std::string& name) {
  return {"dataset " + quoted(detail::join(node.name(), name)), node.file_path()};
}

Handle open_dataset(const Node& node, const std::string& name, const Where& where) {
  return Handle(check_id(H5Dopen2(node.id(), name.c_str(), H5P_DEFAULT), "H5Dopen2", where.object, where.file));
}

// Creates `name` (and any missing parent groups), replacing a dataset of that name. Anything else of that name
// (a group with its contents) is left alone: deleting it by accident would lose data.
Handle create_dataset(const Node& node, const std::string& name, hid_t type, hid_t space, const Where& where) {
  if (node.has_child(name)) {
    Handle existing(check_id(H5Oopen(node.id(), name.c_str(), H5P_DEFAULT), "H5Oopen", where.object, where.file));
    if (H5Iget_type(existing.id()) != H5I_DATASET) {
      detail::fail(where.object, where.file, "the name is taken by another kind of object; choose another name");
    }
    check(H5Ldelete(node.id(), name.c_str(), H5P_DEFAULT), "H5Ldelete", where.object, where.file);
  }
  Handle links(check_id(H5Pcreate(H5P_LINK_CREATE), "H5Pcreate", where.object, where.file));
  check(H5Pset_create_intermediate_group(links.id(), 1), "H5Pset_create_intermediate_group", where.object,
        where.file);
  check(H5Pset_char_encoding(links.id(), H5T_CSET_UTF8), "H5Pset_char_encoding", where.object, where.file);
  return Handle(check_id(H5Dcreate2(node.id(), name.c_str(), type, space, links.id(), H5P_DEFAULT, H5P_DEFAULT),
                         "H5Dcreate2", where.object, where.file));
}

struct Opened {
  Handle dataset;
  Handle type;
  Handle space;
};

Opened open_with_type_and_space(const Node& node, const std::string& name, const Where& where) {
  Opened opened{open_dataset(node, name, where), Handle(), Handle()};
  opened.type = Handle(check_id(H5Dget_type(opened.dataset.id()), "H5Dget_type", where.object, where.file));
  opened.space = Handle(check_id(H5Dget_space(opened.dataset.id()), "H5Dget_space", where.object, where.file));
  return opened;
}

}  // namespace

// ---- tensors --------------------------------------------------------------------------------------------------

at::Tensor Node::read_tensor(const std::string& dataset) const {
  SilenceErrors quiet;
  const Where where = dataset_where(*this, dataset);
  Opened opened = open_with_type_and_space(*this, dataset, where);
  const at::ScalarType dtype = detail::dtype_for(opened.type.id(), where);
  const std::vector<int64_t> shape = detail::shape_of(opened.space.id(), where);
  at::Tensor tensor = at::empty(shape, at::TensorOptions().dtype(dtype));
  if (tensor.numel() > 0) {
    // HDF5 converts from the stored byte order (and, for unsigned 16/32-bit data, widens) while reading.
    Handle memory = detail::memory_type(dtype, where);
    check(H5Dread(opened.dataset.id(), memory.id(), H5S_ALL, H5S_ALL, H5P_DEFAULT, tensor.data_ptr()), "H5Dread",
          where.object, where.file);
  }
  return tensor;
}

void Node::write_tensor(const std::string& dataset, const at::Tensor& tensor) const {
  SilenceErrors quiet;
  const Where where = dataset_where(*this, dataset);
  if (!tensor.defined()) detail::fail(where.object, where.file, "the tensor to write is undefined");
  // Types first: an unsupported dtype must fail before an existing dataset is deleted.
  Handle stored = detail::stored_type(tensor.scalar_type(), where);
  Handle memory = detail::memory_type(tensor.scalar_type(), where);
  const at::Tensor data = tensor.to(at::kCPU).contiguous();
  Handle space = detail::space_for(data.sizes().vec(), where);
  Handle created = create_dataset(*this, dataset, stored.id(), space.id(), where);
  if (data.numel() > 0) {
    check(H5Dwrite(created.id(), memory.id(), H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data_ptr()), "H5Dwrite",
          where.object, where.file);
  }
}

std::vector<int64_t> Node::dataset_shape(const std::string& dataset) const {
  SilenceErrors quiet;
  const Where where = dataset_where(*this, dataset);
  Handle opened = open_dataset(*this, dataset, where);
  Handle space(check_id(H5Dget_space(opened.id()), "H5Dget_space", where.object, where.file));
  return detail::shape_of(space.id(), where);
}

// ---- bytes ----------------------------------------------------------------------------------------------------

std::vector<uint8_t> Node::read_bytes(const std::string& dataset) const {
  SilenceErrors quiet;
  const Where where = dataset_where(*this, dataset);
  Opened opened = open_with_type_and_space(*this, dataset, where);
  const bool bytes = H5Tget_class(opened.type.id()) == H5T_INTEGER && H5Tget_size(opened.type.id()) == 1 &&
                     H5Tget_sign(opened.type.id()) == H5T_SGN_NONE;
  if (!bytes) detail::fail(where.object, where.file, "is not a uint8 dataset");
  const std::vector<int64_t> shape = detail::shape_of(opened.space.id(), where);
  if (shape.size() != 1) {
    detail::fail(where.object, where.file, "has " + std::to_string(shape.size()) + " dimensions; expected 1");
  }
  std::vector<uint8_t> values(static_cast<size_t>(shape[0]));
  if (!values.empty()) {
    check(H5Dread(opened.dataset.id(), H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), "H5Dread",
          where.object, where.file);
  }
  return values;
}

void Node::write_bytes(const std::string& dataset, const std::vector<uint8_t>& bytes) const {
  SilenceErrors quiet;
  const Where where = dataset_where(*this, dataset);
  Handle space = detail::space_for({static_cast<int64_t>(bytes.size())}, where);
  Handle created = create_dataset(*this, dataset, H5T_STD_U8LE, space.id(), where);
  if (!bytes.empty()) {
    check(H5Dwrite(created.id(), H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, bytes.data()), "H5Dwrite",
          where.object, where.file);
  }
}

// ---- strings --------------------------------------------------------------------------------------------------

void Node::write_strings(const std::string& dataset, const std::vector<std::string>& values) const {
  SilenceErrors quiet;
  const Where where = dataset_where(*this, dataset);
  std::vector<const char*> pointers;
  pointers.reserve(values.size());
  for (const std::string& value : values) {
    detail::check_storable(value, where);
    pointers.push_back(value.c_str());
  }
  Handle type = detail::vlen_utf8_type(where);
  Handle space = detail::space_for({static_cast<int64_t>(values.size())}, where);
  Handle created = create_dataset(*this, dataset, type.id(), space.id(), where);
  if (!values.empty()) {
    check(H5Dwrite(created.id(), type.id(), H5S_ALL, H5S_ALL, H5P_DEFAULT, pointers.data()), "H5Dwrite",
          where.object, where.file);
  }
}

std::vector<std::string> Node::read_strings(const std::string& dataset) const {
  SilenceErrors quiet;
  const Where where = dataset_where(*this, dataset);
  Opened opened = open_with_type_and_space(*this, dataset, where);
  const hid_t id_of_dataset = opened.dataset.id();
  return detail::read_string_values(opened.type.id(), opened.space.id(), where, "H5Dread",
                                    [id_of_dataset](hid_t memory_type, void* buffer) {
                                      return H5Dread(id_of_dataset, memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                                                     buffer);
                                    });
}

}  // namespace mesl::h5
