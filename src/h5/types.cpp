// Mapping between HDF5 datatypes and tensor dtypes, strings and shapes.
#include "types.h"

#include <string>
#include <vector>

#include "check.h"

namespace mesl::h5::detail {
namespace {

const char* class_name(H5T_class_t type_class) {
  switch (type_class) {
    case H5T_INTEGER: return "integers";
    case H5T_FLOAT: return "floating-point numbers";
    case H5T_STRING: return "strings";
    case H5T_BITFIELD: return "bitfields";
    case H5T_OPAQUE: return "opaque data";
    case H5T_COMPOUND: return "compound records";
    case H5T_REFERENCE: return "references";
    case H5T_ENUM: return "enumerations";
    case H5T_VLEN: return "variable-length sequences";
    case H5T_ARRAY: return "arrays";
    default: return "an unknown datatype";
  }
}

const char* kSupported = "uint8, int8, int16, int32, int64, float16, float32 or float64";

// IEEE binary16 built from a 32-bit float type (HDF5 1.10 has no predefined half type). The field layout is the
// standard one (sign bit 15, 5 exponent bits from bit 10 with bias 15, 10 mantissa bits), which h5py and NumPy
// read as float16.
Handle half_type(hid_t float32_base, const Where& where) {
  Handle type(check_id(H5Tcopy(float32_base), "H5Tcopy", where.object, where.file));
  check(H5Tset_fields(type.id(), 15, 10, 5, 0, 10), "H5Tset_fields", where.object, where.file);
  check(H5Tset_size(type.id(), 2), "H5Tset_size", where.object, where.file);
  check(H5Tset_ebias(type.id(), 15), "H5Tset_ebias", where.object, where.file);
  return type;
}

Handle copy_of(hid_t predefined, const Where& where) {
  return Handle(check_id(H5Tcopy(predefined), "H5Tcopy", where.object, where.file));
}

[[noreturn]] void unsupported_dtype(at::ScalarType dtype, const Where& where) {
  fail(where.object, where.file,
       std::string("tensors of dtype ") + c10::toString(dtype) + " cannot be stored; convert to " + kSupported +
           " first");
}

// Frees what the library allocated for variable-length strings read into `buffer`.
void reclaim(hid_t memory_type, hid_t space, void* buffer) {
#if H5_VERSION_GE(1, 12, 0)
  H5Treclaim(memory_type, space, H5P_DEFAULT, buffer);
#else
  H5Dvlen_reclaim(memory_type, space, H5P_DEFAULT, buffer);
#endif
}

}  // namespace

at::ScalarType dtype_for(hid_t stored, const Where& where) {
  const H5T_class_t type_class = H5Tget_class(stored);
  if (type_class < 0) fail_call("H5Tget_class", where.object, where.file);
  const size_t size = H5Tget_size(stored);
  if (size == 0) fail_call("H5Tget_size", where.object, where.file);
  if (type_class == H5T_INTEGER) {
    const H5T_sign_t sign = H5Tget_sign(stored);
    if (sign < 0) fail_call("H5Tget_sign", where.object, where.file);
    const bool is_signed = sign == H5T_SGN_2;
    // LibTorch 1.13 has no unsigned types wider than a byte: the next wider signed type holds every value.
    switch (size) {
      case 1: return is_signed ? at::kChar : at::kByte;
      case 2: return is_signed ? at::kShort : at::kInt;
      case 4: return is_signed ? at::kInt : at::kLong;
      case 8:
        if (is_signed) return at::kLong;
        fail(where.object, where.file, "holds uint64 values, which no tensor dtype holds exactly; store int64");
      default: break;
    }
    fail(where.object, where.file, "holds " + std::to_string(size) + "-byte integers; read_tensor reads " + kSupported);
  }
  if (type_class == H5T_FLOAT) {
    switch (size) {
      case 2: return at::kHalf;
      case 4: return at::kFloat;
      case 8: return at::kDouble;
      default: break;
    }
    fail(where.object, where.file,
         "holds " + std::to_string(size) + "-byte floating-point numbers; read_tensor reads " + kSupported);
  }
  fail(where.object, where.file,
       std::string("holds ") + class_name(type_class) + "; read_tensor reads " + kSupported + " datasets");
}

Handle memory_type(at::ScalarType dtype, const Where& where) {
  switch (dtype) {
    case at::kByte: return copy_of(H5T_NATIVE_UINT8, where);
    case at::kChar: return copy_of(H5T_NATIVE_INT8, where);
    case at::kShort: return copy_of(H5T_NATIVE_INT16, where);
    case at::kInt: return copy_of(H5T_NATIVE_INT32, where);
    case at::kLong: return copy_of(H5T_NATIVE_INT64, where);
    case at::kHalf: return half_type(H5T_NATIVE_FLOAT, where);
    case at::kFloat: return copy_of(H5T_NATIVE_FLOAT, where);
    case at::kDouble: return copy_of(H5T_NATIVE_DOUBLE, where);
    default: unsupported_dtype(dtype, where);
  }
}

Handle stored_type(at::ScalarType dtype, const Where& where) {
  switch (dtype) {
    case at::kByte: return copy_of(H5T_STD_U8LE, where);
    case at::kChar: return copy_of(H5T_STD_I8LE, where);
    case at::kShort: return copy_of(H5T_STD_I16LE, where);
    case at::kInt: return copy_of(H5T_STD_I32LE, where);
    case at::kLong: return copy_of(H5T_STD_I64LE, where);
    case at::kHalf: return half_type(H5T_IEEE_F32LE, where);
    case at::kFloat: return copy_of(H5T_IEEE_F32LE, where);
    case at::kDouble: return copy_of(H5T_IEEE_F64LE, where);
    default: unsupported_dtype(dtype, where);
  }
}

Handle vlen_utf8_type(const Where& where) {
  Handle type = copy_of(H5T_C_S1, where);
  check(H5Tset_size(type.id(), H5T_VARIABLE), "H5Tset_size", where.object, where.file);
  check(H5Tset_cset(type.id(), H5T_CSET_UTF8), "H5Tset_cset", where.object, where.file);
  return type;
}

Handle space_for(const std::vector<int64_t>& shape, const Where& where) {
  if (shape.empty()) return Handle(check_id(H5Screate(H5S_SCALAR), "H5Screate", where.object, where.file));
  const std::vector<hsize_t> dims(shape.begin(), shape.end());
  return Handle(check_id(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), "H5Screate_simple",
                         where.object, where.file));
}

