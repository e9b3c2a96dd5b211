// Nodes (files and groups): their children and their attributes.
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

Where attribute_where(const Node& node, const std::string& name) {
  return {"attribute " + quoted(name) + " of " + quoted(node.name()), node.file_path()};
}

// Attribute names are UTF-8, so that h5py shows non-ASCII names as written.
Handle attribute_create_plist(const Where& where) {
  Handle plist(check_id(H5Pcreate(H5P_ATTRIBUTE_CREATE), "H5Pcreate", where.object, where.file));
  check(H5Pset_char_encoding(plist.id(), H5T_CSET_UTF8), "H5Pset_char_encoding", where.object, where.file);
  return plist;
}

// Creates the attribute, deleting an existing one of that name first: its type or shape may differ, which
// H5Awrite could not change.
Handle create_attribute(const Node& node, const std::string& name, hid_t type, hid_t space, const Where& where) {
  if (detail::check_tri(H5Aexists(node.id(), name.c_str()), "H5Aexists", where.object, where.file)) {
    check(H5Adelete(node.id(), name.c_str()), "H5Adelete", where.object, where.file);
  }
  Handle plist = attribute_create_plist(where);
  return Handle(check_id(H5Acreate2(node.id(), name.c_str(), type, space, plist.id(), H5P_DEFAULT), "H5Acreate2",
                         where.object, where.file));
}

template <typename T>
void write_numbers(const Node& node, const std::string& name, hid_t stored, hid_t in_memory,
                   const std::vector<int64_t>& shape, const T* values) {
  SilenceErrors quiet;
  const Where where = attribute_where(node, name);
  Handle space = detail::space_for(shape, where);
  Handle attribute = create_attribute(node, name, stored, space.id(), where);
  const bool empty = !shape.empty() && shape[0] == 0;
  if (!empty) check(H5Awrite(attribute.id(), in_memory, values), "H5Awrite", where.object, where.file);
}

// Reads every value of a numeric attribute, converted by HDF5 to `in_memory`. Integer attributes must be stored
// as integers; floating-point reads also accept integers (HDF5 converts them exactly up to 2^53).
template <typename T>
std::vector<T> read_numbers(const Node& node, const std::string& name, hid_t in_memory, bool accept_integers_only) {
  SilenceErrors quiet;
  const Where where = attribute_where(node, name);
  Handle attribute(check_id(H5Aopen(node.id(), name.c_str(), H5P_DEFAULT), "H5Aopen", where.object, where.file));
  Handle stored(check_id(H5Aget_type(attribute.id()), "H5Aget_type", where.object, where.file));
  const H5T_class_t type_class = H5Tget_class(stored.id());
  const bool ok = type_class == H5T_INTEGER || (!accept_integers_only && type_class == H5T_FLOAT);
  if (!ok) {
    detail::fail(where.object, where.file,
                 accept_integers_only ? "is not an integer attribute" : "is not a numeric attribute");
  }
  Handle space(check_id(H5Aget_space(attribute.id()), "H5Aget_space", where.object, where.file));
  const hssize_t points = H5Sget_simple_extent_npoints(space.id());
  if (points < 0) detail::fail_call("H5Sget_simple_extent_npoints", where.object, where.file);
  std::vector<T> values(static_cast<size_t>(points));
  if (!values.empty()) {
    check(H5Aread(attribute.id(), in_memory, values.data()), "H5Aread", where.object, where.file);
  }
  return values;
}

template <typename T>
T single(std::vector<T> values, const Node& node, const std::string& name) {
  if (values.size() != 1) {
    const Where where = attribute_where(node, name);
    detail::fail(where.object, where.file, "holds " + std::to_string(values.size()) + " values; expected one");
  }
  return values.front();
}

}  // namespace

Node::Node(Handle handle, std::string path, std::string name)
    : handle_(std::move(handle)), path_(std::move(path)), name_(std::move(name)) {}

// ---- children -------------------------------------------------------------------------------------------------

