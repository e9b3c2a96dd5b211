// RunWriter: the layout of a new metrics file, its rows, attributes and message totals.
#include <doctest/doctest.h>

#include <ctime>
#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include "../common/h5_column.h"
#include "../common/temp_dir.h"
#include "mesl/h5/h5.h"
#include "mesl/metrics/run_writer.h"
#include "mesl/version.h"
#include "sample_run.h"

namespace {

using mesl::h5::File;
using mesl::h5::Mode;
using mesl::metrics::RunWriter;
using mesl::testing::sample_epoch;
using mesl::testing::sample_step;

using mesl::testing::column;

// Every column of /steps holds field(row i) at index i, for i in [0, count).
void check_steps(const File& file, int64_t count) {
  for (const auto& [name, field] : mesl::testing::step_fields()) {
    CAPTURE(name);
    const std::vector<double> values = column(file, "steps/" + name);
    REQUIRE(static_cast<int64_t>(values.size()) == count);
    for (int64_t i = 0; i < count; ++i) CHECK(values[static_cast<size_t>(i)] == field(sample_step(i)));
  }
}

void check_epochs(const File& file, int64_t count) {
  for (const auto& [name, field] : mesl::testing::epoch_fields()) {
    CAPTURE(name);
    const std::vector<double> values = column(file, "epochs/" + name);
    REQUIRE(static_cast<int64_t>(values.size()) == count);
    for (int64_t i = 0; i < count; ++i) CHECK(values[static_cast<size_t>(i)] == field(sample_epoch(i)));
  }
}

std::string dtype_name(const File& file, const std::string& dataset) {
  return c10::toString(file.read_tensor(dataset).scalar_type());
}

}  // namespace

TEST_CASE("the column lists are the StepRow and EpochRow fields in field order, with their types") {
  const auto& steps = mesl::metrics::step_columns();
  REQUIRE(steps.size() == mesl::testing::step_fields().size());
  for (size_t i = 0; i < steps.size(); ++i) {
    const std::string& name = mesl::testing::step_fields()[i].first;
    CHECK(steps[i].name == name);
    const bool is_float =
        name == "loss" || name == "rel_error" || (name.size() > 2 && name.substr(name.size() - 2) == "_s");
    CHECK((steps[i].type == mesl::h5::ColumnType::float64) == is_float);
  }
  const auto& epochs = mesl::metrics::epoch_columns();
  REQUIRE(epochs.size() == mesl::testing::epoch_fields().size());
  for (size_t i = 0; i < epochs.size(); ++i) {
    const std::string& name = epochs[i].name;
    CHECK(name == mesl::testing::epoch_fields()[i].first);
    const bool is_int = name == "epoch" || name == "samples" || name == "participants" ||
                        name.find("bytes") != std::string::npos;
    CHECK((epochs[i].type == mesl::h5::ColumnType::int64) == is_int);
  }
}

