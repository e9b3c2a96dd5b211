#pragma once
// The server's bookkeeping of a run: traffic by direction, step and epoch rows into the metrics file, and the
// progress line users watch. Only rank 0 (or the local process) has one.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "context.h"
#include "halves.h"
#include "mesl/comm/traffic.h"
#include "mesl/metrics/run_writer.h"

namespace mesl::train {

class Recorder {
 public:
  // Creates the metrics file (or, resuming, reopens it keeping `steps_kept` / `epochs_kept` rows).
  Recorder(const RunContext& ctx, const std::vector<std::string>& hosts, int64_t steps_kept = -1,
           int64_t epochs_kept = -1);

  comm::Traffic& traffic() { return traffic_; }
  int64_t next_step() const { return writer_.steps(); }
  int64_t epochs_done() const { return writer_.epochs(); }
  void add_step(const metrics::StepRow& row);
  // Closes an epoch/round: the epoch row (cumulative bytes, wall and link seconds), message totals, a flush and,
  // unless quiet, a progress line on stdout.
  void end_epoch(int64_t epoch, const EvalCounts& test, double lr);
  void finish();  // the final summary line
  const std::string& path() const { return writer_.path(); }
  double last_accuracy() const { return last_acc1_; }
  // Carries wall-clock time over a resume.
  void set_elapsed_offset(double seconds) { elapsed_offset_ = seconds; }
  double elapsed() const;
  // Traffic restored from a checkpoint.
  void set_traffic(const comm::Traffic& t) { traffic_ = t; }

 private:
  const RunContext& ctx_;
  metrics::RunWriter writer_;
  comm::Traffic traffic_;
  std::chrono::steady_clock::time_point start_;
  double elapsed_offset_ = 0;
  double loss_sum_ = 0;
  int64_t loss_samples_ = 0;
  double last_acc1_ = 0;
};

}  // namespace mesl::train
