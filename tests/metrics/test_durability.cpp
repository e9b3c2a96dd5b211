// What the metrics file promises to readers: readable by h5py after every flush while the run goes on, and every
// flushed row kept when the process is killed.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "../common/temp_dir.h"
#include "mesl/h5/h5.h"
#include "mesl/metrics/run_writer.h"
#include "sample_run.h"

namespace {

using mesl::h5::File;
using mesl::h5::Mode;
using mesl::metrics::RunWriter;
using mesl::testing::sample_epoch;
using mesl::testing::sample_step;

// Prints the distinct column lengths of each table, so that a ragged table shows as two lengths.
const char* kLengthsScript = R"(import json, sys
import h5py
with h5py.File(sys.argv[1], "r") as f:
    json.loads(f.attrs["config"])
    steps = sorted({len(f["steps"][c]) for c in f["steps"]})
    epochs = sorted({len(f["epochs"][c]) for c in f["epochs"]})
    print("steps=%s epochs=%s types=%s" % (steps, epochs, list(f["messages/type"].asstr()[:])))
)";

struct Output {
  int status = -1;
  std::string text;
};

// Runs Debian's Python (which has h5py) on `path` and returns its exit status and output.
Output h5py_read(const mesl::testing::TempDir& dir, const std::string& path) {
  const std::string script = dir.file("lengths.py");
  std::ofstream(script) << kLengthsScript;
  const std::string command = "/usr/bin/python3 '" + script + "' '" + path + "' 2>&1";
  Output output;
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[512];
  while (std::fgets(buffer, sizeof buffer, pipe) != nullptr) output.text += buffer;
  const int status = pclose(pipe);
  output.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return output;
}

}  // namespace

TEST_CASE("h5py reads the file while the writer holds it open, up to the last flush") {
  mesl::testing::TempDir dir;
  const std::string path = dir.file("open.h5");
  RunWriter writer = RunWriter::create(path, mesl::testing::sample_attributes());
  for (int64_t i = 0; i < 5; ++i) writer.append_step(sample_step(i));
  writer.set_message_totals(mesl::testing::sample_totals());
  writer.append_epoch(sample_epoch(0));  // flushes
  writer.append_step(sample_step(5));    // buffered: not visible yet
  Output first = h5py_read(dir, path);
  CAPTURE(first.text);
  CHECK(first.status == 0);
  CHECK(first.text == "steps=[5] epochs=[1] types=['fwd', 'bwd', 'model']\n");

  writer.append_step(sample_step(6));
  writer.flush();
  Output second = h5py_read(dir, path);
  CAPTURE(second.text);
  CHECK(second.text == "steps=[7] epochs=[1] types=['fwd', 'bwd', 'model']\n");
  writer.append_step(sample_step(7));  // the writer goes on after the reader
  writer.flush();
  CHECK(File(path, Mode::read_only).dataset_shape("steps/step") == std::vector<int64_t>{8});
}

TEST_CASE("a run killed with SIGKILL leaves a readable file with exactly the flushed rows") {
  mesl::testing::TempDir dir;
  const std::string path = dir.file("killed.h5");
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // The child must never return into the test runner: it ends by SIGKILL, or by _exit on a failure.
    try {
      RunWriter writer = RunWriter::create(path, mesl::testing::sample_attributes());
      for (int64_t i = 0; i < 5; ++i) writer.append_step(sample_step(i));
      writer.append_epoch(sample_epoch(0));  // flushed: 5 steps, 1 epoch, no totals
      for (int64_t i = 5; i < 8; ++i) writer.append_step(sample_step(i));
      writer.flush();  // flushed: 8 steps
      for (int64_t i = 8; i < 20; ++i) writer.append_step(sample_step(i));
      writer.set_message_totals(mesl::testing::sample_totals());
      std::raise(SIGKILL);  // before the rows above are flushed and before anything is closed
    } catch (...) {
      _exit(3);
    }
    _exit(4);
  }
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  REQUIRE(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGKILL);

  {
    const File file(path, Mode::read_only);
    for (const auto& [name, field] : mesl::testing::step_fields()) {
      CAPTURE(name);
      const at::Tensor values = file.read_tensor("steps/" + name).to(at::kDouble);
      REQUIRE(values.numel() == 8);
      for (int64_t i = 0; i < 8; ++i) CHECK(values[i].item<double>() == field(sample_step(i)));
    }
    CHECK(file.dataset_shape("epochs/epoch") == std::vector<int64_t>{1});
    CHECK(file.read_strings("messages/type").empty());
    CHECK(file.string_attribute("config") == mesl::testing::sample_attributes().config_json);
  }
  Output read = h5py_read(dir, path);
  CAPTURE(read.text);
  CHECK(read.text == "steps=[8] epochs=[1] types=[]\n");

  // The killed run can be resumed from its last checkpoint.
  RunWriter resumed = RunWriter::resume(path, 8, 1);
  resumed.append_step(sample_step(8));
  resumed.flush();
  CHECK(File(path, Mode::read_only).dataset_shape("steps/loss") == std::vector<int64_t>{9});
}
