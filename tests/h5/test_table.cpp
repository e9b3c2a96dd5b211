// Column tables: append, flush, reopen, truncate and read back, across chunk boundaries.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "mesl/h5/table.h"
#include "../common/temp_dir.h"

namespace {

using mesl::h5::Column;
using mesl::h5::ColumnType;
using mesl::h5::File;
using mesl::h5::H5Error;
using mesl::h5::Mode;
using mesl::h5::Table;

const std::vector<Column> kColumns = {{"step", ColumnType::int64}, {"loss", ColumnType::float64},
                                      {"bytes", ColumnType::int64}};

// Row i of the test tables: every column a different function of i, so that a swapped column or row shows.
mesl::h5::Row row(int64_t i) {
  return {static_cast<double>(i), 0.25 + 0.5 * static_cast<double>(i), static_cast<double>(i * 1000003 - 7)};
}

void check_rows(const Table& table, int64_t first, int64_t count) {
  const std::vector<double> step = table.column("step");
  const std::vector<double> loss = table.column("loss");
  const std::vector<double> bytes = table.column("bytes");
  REQUIRE(static_cast<int64_t>(step.size()) == count);
  REQUIRE(static_cast<int64_t>(loss.size()) == count);
  REQUIRE(static_cast<int64_t>(bytes.size()) == count);
  for (int64_t i = 0; i < count; ++i) {
    const mesl::h5::Row expected = row(first + i);
    const auto at = static_cast<size_t>(i);
    if (step[at] != expected[0] || loss[at] != expected[1] || bytes[at] != expected[2]) {
      FAIL("row " << i << " differs: " << step[at] << " " << loss[at] << " " << bytes[at]);
    }
  }
}

// Stored types as h5py sees them: int64 and float64 columns.
H5T_class_t column_class(const File& file, const std::string& name) {
  const hid_t dataset = H5Dopen2(file.id(), name.c_str(), H5P_DEFAULT);
  const hid_t type = H5Dget_type(dataset);
  const H5T_class_t type_class = H5Tget_class(type);
  H5Tclose(type);
  H5Dclose(dataset);
  return type_class;
}

}  // namespace

TEST_CASE("tables append, flush, reopen, truncate and read back across chunk boundaries") {
  for (const int64_t chunk : {int64_t{1024}, int64_t{7}}) {
    for (const int64_t rows : {int64_t{0}, int64_t{1}, int64_t{1000}, int64_t{2500}}) {
      CAPTURE(chunk);
      CAPTURE(rows);
      mesl::testing::TempDir dir;
      const std::string path = dir.file("table.h5");
      {
        const File file(path, Mode::create_truncate);
        Table table(file, "steps", kColumns, chunk);
        CHECK(table.size() == 0);
        for (int64_t i = 0; i < rows; ++i) {
          table.append(row(i));
          if (i % 333 == 332) table.flush();  // flushes land inside chunks and on their edges
        }
        CHECK(table.size() == rows);
        table.flush();
        check_rows(table, 0, rows);
        CHECK(column_class(file, "steps/step") == H5T_INTEGER);
        CHECK(column_class(file, "steps/loss") == H5T_FLOAT);
      }
      {
        const File file(path, Mode::read_write);
        Table table(file, "steps", kColumns, chunk);
        CHECK(table.size() == rows);
        check_rows(table, 0, rows);
        table.append(row(rows));  // continues after reopening
        table.flush();
        check_rows(table, 0, rows + 1);
        const int64_t kept = (rows + 1) / 2;
        table.truncate(kept);
        CHECK(table.size() == kept);
        check_rows(table, 0, kept);
        CHECK(file.dataset_shape("steps/loss") == std::vector<int64_t>{kept});
        for (int64_t i = kept; i < kept + 3; ++i) table.append(row(i));  // regrows over the dropped rows
        table.flush();
        check_rows(table, 0, kept + 3);
        CHECK_THROWS_AS(table.truncate(kept + 4), H5Error);
        table.truncate(0);
        CHECK(table.size() == 0);
        CHECK(table.column("step").empty());
      }
    }
  }
}

