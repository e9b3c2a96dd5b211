// Whole datasets: tensors of every dtype and shape, byte blobs and string lists, written and read back.
#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "mesl/h5/h5.h"
#include "../common/temp_dir.h"

namespace {

using mesl::h5::File;
using mesl::h5::H5Error;
using mesl::h5::Mode;

const std::vector<at::ScalarType> kDtypes = {at::kByte, at::kChar,  at::kShort, at::kInt,
                                             at::kLong, at::kHalf,  at::kFloat, at::kDouble};
const std::vector<std::vector<int64_t>> kShapes = {{0}, {1}, {7}, {3, 5}, {2, 0, 4}, {2, 3, 4, 5}, {}};

// Values that use the dtype's whole range, with its extremes where there is room for them.
at::Tensor sample(at::ScalarType dtype, const std::vector<int64_t>& shape) {
  if (at::isFloatingType(dtype)) return at::randn(shape, at::kDouble).mul_(1000).to(dtype);
  int64_t low = 0, high = 0;
  switch (dtype) {
    case at::kByte: low = 0, high = 255; break;
    case at::kChar: low = -128, high = 127; break;
    case at::kShort: low = -32768, high = 32767; break;
    case at::kInt: low = std::numeric_limits<int32_t>::min(), high = std::numeric_limits<int32_t>::max(); break;
    default: low = -(int64_t{1} << 62), high = int64_t{1} << 62; break;
  }
  at::Tensor values = at::randint(low, high, shape, at::TensorOptions().dtype(dtype));
  at::Tensor flat = values.view({-1});
  if (flat.numel() >= 2) {
    const bool wide = dtype == at::kLong;
    flat[0] = wide ? std::numeric_limits<int64_t>::min() : low;
    flat[1] = wide ? std::numeric_limits<int64_t>::max() : high;
  }
  return values;
}

// doctest prints strings but not ScalarType, so dtypes are compared by name.
std::string dtype_name(const at::Tensor& tensor) { return c10::toString(tensor.scalar_type()); }

std::string dataset_name(at::ScalarType dtype, size_t shape_index) {
  return std::string("t_") + c10::toString(dtype) + "_" + std::to_string(shape_index);
}

}  // namespace

TEST_CASE("tensors of every dtype and shape round-trip with their dtype and shape") {
  mesl::testing::TempDir dir;
  const std::string path = dir.file("tensors.h5");
  at::manual_seed(7);
  std::vector<at::Tensor> written;
  {
    File file(path, Mode::create_truncate);
    for (const at::ScalarType dtype : kDtypes) {
      for (size_t s = 0; s < kShapes.size(); ++s) {
        written.push_back(sample(dtype, kShapes[s]));
        file.write_tensor(dataset_name(dtype, s), written.back());
      }
    }
  }
  const File file(path, Mode::read_only);
  size_t i = 0;
  for (const at::ScalarType dtype : kDtypes) {
    for (size_t s = 0; s < kShapes.size(); ++s, ++i) {
      CAPTURE(dataset_name(dtype, s));
      const at::Tensor read = file.read_tensor(dataset_name(dtype, s));
      CHECK(dtype_name(read) == c10::toString(dtype));
      CHECK(read.sizes().vec() == kShapes[s]);
      CHECK(file.dataset_shape(dataset_name(dtype, s)) == kShapes[s]);
      CHECK(at::equal(read, written[i]));
    }
  }
}

TEST_CASE("write_tensor writes the logical values of non-contiguous tensors") {
  mesl::testing::TempDir dir;
  const File file(dir.file("views.h5"), Mode::create_truncate);
  const at::Tensor base = at::arange(24, at::kFloat).reshape({4, 6});
  const at::Tensor transposed = base.t();         // 6 x 4, strided
  const at::Tensor sliced = base.slice(1, 1, 6, 2);  // every other column
  file.write_tensor("transposed", transposed);
  file.write_tensor("sliced", sliced);
  CHECK(at::equal(file.read_tensor("transposed"), transposed.contiguous()));
  CHECK(at::equal(file.read_tensor("sliced"), sliced.contiguous()));
  CHECK(file.dataset_shape("transposed") == std::vector<int64_t>{6, 4});
}