bool Node::has_child(const std::string& name) const {
  SilenceErrors quiet;
  if (name.empty()) return false;
  // H5Lexists fails rather than answering "no" when an intermediate group is missing, so walk the path one
  // component at a time ("a", "a/b", ...).
  std::string prefix = name.front() == '/' ? "/" : "";
  size_t start = prefix.size();
  while (start <= name.size()) {
    size_t end = name.find('/', start);
    if (end == std::string::npos) end = name.size();
    if (end > start) {
      if (!prefix.empty() && prefix.back() != '/') prefix += '/';
      prefix += name.substr(start, end - start);
      const htri_t exists = H5Lexists(id(), prefix.c_str(), H5P_DEFAULT);
      // A negative answer below the first component means a parent is not a group: no such child either.
      if (exists <= 0) return false;
    }
    start = end + 1;
  }
  return true;
}

Group Node::group(const std::string& name) const {
  SilenceErrors quiet;
  const std::string full = detail::join(name_, name);
  Handle id_of_group(check_id(H5Gopen2(id(), name.c_str(), H5P_DEFAULT), "H5Gopen2", quoted(full), path_));
  return Group(std::move(id_of_group), path_, full);
}

Group Node::create_group(const std::string& name) const {
  SilenceErrors quiet;
  const std::string full = detail::join(name_, name);
  Handle links(check_id(H5Pcreate(H5P_LINK_CREATE), "H5Pcreate", quoted(full), path_));
  check(H5Pset_create_intermediate_group(links.id(), 1), "H5Pset_create_intermediate_group", quoted(full), path_);
  check(H5Pset_char_encoding(links.id(), H5T_CSET_UTF8), "H5Pset_char_encoding", quoted(full), path_);
  Handle created(check_id(H5Gcreate2(id(), name.c_str(), links.id(), H5P_DEFAULT, H5P_DEFAULT), "H5Gcreate2",
                          quoted(full), path_));
  return Group(std::move(created), path_, full);
}

// ---- attributes -----------------------------------------------------------------------------------------------

bool Node::has_attribute(const std::string& name) const {
  SilenceErrors quiet;
  const Where where = attribute_where(*this, name);
  return detail::check_tri(H5Aexists(id(), name.c_str()), "H5Aexists", where.object, where.file);
}

void Node::set_attribute(const std::string& name, const std::string& value) const {
  SilenceErrors quiet;
  const Where where = attribute_where(*this, name);
  detail::check_storable(value, where);
  Handle type = detail::vlen_utf8_type(where);
  Handle space = detail::space_for({}, where);
  Handle attribute = create_attribute(*this, name, type.id(), space.id(), where);
  const char* data = value.c_str();
  check(H5Awrite(attribute.id(), type.id(), &data), "H5Awrite", where.object, where.file);
}

void Node::set_attribute(const std::string& name, int64_t value) const {
  write_numbers(*this, name, H5T_STD_I64LE, H5T_NATIVE_INT64, {}, &value);
}

void Node::set_attribute(const std::string& name, double value) const {
  write_numbers(*this, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {}, &value);
}

void Node::set_attribute(const std::string& name, const std::vector<int64_t>& value) const {
  write_numbers(*this, name, H5T_STD_I64LE, H5T_NATIVE_INT64, {static_cast<int64_t>(value.size())}, value.data());
}

std::string Node::string_attribute(const std::string& name) const {
  SilenceErrors quiet;
  const Where where = attribute_where(*this, name);
  Handle attribute(check_id(H5Aopen(id(), name.c_str(), H5P_DEFAULT), "H5Aopen", where.object, where.file));
  Handle stored(check_id(H5Aget_type(attribute.id()), "H5Aget_type", where.object, where.file));
  Handle space(check_id(H5Aget_space(attribute.id()), "H5Aget_space", where.object, where.file));
  auto values = detail::read_string_values(stored.id(), space.id(), where, "H5Aread",
                                           [&](hid_t memory_type, void* buffer) {
                                             return H5Aread(attribute.id(), memory_type, buffer);
                                           });
  return single(std::move(values), *this, name);
}

int64_t Node::int_attribute(const std::string& name) const {
  return single(read_numbers<int64_t>(*this, name, H5T_NATIVE_INT64, true), *this, name);
}

double Node::double_attribute(const std::string& name) const {
  return single(read_numbers<double>(*this, name, H5T_NATIVE_DOUBLE, false), *this, name);
}

std::vector<int64_t> Node::int_vector_attribute(const std::string& name) const {
  return read_numbers<int64_t>(*this, name, H5T_NATIVE_INT64, true);
}

}  // namespace mesl::h5