TEST_CASE("a new metrics file holds the attributes, rows and totals it was given") {
  for (const int64_t steps : {int64_t{0}, int64_t{1}, int64_t{7}, int64_t{1500}}) {
    CAPTURE(steps);
    mesl::testing::TempDir dir;
    const std::string path = dir.file("run.h5");
    const std::time_t before = std::time(nullptr);
    {
      RunWriter writer = RunWriter::create(path, mesl::testing::sample_attributes());
      CHECK(writer.path() == path);
      const int64_t epochs = steps == 0 ? 0 : 3;
      for (int64_t i = 0; i < steps; ++i) {
        writer.append_step(sample_step(i));
        if (epochs > 0 && (i + 1) % ((steps + epochs - 1) / epochs) == 0 && writer.epochs() < epochs - 1) {
          writer.append_epoch(sample_epoch(writer.epochs()));
        }
      }
      while (writer.epochs() < epochs) writer.append_epoch(sample_epoch(writer.epochs()));
      writer.set_message_totals(mesl::testing::sample_totals());
      CHECK(writer.steps() == steps);
      CHECK(writer.epochs() == epochs);
      writer.flush();
    }
    const File file(path, Mode::read_only);
    check_steps(file, steps);
    check_epochs(file, steps == 0 ? 0 : 3);
    CHECK(dtype_name(file, "steps/step") == c10::toString(at::kLong));
    CHECK(dtype_name(file, "steps/loss") == c10::toString(at::kDouble));
    CHECK(dtype_name(file, "epochs/fwd_bytes") == c10::toString(at::kLong));

    CHECK(file.read_strings("messages/type") == std::vector<std::string>{"fwd", "bwd", "model"});
    CHECK(column(file, "messages/count") == std::vector<double>{12, 12, 2});
    CHECK(column(file, "messages/bytes") == std::vector<double>{1234567, 7654321, 999});
    CHECK(column(file, "messages/header_bytes") == std::vector<double>{480, 0, 0});

    const auto expected = mesl::testing::sample_attributes();
    CHECK(file.string_attribute("config") == expected.config_json);
    CHECK(file.string_attribute("version") == mesl::kVersion);
    CHECK(file.int_vector_attribute("cut_shape") == std::vector<int64_t>{64, 16, 16});
    CHECK(file.int_attribute("world_size") == 11);
    CHECK(file.string_attribute("hosts") == R"(["node-1", "node \"2\"\\x"])");
    for (const auto& [name, value] : expected.strings) CHECK(file.string_attribute(name) == value);
    for (const auto& [name, value] : expected.ints) CHECK(file.int_attribute(name) == value);
    CHECK(file.double_attribute("bpe") == 2.32);

    const std::string start = file.string_attribute("start_time");
    CAPTURE(start);
    REQUIRE(std::regex_match(start, std::regex(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z)")));
    std::tm parsed{};
    REQUIRE(strptime(start.c_str(), "%Y-%m-%dT%H:%M:%SZ", &parsed) != nullptr);
    const std::time_t started = timegm(&parsed);
    CHECK(started >= before);
    CHECK(started <= std::time(nullptr));
  }
}

TEST_CASE("the message totals are replaced as a whole, and an unused writer leaves a complete empty layout") {
  mesl::testing::TempDir dir;
  const std::string path = dir.file("totals.h5");
  {
    RunWriter writer = RunWriter::create(path, {});
    writer.flush();
    const File file(path, Mode::read_only);
    CHECK(file.read_strings("messages/type").empty());
    CHECK(file.dataset_shape("messages/bytes") == std::vector<int64_t>{0});
    CHECK(file.dataset_shape("steps/rel_error") == std::vector<int64_t>{0});
    CHECK(file.dataset_shape("epochs/lr") == std::vector<int64_t>{0});
    CHECK(file.string_attribute("hosts") == "[]");
    CHECK(file.int_vector_attribute("cut_shape").empty());

    writer.set_message_totals(mesl::testing::sample_totals());
    writer.append_epoch(sample_epoch(0));  // flushes the totals with the epoch
    writer.set_message_totals({{"control", 4, 64, 0}});
    writer.flush();
  }
  const File file(path, Mode::read_only);
  CHECK(file.read_strings("messages/type") == std::vector<std::string>{"control"});
  CHECK(column(file, "messages/count") == std::vector<double>{4});
  CHECK(column(file, "messages/bytes") == std::vector<double>{64});
  CHECK(column(file, "messages/header_bytes") == std::vector<double>{0});
}

TEST_CASE("the last writer to go flushes what was never flushed") {
  mesl::testing::TempDir dir;
  const std::string path = dir.file("destructor.h5");
  {
    RunWriter writer = RunWriter::create(path, mesl::testing::sample_attributes());
    RunWriter copy = writer;  // copies share one file
    for (int64_t i = 0; i < 5; ++i) copy.append_step(sample_step(i));
    writer.set_message_totals(mesl::testing::sample_totals());
    CHECK(writer.steps() == 5);
  }
  const File file(path, Mode::read_only);
  check_steps(file, 5);
  CHECK(file.read_strings("messages/type").size() == 3);
}

TEST_CASE("a metrics file that cannot be created gives one line naming the path and the fix") {
  mesl::testing::TempDir dir;
  const std::string path = dir.file("missing/dir/run.h5");
  try {
    RunWriter::create(path, mesl::testing::sample_attributes());
    FAIL("create must fail");
  } catch (const mesl::MetricsError& error) {
    const std::string message = error.what();
    CAPTURE(message);
    CHECK(message == "cannot write metrics file " + path + ": No such file or directory; choose a writable --output");
  }
  // A directory in place of the file.
  try {
    RunWriter::create(dir.path().string(), {});
    FAIL("create must fail");
  } catch (const mesl::MetricsError& error) {
    const std::string message = error.what();
    CAPTURE(message);
    CHECK(message.find("cannot write metrics file " + dir.path().string()) == 0);
    CHECK(message.find('\n') == std::string::npos);
  }
}

TEST_CASE("attribute names that clash with the fixed ones are refused before the file is created") {
  mesl::testing::TempDir dir;
  const std::string path = dir.file("clash.h5");
  for (const char* reserved : {"config", "version", "cut_shape", "start_time", "world_size", "hosts"}) {
    mesl::metrics::RunAttributes attributes;
    attributes.strings[reserved] = "x";
    CHECK_THROWS_AS(RunWriter::create(path, attributes), mesl::MetricsError);
  }
  mesl::metrics::RunAttributes twice;
  twice.strings["seed"] = "1";
  twice.ints["seed"] = 1;
  CHECK_THROWS_AS(RunWriter::create(path, twice), mesl::MetricsError);
  CHECK_FALSE(std::filesystem::exists(path));
}