TEST_CASE("buffered rows are counted by size() but reach the file only at flush") {
  mesl::testing::TempDir dir;
  const File file(dir.file("buffered.h5"), Mode::create_truncate);
  Table table(file, "t", kColumns);
  table.append(row(0));
  table.append(row(1));
  CHECK(table.size() == 2);
  CHECK(table.column("step").empty());
  CHECK(file.dataset_shape("t/step") == std::vector<int64_t>{0});
  table.truncate(2);  // flushes first
  CHECK(file.dataset_shape("t/step") == std::vector<int64_t>{2});
  check_rows(table, 0, 2);
}

TEST_CASE("tables refuse rows of the wrong width and non-integers in int64 columns") {
  mesl::testing::TempDir dir;
  const File file(dir.file("rows.h5"), Mode::create_truncate);
  Table table(file, "t", kColumns);
  CHECK_THROWS_AS(table.append({1.0, 2.0}), H5Error);
  CHECK_THROWS_AS(table.append({1.0, 2.0, 3.0, 4.0}), H5Error);
  CHECK_THROWS_AS(table.append({1.5, 2.0, 3.0}), H5Error);
  CHECK_THROWS_AS(table.append({1.0, 2.0, 1e300}), H5Error);
  CHECK(table.size() == 0);
  table.append({-3.0, std::numeric_limits<double>::quiet_NaN(), 9007199254740992.0});  // NaN is a valid loss
  table.flush();
  CHECK(table.column("bytes") == std::vector<double>{9007199254740992.0});
  CHECK(std::isnan(table.column("loss")[0]));
  CHECK_THROWS_AS(table.column("absent"), H5Error);
}

TEST_CASE("reopening a table with another column set, types or ragged columns fails naming the file") {
  mesl::testing::TempDir dir;
  const std::string path = dir.file("mismatch.h5");
  {
    const File file(path, Mode::create_truncate);
    Table table(file, "t", kColumns);
    for (int64_t i = 0; i < 5; ++i) table.append(row(i));
    table.flush();
  }
  const File file(path, Mode::read_write);
  const auto message_of = [&](std::vector<Column> columns) {
    try {
      Table reopened(file, "t", std::move(columns));
    } catch (const H5Error& error) {
      return std::string(error.what());
    }
    return std::string("no error");
  };
  const std::string missing = message_of({{"step", ColumnType::int64}, {"loss", ColumnType::float64}});
  CHECK(missing.find(path) != std::string::npos);
  CHECK(missing.find("'/t'") != std::string::npos);
  CHECK(missing.find('\n') == std::string::npos);
  CHECK(message_of({{"step", ColumnType::int64}, {"loss", ColumnType::float64}, {"other", ColumnType::int64}})
            .find("holds columns bytes, loss, step") != std::string::npos);
  CHECK(message_of({{"step", ColumnType::float64}, {"loss", ColumnType::float64}, {"bytes", ColumnType::int64}})
            .find("is not a float64 column") != std::string::npos);

  // Make one column longer behind the table's back: the lengths no longer agree.
  const hid_t dataset = H5Dopen2(file.id(), "t/loss", H5P_DEFAULT);
  const hsize_t longer[1] = {6};
  REQUIRE(H5Dset_extent(dataset, longer) >= 0);
  H5Dclose(dataset);
  const std::string ragged = message_of(kColumns);
  CHECK(ragged.find("differ in length") != std::string::npos);
  CHECK(ragged.find(path) != std::string::npos);

  CHECK_THROWS_AS(Table(file, "u", {{"a", ColumnType::int64}, {"a", ColumnType::int64}}), H5Error);
  CHECK_THROWS_AS(Table(file, "u", {{"a/b", ColumnType::int64}}), H5Error);
  CHECK_THROWS_AS(Table(file, "u", kColumns, 0), H5Error);
  CHECK_FALSE(file.has_child("u"));  // bad arguments leave nothing behind
}