TEST_CASE("write_tensor replaces a dataset, creates parent groups and refuses unsupported dtypes") {
  mesl::testing::TempDir dir;
  const File file(dir.file("replace.h5"), Mode::create_truncate);
  file.write_tensor("x", at::ones({5}, at::kFloat));
  file.write_tensor("x", at::arange(6, at::kLong).reshape({2, 3}));
  const at::Tensor x = file.read_tensor("x");
  CHECK(dtype_name(x) == c10::toString(at::kLong));
  CHECK(at::equal(x, at::arange(6, at::kLong).reshape({2, 3})));

  file.write_tensor("a/b/c", at::full({3}, 2.5, at::kDouble));
  CHECK(file.has_child("a"));
  CHECK(file.has_child("a/b/c"));
  CHECK_FALSE(file.has_child("a/x/c"));
  CHECK_FALSE(file.has_child("a/b/c/d"));  // c is a dataset, not a group
  CHECK(at::equal(file.group("a").group("b").read_tensor("c"), at::full({3}, 2.5, at::kDouble)));

  // A dtype with no HDF5 counterpart here fails before anything is deleted.
  CHECK_THROWS_AS(file.write_tensor("x", at::ones({2}, at::kBool)), H5Error);
  CHECK(at::equal(file.read_tensor("x"), at::arange(6, at::kLong).reshape({2, 3})));
  // A group is never replaced by a dataset.
  CHECK_THROWS_AS(file.write_tensor("a", at::ones({2})), H5Error);
  CHECK(file.has_child("a/b/c"));
}

