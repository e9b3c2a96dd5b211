#pragma once
// The server's bookkeeping of a run: traffic by direction, step and epoch rows into the metrics file, and the
// progress line users watch. Only rank 0 (or the local process) has one.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "context.h"
#include "halves.h"
#include "checkpoint.h"
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
  // Marks the start of an epoch's training (or of its continuation after a resume): train_s runs from here to
  // the last step added.
  void start_training();
  void add_step(const metrics::StepRow& row);
  // Closes an epoch/round: the epoch row (cumulative bytes, wall and link seconds), message totals, a flush and,
  // unless quiet, a progress line on stdout.
  void end_epoch(int64_t epoch, const EvalCounts& test, double lr);
  void finish();  // the final summary line
  void flush() { writer_.flush(); }
  const std::string& path() const { return writer_.path(); }
  double last_accuracy() const { return last_acc1_; }
  double elapsed() const;
  // What a checkpoint keeps of the bookkeeping (the rows themselves are in the metrics file).
  void save(torch::serialize::OutputArchive& a) const;
  void restore(torch::serialize::InputArchive& a);
  // Rows a checkpoint covers (to reopen the metrics file before anything else).
  static std::pair<int64_t, int64_t> rows_in(torch::serialize::InputArchive& a);

 private:
  const RunContext& ctx_;
  metrics::RunWriter writer_;
  comm::Traffic traffic_;
  std::chrono::steady_clock::time_point start_;
  double elapsed_offset_ = 0;
  double loss_sum_ = 0;
  int64_t loss_samples_ = 0;
  double train_s_ = 0;  // this epoch's training time before the current stretch (resumed runs)
  std::chrono::steady_clock::time_point train_start_, last_step_;
  bool training_ = false;
  double last_acc1_ = 0;
};

}  // namespace mesl::train
