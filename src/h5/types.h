#pragma once
// Private to mesl_h5: HDF5 datatypes for tensors and strings, and the dataspaces for shapes.
#include <ATen/ATen.h>
#include <hdf5.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "mesl/h5/h5.h"

namespace mesl::h5::detail {

// Where a datatype is used, for error messages.
struct Where {
  std::string object;
  std::string file;
};

// The dtype read_tensor returns for a stored type; H5Error for types with no tensor counterpart.
at::ScalarType dtype_for(hid_t stored_type, const Where& where);
// The in-memory type of a dtype (native byte order) and the type it is stored as (little-endian, as h5py writes).
Handle memory_type(at::ScalarType dtype, const Where& where);
Handle stored_type(at::ScalarType dtype, const Where& where);

// Variable-length UTF-8 strings: what h5py reads as str (attributes) or as bytes/str (datasets).
Handle vlen_utf8_type(const Where& where);

// A dataspace for `shape`: scalar for rank 0, simple otherwise (0-size dimensions included).
Handle space_for(const std::vector<int64_t>& shape, const Where& where);
// The shape of a dataspace: {} for a scalar, {0} for an empty (null) dataspace.
std::vector<int64_t> shape_of(hid_t space, const Where& where);

// Reads the strings of a dataset or attribute of any HDF5 string type (variable or fixed length). `read` does the
// H5Dread/H5Aread of all values into a buffer with the memory type it is given; `call` names it in errors.
using ReadFn = std::function<herr_t(hid_t memory_type, void* buffer)>;
std::vector<std::string> read_string_values(hid_t stored, hid_t space, const Where& where, const char* call,
                                            const ReadFn& read);

// Throws when a value cannot be stored as a C string (HDF5 strings end at the first NUL byte).
void check_storable(const std::string& value, const Where& where);

}  // namespace mesl::h5::detail