TEST_CASE("read_tensor converts datasets of other byte orders and unsigned types") {
  mesl::testing::TempDir dir;
  const std::string path = dir.file("foreign.h5");
  {
    // Written with the C API, as another program might: big-endian uint16 and uint32, big-endian float64, uint64.
    const File file(path, Mode::create_truncate);
    const hsize_t dims[1] = {3};
    const hid_t space = H5Screate_simple(1, dims, nullptr);
    const uint16_t u16[3] = {0, 40000, 65535};
    const uint32_t u32[3] = {1, 3000000000u, 4294967295u};
    const double f64[3] = {-1.5, 0.0, 1e300};
    const uint64_t u64[3] = {1, 2, 3};
    struct Foreign {
      const char* name;
      hid_t stored;
      hid_t memory;
      const void* data;
    };
    for (const Foreign& d : {Foreign{"u16", H5T_STD_U16BE, H5T_NATIVE_UINT16, u16},
                             Foreign{"u32", H5T_STD_U32BE, H5T_NATIVE_UINT32, u32},
                             Foreign{"f64", H5T_IEEE_F64BE, H5T_NATIVE_DOUBLE, f64},
                             Foreign{"u64", H5T_STD_U64LE, H5T_NATIVE_UINT64, u64}}) {
      const hid_t dataset = H5Dcreate2(file.id(), d.name, d.stored, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
      REQUIRE(dataset >= 0);
      REQUIRE(H5Dwrite(dataset, d.memory, H5S_ALL, H5S_ALL, H5P_DEFAULT, d.data) >= 0);
      H5Dclose(dataset);
    }
    H5Sclose(space);
  }
  const File file(path, Mode::read_only);
  const at::Tensor u16 = file.read_tensor("u16");
  CHECK(dtype_name(u16) == c10::toString(at::kInt));
  CHECK(at::equal(u16, at::tensor({0, 40000, 65535}, at::kInt)));
  const at::Tensor u32 = file.read_tensor("u32");
  CHECK(dtype_name(u32) == c10::toString(at::kLong));
  CHECK(at::equal(u32, at::tensor({int64_t{1}, int64_t{3000000000}, int64_t{4294967295}}, at::kLong)));
  const at::Tensor f64 = file.read_tensor("f64");
  CHECK(dtype_name(f64) == c10::toString(at::kDouble));
  CHECK(at::equal(f64, at::tensor({-1.5, 0.0, 1e300}, at::kDouble)));
  try {
    file.read_tensor("u64");
    FAIL("reading uint64 must fail");
  } catch (const H5Error& error) {
    CHECK(std::string(error.what()).find("uint64") != std::string::npos);
    CHECK(std::string(error.what()).find(path) != std::string::npos);
  }
}

TEST_CASE("byte blobs round-trip at sizes 0, 1, 7 and 1000") {
  mesl::testing::TempDir dir;
  const File file(dir.file("bytes.h5"), Mode::create_truncate);
  for (const size_t size : {size_t{0}, size_t{1}, size_t{7}, size_t{1000}}) {
    CAPTURE(size);
    std::vector<uint8_t> bytes(size);
    for (size_t i = 0; i < size; ++i) bytes[i] = static_cast<uint8_t>((i * 37 + 11) % 256);
    file.write_bytes("payload", bytes);
    CHECK(file.read_bytes("payload") == bytes);
    CHECK(file.dataset_shape("payload") == std::vector<int64_t>{static_cast<int64_t>(size)});
    CHECK(dtype_name(file.read_tensor("payload")) == c10::toString(at::kByte));
  }
  file.write_tensor("floats", at::ones({4}));
  CHECK_THROWS_AS(file.read_bytes("floats"), H5Error);
  file.write_tensor("matrix", at::ones({2, 2}, at::kByte));
  CHECK_THROWS_AS(file.read_bytes("matrix"), H5Error);
}

TEST_CASE("string datasets round-trip, including empty, unicode and long strings") {
  mesl::testing::TempDir dir;
  const std::string path = dir.file("strings.h5");
  const std::vector<std::vector<std::string>> lists = {
      {},
      {"fwd"},
      {"fwd", "", "ms:keep=0.01,bits=2", "μ-σ ✓ 日本", std::string(5000, 'x')},
  };
  {
    const File file(path, Mode::create_truncate);
    for (size_t i = 0; i < lists.size(); ++i) file.write_strings("s" + std::to_string(i), lists[i]);
    file.write_strings("s1", {"replaced", "twice"});
  }
  const File file(path, Mode::read_only);
  CHECK(file.read_strings("s0").empty());
  CHECK(file.dataset_shape("s0") == std::vector<int64_t>{0});
  CHECK(file.read_strings("s1") == std::vector<std::string>{"replaced", "twice"});
  CHECK(file.read_strings("s2") == lists[2]);
  CHECK_THROWS_AS(file.read_tensor("s2"), H5Error);
}

TEST_CASE("fixed-length strings written by other programs are read, and NUL bytes are refused") {
  mesl::testing::TempDir dir;
  const File file(dir.file("fixed.h5"), Mode::create_truncate);
  const hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, 4);
  H5Tset_strpad(type, H5T_STR_NULLPAD);
  const hsize_t dims[1] = {3};
  const hid_t space = H5Screate_simple(1, dims, nullptr);
  const hid_t dataset = H5Dcreate2(file.id(), "fixed", type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  REQUIRE(dataset >= 0);
  const char data[12] = {'a', 'b', 0, 0, 'w', 'x', 'y', 'z', 0, 0, 0, 0};
  REQUIRE(H5Dwrite(dataset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0);
  H5Dclose(dataset);
  H5Sclose(space);
  H5Tclose(type);
  CHECK(file.read_strings("fixed") == std::vector<std::string>{"ab", "wxyz", ""});

  CHECK_THROWS_AS(file.write_strings("bad", {std::string("a\0b", 3)}), H5Error);
  CHECK_FALSE(file.has_child("bad"));
  file.write_tensor("numbers", at::ones({2}));
  CHECK_THROWS_AS(file.read_strings("numbers"), H5Error);
}
