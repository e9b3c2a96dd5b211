// Column tables: a group of equal-length, chunked, unlimited 1-D datasets.
#include "mesl/h5/table.h"

#include <cmath>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "check.h"

namespace mesl::h5 {
namespace {

using detail::check;
using detail::check_id;
using detail::quoted;

struct Where {
  std::string object;
  std::string file;
};

Where table_where(const Node& group) { return {"table " + quoted(group.name()), group.file_path()}; }

Where column_where(const Node& group, const std::string& column) {
  return {"column " + quoted(detail::join(group.name(), column)), group.file_path()};
}

const char* type_name(ColumnType type) { return type == ColumnType::int64 ? "int64" : "float64"; }

// Checks the arguments before anything is created in the file, then opens or creates the group.
Group open_group(const Node& parent, const std::string& name, const std::vector<Column>& columns,
                 int64_t chunk_rows) {
  const Where where{"table " + quoted(detail::join(parent.name(), name)), parent.file_path()};
  if (chunk_rows < 1) {
    detail::fail(where.object, where.file, "chunk_rows must be at least 1; got " + std::to_string(chunk_rows));
  }
  std::set<std::string> seen;
  for (const Column& column : columns) {
    if (column.name.empty() || column.name.find('/') != std::string::npos || column.name == ".") {
      detail::fail(where.object, where.file, "column name " + quoted(column.name) + " is not a plain name");
    }
    if (!seen.insert(column.name).second) {
      detail::fail(where.object, where.file, "column " + quoted(column.name) + " is listed twice");
    }
  }
  return parent.has_child(name) ? parent.group(name) : parent.create_group(name);
}

std::string list(const std::vector<std::string>& names) {
  std::string text;
  for (const std::string& name : names) text += (text.empty() ? "" : ", ") + name;
  return text.empty() ? "none" : text;
}

std::vector<std::string> member_names(const Node& group) {
  const Where where = table_where(group);
  H5G_info_t info;
  check(H5Gget_info(group.id(), &info), "H5Gget_info", where.object, where.file);
  std::vector<std::string> names;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    const ssize_t length =
        H5Lget_name_by_idx(group.id(), ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    if (length < 0) detail::fail_call("H5Lget_name_by_idx", where.object, where.file);
    std::string name(static_cast<size_t>(length) + 1, '\0');
    if (H5Lget_name_by_idx(group.id(), ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size(),
                           H5P_DEFAULT) < 0) {
      detail::fail_call("H5Lget_name_by_idx", where.object, where.file);
    }
    name.resize(static_cast<size_t>(length));
    names.push_back(std::move(name));
  }
  return names;
}

Handle open_column(const Node& group, const std::string& column) {
  const Where where = column_where(group, column);
  return Handle(check_id(H5Dopen2(group.id(), column.c_str(), H5P_DEFAULT), "H5Dopen2", where.object, where.file));
}

// The length of a column dataset, after checking that it is one this code can extend.
int64_t column_length(const Node& group, const Column& column) {
  const Where where = column_where(group, column.name);
  Handle dataset = open_column(group, column.name);
  Handle type(check_id(H5Dget_type(dataset.id()), "H5Dget_type", where.object, where.file));
  const H5T_class_t expected = column.type == ColumnType::int64 ? H5T_INTEGER : H5T_FLOAT;
  if (H5Tget_class(type.id()) != expected || H5Tget_size(type.id()) != 8) {
    detail::fail(where.object, where.file, std::string("is not a ") + type_name(column.type) + " column");
  }
  Handle space(check_id(H5Dget_space(dataset.id()), "H5Dget_space", where.object, where.file));
  hsize_t dims[1] = {0};
  hsize_t max_dims[1] = {0};
  if (H5Sget_simple_extent_ndims(space.id()) != 1) detail::fail(where.object, where.file, "is not 1-D");
  check(H5Sget_simple_extent_dims(space.id(), dims, max_dims), "H5Sget_simple_extent_dims", where.object,
        where.file);
  if (max_dims[0] != H5S_UNLIMITED) detail::fail(where.object, where.file, "is not extendable (not unlimited)");
  return static_cast<int64_t>(dims[0]);
}

void create_column(const Node& group, const Column& column, int64_t chunk_rows) {
  const Where where = column_where(group, column.name);
  const hsize_t dims[1] = {0};
  const hsize_t max_dims[1] = {H5S_UNLIMITED};
  const hsize_t chunk[1] = {static_cast<hsize_t>(chunk_rows)};
  Handle space(check_id(H5Screate_simple(1, dims, max_dims), "H5Screate_simple", where.object, where.file));
  Handle plist(check_id(H5Pcreate(H5P_DATASET_CREATE), "H5Pcreate", where.object, where.file));
  check(H5Pset_chunk(plist.id(), 1, chunk), "H5Pset_chunk", where.object, where.file);
  const hid_t type = column.type == ColumnType::int64 ? H5T_STD_I64LE : H5T_IEEE_F64LE;
  Handle dataset(check_id(H5Dcreate2(group.id(), column.name.c_str(), type, space.id(), H5P_DEFAULT, plist.id(),
                                     H5P_DEFAULT),
                          "H5Dcreate2", where.object, where.file));
}

void set_length(const Node& group, const std::string& column, int64_t rows) {
  const Where where = column_where(group, column);
  Handle dataset = open_column(group, column);
  const hsize_t dims[1] = {static_cast<hsize_t>(rows)};
  check(H5Dset_extent(dataset.id(), dims), "H5Dset_extent", where.object, where.file);
}

// Writes rows [first, first + values.size()) of one column, growing it first.
template <typename T>
void write_rows(const Node& group, const std::string& column, hid_t memory_type, int64_t first,
                const std::vector<T>& values) {
  const Where where = column_where(group, column);
  Handle dataset = open_column(group, column);
  const hsize_t count[1] = {static_cast<hsize_t>(values.size())};
  const hsize_t start[1] = {static_cast<hsize_t>(first)};
  const hsize_t total[1] = {static_cast<hsize_t>(first) + count[0]};
  check(H5Dset_extent(dataset.id(), total), "H5Dset_extent", where.object, where.file);
  Handle file_space(check_id(H5Dget_space(dataset.id()), "H5Dget_space", where.object, where.file));
  check(H5Sselect_hyperslab(file_space.id(), H5S_SELECT_SET, start, nullptr, count, nullptr), "H5Sselect_hyperslab",
        where.object, where.file);
  Handle memory_space(check_id(H5Screate_simple(1, count, nullptr), "H5Screate_simple", where.object, where.file));
  check(H5Dwrite(dataset.id(), memory_type, memory_space.id(), file_space.id(), H5P_DEFAULT, values.data()),
        "H5Dwrite", where.object, where.file);
}

void flush_file(const Node& group) {
  const Where where = table_where(group);
  check(H5Fflush(group.id(), H5F_SCOPE_GLOBAL), "H5Fflush", where.object, where.file);
}

}  // namespace

Table::Table(const Node& parent, const std::string& name, std::vector<Column> columns, int64_t chunk_rows)
    : group_(open_group(parent, name, columns, chunk_rows)), columns_(std::move(columns)), chunk_rows_(chunk_rows) {
  SilenceErrors quiet;
  const Where where = table_where(group_);
  const std::vector<std::string> present = member_names(group_);
  if (present.empty()) {
    for (const Column& column : columns_) create_column(group_, column, chunk_rows_);
    return;
  }
  // An existing table: it must be exactly these columns, all of one length, or appending would misalign rows.
  std::vector<std::string> expected;
  for (const Column& column : columns_) expected.push_back(column.name);
  const std::set<std::string> present_set(present.begin(), present.end());
  const std::set<std::string> expected_set(expected.begin(), expected.end());
  if (present_set != expected_set) {
    detail::fail(where.object, where.file,
                 "holds columns " + list(present) + " but this program expects " + list(expected) +
                     "; the file was written by another program or version");
  }
  for (size_t i = 0; i < columns_.size(); ++i) {
    const int64_t length = column_length(group_, columns_[i]);
    if (i == 0) {
      written_ = length;
    } else if (length != written_) {
      detail::fail(where.object, where.file,
                   "columns differ in length (" + columns_[0].name + ": " + std::to_string(written_) + ", " +
                       columns_[i].name + ": " + std::to_string(length) + "); the file is damaged");
    }
  }
}

int64_t Table::size() const { return written_ + static_cast<int64_t>(pending_.size()); }

void Table::append(const Row& row) {
  if (row.size() != columns_.size()) {
    const Where where = table_where(group_);
    detail::fail(where.object, where.file,
                 "a row has " + std::to_string(row.size()) + " values; the table has " +
                     std::to_string(columns_.size()) + " columns");
  }
  constexpr double kExactLimit = 9007199254740992.0;  // 2^53: every integer up to here is exact in a double
  for (size_t i = 0; i < row.size(); ++i) {
    if (columns_[i].type != ColumnType::int64) continue;
    const double value = row[i];
    if (!(std::isfinite(value) && std::trunc(value) == value && std::fabs(value) <= kExactLimit)) {
      const Where where = column_where(group_, columns_[i].name);
      detail::fail(where.object, where.file, "is int64 and cannot hold " + std::to_string(value));
    }
  }
  pending_.push_back(row);
}

void Table::flush() {
  SilenceErrors quiet;
  if (!pending_.empty()) {
    const int64_t first = written_;
    try {
      for (size_t c = 0; c < columns_.size(); ++c) {
        if (columns_[c].type == ColumnType::int64) {
          std::vector<int64_t> values;
          values.reserve(pending_.size());
          for (const Row& row : pending_) values.push_back(static_cast<int64_t>(row[c]));
          write_rows(group_, columns_[c].name, H5T_NATIVE_INT64, first, values);
        } else {
          std::vector<double> values;
          values.reserve(pending_.size());
          for (const Row& row : pending_) values.push_back(row[c]);
          write_rows(group_, columns_[c].name, H5T_NATIVE_DOUBLE, first, values);
        }
      }
    } catch (...) {
      // Keep the columns of equal length: undo the extension of the columns already grown (best effort; the rows
      // stay buffered, so a later flush can retry).
      for (const Column& column : columns_) {
        try {
          set_length(group_, column.name, first);
        } catch (...) {
        }
      }
      throw;
    }
    written_ += static_cast<int64_t>(pending_.size());
    pending_.clear();
  }
  flush_file(group_);
}

void Table::truncate(int64_t rows) {
  flush();
  SilenceErrors quiet;
  if (rows < 0 || rows > written_) {
    const Where where = table_where(group_);
    detail::fail(where.object, where.file,
                 "holds " + std::to_string(written_) + " rows; cannot keep " + std::to_string(rows));
  }
  if (rows == written_) return;
  for (const Column& column : columns_) set_length(group_, column.name, rows);
  written_ = rows;
  flush_file(group_);
}

std::vector<double> Table::column(const std::string& name) const {
  SilenceErrors quiet;
  const Where where = column_where(group_, name);
  bool known = false;
  for (const Column& column : columns_) known = known || column.name == name;
  if (!known) detail::fail(where.object, where.file, "is not a column of this table");
  Handle dataset = open_column(group_, name);
  // Sized from the dataset itself, not from written_, so that the read can never overrun the buffer.
  Handle space(check_id(H5Dget_space(dataset.id()), "H5Dget_space", where.object, where.file));
  const hssize_t points = H5Sget_simple_extent_npoints(space.id());
  if (points < 0) detail::fail_call("H5Sget_simple_extent_npoints", where.object, where.file);
  std::vector<double> values(static_cast<size_t>(points));
  if (!values.empty()) {
    check(H5Dread(dataset.id(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), "H5Dread",
          where.object, where.file);
  }
  return values;
}

}  // namespace mesl::h5
