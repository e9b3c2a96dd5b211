// RunWriter::resume: continuing the file of an interrupted run without gaps or duplicates.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "../common/h5_column.h"
#include "../common/temp_dir.h"
#include "mesl/h5/h5.h"
#include "mesl/h5/table.h"
#include "mesl/metrics/run_writer.h"
#include "sample_run.h"

namespace {

using mesl::h5::File;
using mesl::h5::Mode;
using mesl::metrics::RunWriter;
using mesl::testing::sample_epoch;
using mesl::testing::sample_step;

using mesl::testing::column;

// A run interrupted after `steps` steps and `epochs` epochs, all flushed.
std::string interrupted_run(const mesl::testing::TempDir& dir, int64_t steps, int64_t epochs) {
  const std::string path = dir.file("run.h5");
  RunWriter writer = RunWriter::create(path, mesl::testing::sample_attributes());
  for (int64_t i = 0; i < steps; ++i) writer.append_step(sample_step(i));
  for (int64_t i = 0; i < epochs; ++i) writer.append_epoch(sample_epoch(i));
  writer.set_message_totals(mesl::testing::sample_totals());
  writer.flush();
  return path;
}

std::string message_of_resume(const std::string& path, int64_t steps, int64_t epochs) {
  try {
    RunWriter::resume(path, steps, epochs);
  } catch (const mesl::MetricsError& error) {
    return error.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("resume drops the rows the checkpoint does not cover and continues without gaps") {
  struct Case {
    int64_t steps_kept, epochs_kept;
  };
  for (const Case kept : {Case{0, 0}, Case{6, 2}, Case{10, 3}, Case{1, 0}}) {
    CAPTURE(kept.steps_kept);
    CAPTURE(kept.epochs_kept);
    mesl::testing::TempDir dir;
    const std::string path = interrupted_run(dir, 10, 3);
    const std::string config = File(path, Mode::read_only).string_attribute("config");
    const std::string start_time = File(path, Mode::read_only).string_attribute("start_time");
    {
      RunWriter writer = RunWriter::resume(path, kept.steps_kept, kept.epochs_kept);
      CHECK(writer.path() == path);
      CHECK(writer.steps() == kept.steps_kept);
      CHECK(writer.epochs() == kept.epochs_kept);
      for (int64_t i = kept.steps_kept; i < 14; ++i) writer.append_step(sample_step(i));
      writer.append_epoch(sample_epoch(kept.epochs_kept));
      CHECK(writer.steps() == 14);
    }
    const File file(path, Mode::read_only);
    for (const auto& [name, field] : mesl::testing::step_fields()) {
      const std::vector<double> values = column(file, "steps/" + name);
      REQUIRE(values.size() == 14);
      for (int64_t i = 0; i < 14; ++i) CHECK(values[static_cast<size_t>(i)] == field(sample_step(i)));
    }
    for (const auto& [name, field] : mesl::testing::epoch_fields()) {
      const std::vector<double> values = column(file, "epochs/" + name);
      REQUIRE(static_cast<int64_t>(values.size()) == kept.epochs_kept + 1);
      for (int64_t i = 0; i <= kept.epochs_kept; ++i) CHECK(values[static_cast<size_t>(i)] == field(sample_epoch(i)));
    }
    // The attributes and the totals of the first part of the run stay until the resumed run replaces them.
    CHECK(file.string_attribute("config") == config);
    CHECK(file.string_attribute("start_time") == start_time);
    CHECK(file.read_strings("messages/type") == std::vector<std::string>{"fwd", "bwd", "model"});
  }
}

TEST_CASE("resume refuses a checkpoint that covers more rows than the file holds, and changes nothing") {
  mesl::testing::TempDir dir;
  const std::string path = interrupted_run(dir, 10, 3);
  const std::string steps = message_of_resume(path, 11, 3);
  CAPTURE(steps);
  CHECK(steps.find(path) != std::string::npos);
  CHECK(steps.find("holds 10 steps but the checkpoint covers 11") != std::string::npos);
  const std::string epochs = message_of_resume(path, 10, 4);
  CHECK(epochs.find("holds 3 epochs but the checkpoint covers 4") != std::string::npos);
  CHECK(message_of_resume(path, -1, 0).find("must not be negative") != std::string::npos);
  const File file(path, Mode::read_only);
  CHECK(file.dataset_shape("steps/step") == std::vector<int64_t>{10});
  CHECK(file.dataset_shape("epochs/epoch") == std::vector<int64_t>{3});
}

TEST_CASE("resume refuses a missing file and files that are not metrics files, naming the path") {
  mesl::testing::TempDir dir;
  const std::string missing = dir.file("missing.h5");
  const std::string no_file = message_of_resume(missing, 0, 0);
  CAPTURE(no_file);
  CHECK(no_file ==
        "cannot reopen metrics file " + missing +
            ": No such file or directory; check --output, or start the run afresh without --resume");

  const std::string other = dir.file("other.h5");
  {
    const File file(other, Mode::create_truncate);
    file.write_tensor("steps", at::ones({3}));  // datasets where the tables should be
    file.write_tensor("epochs", at::ones({3}));
  }
  const std::string not_table = message_of_resume(other, 0, 0);
  CAPTURE(not_table);
  CHECK(not_table.find(other) != std::string::npos);
  CHECK(not_table.find("cannot be continued: '/steps': not a group") != std::string::npos);

  const std::string no_epochs = dir.file("no_epochs.h5");
  {
    const File file(no_epochs, Mode::create_truncate);
    mesl::h5::Table table(file, "steps", mesl::metrics::step_columns());
  }
  const std::string missing_table = message_of_resume(no_epochs, 0, 0);
  CHECK(missing_table.find("has no /epochs table") != std::string::npos);
  CHECK(missing_table.find(no_epochs) != std::string::npos);

  const std::string wrong_columns = dir.file("wrong.h5");
  {
    const File file(wrong_columns, Mode::create_truncate);
    mesl::h5::Table steps(file, "steps", {{"step", mesl::h5::ColumnType::int64}});
    mesl::h5::Table epochs(file, "epochs", mesl::metrics::epoch_columns());
  }
  const std::string columns = message_of_resume(wrong_columns, 0, 0);
  CAPTURE(columns);
  CHECK(columns.find(wrong_columns) != std::string::npos);
  CHECK(columns.find("holds columns step but this program expects step, epoch") != std::string::npos);
}