std::vector<int64_t> shape_of(hid_t space, const Where& where) {
  const H5S_class_t space_class = H5Sget_simple_extent_type(space);
  if (space_class == H5S_NO_CLASS) fail_call("H5Sget_simple_extent_type", where.object, where.file);
  if (space_class == H5S_SCALAR) return {};
  if (space_class == H5S_NULL) return {0};
  const int rank = H5Sget_simple_extent_ndims(space);
  if (rank < 0) fail_call("H5Sget_simple_extent_ndims", where.object, where.file);
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  if (rank > 0 && H5Sget_simple_extent_dims(space, dims.data(), nullptr) < 0) {
    fail_call("H5Sget_simple_extent_dims", where.object, where.file);
  }
  return std::vector<int64_t>(dims.begin(), dims.end());
}

std::vector<std::string> read_string_values(hid_t stored, hid_t space, const Where& where, const char* call,
                                            const ReadFn& read) {
  const H5T_class_t type_class = H5Tget_class(stored);
  if (type_class != H5T_STRING) {
    fail(where.object, where.file, std::string("holds ") + class_name(type_class) + ", not strings");
  }
  const hssize_t points = H5Sget_simple_extent_npoints(space);
  if (points < 0) fail_call("H5Sget_simple_extent_npoints", where.object, where.file);
  const auto count = static_cast<size_t>(points);
  std::vector<std::string> values;
  values.reserve(count);
  if (count == 0) return values;

  const H5T_cset_t cset = H5Tget_cset(stored);
  const htri_t variable = H5Tis_variable_str(stored);
  if (variable < 0) fail_call("H5Tis_variable_str", where.object, where.file);
  Handle memory = copy_of(H5T_C_S1, where);
  check(H5Tset_cset(memory.id(), cset), "H5Tset_cset", where.object, where.file);

  if (variable > 0) {
    check(H5Tset_size(memory.id(), H5T_VARIABLE), "H5Tset_size", where.object, where.file);
    std::vector<char*> buffer(count, nullptr);
    check(read(memory.id(), buffer.data()), call, where.object, where.file);
    for (const char* value : buffer) values.emplace_back(value == nullptr ? "" : value);
    reclaim(memory.id(), space, buffer.data());
    return values;
  }

  // Fixed-length strings (as NumPy's bytes_ arrays are stored): `size` bytes each, padded with NULs or spaces.
  const size_t size = H5Tget_size(stored);
  const H5T_str_t pad = H5Tget_strpad(stored);
  check(H5Tset_size(memory.id(), size), "H5Tset_size", where.object, where.file);
  check(H5Tset_strpad(memory.id(), pad), "H5Tset_strpad", where.object, where.file);
  std::vector<char> buffer(count * size);
  check(read(memory.id(), buffer.data()), call, where.object, where.file);
  for (size_t i = 0; i < count; ++i) {
    std::string value(buffer.data() + i * size, size);
    if (pad == H5T_STR_SPACEPAD) {
      value.erase(value.find_last_not_of(' ') + 1);
    } else {
      const auto end = value.find('\0');
      if (end != std::string::npos) value.resize(end);
    }
    values.push_back(std::move(value));
  }
  return values;
}

void check_storable(const std::string& value, const Where& where) {
  const auto nul = value.find('\0');
  if (nul != std::string::npos) {
    fail(where.object, where.file,
         "string holds a NUL byte at position " + std::to_string(nul) + ", where HDF5 strings end; remove it");
  }
}

}  // namespace mesl::h5::detail
