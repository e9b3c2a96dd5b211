#pragma once
// A table stored as a group of 1-D datasets of equal length, one per column (so h5py reads a column as
// f["steps/loss"][:]). Columns are chunked and unlimited; rows are buffered and written by flush(), which also
// flushes the file, so a reader (or a killed run's file) always sees whole rows.
#include <cstdint>
#include <string>
#include <vector>

#include "mesl/h5/h5.h"

namespace mesl::h5 {

enum class ColumnType { int64, float64 };

struct Column {
  std::string name;
  ColumnType type;
};

// One row: a value per column, in column order (integers are stored exactly in int64 columns).
using Row = std::vector<double>;  // int64 columns take values that a double holds exactly (|v| < 2^53)

class Table {
 public:
  // Creates the group and its columns under `parent`, or opens them when they exist (then the columns must match;
  // a missing column or a length mismatch throws H5Error: the file is not a table this code wrote).
  Table(const Node& parent, const std::string& name, std::vector<Column> columns, int64_t chunk_rows = 1024);
  const std::vector<Column>& columns() const { return columns_; }
  int64_t size() const;            // rows written plus rows buffered
  void append(const Row& row);     // throws H5Error if row.size() != columns().size()
  void flush();                    // writes buffered rows, then H5Fflush
  void truncate(int64_t rows);     // drops rows >= `rows` (used by resume); flushes first
  std::vector<double> column(const std::string& name) const;  // whole column, written rows only

 private:
  Group group_;
  std::vector<Column> columns_;
  int64_t written_ = 0;
  std::vector<Row> pending_;
  int64_t chunk_rows_;
};

}  // namespace mesl::h5
