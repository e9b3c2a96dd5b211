#pragma once
// The server's bookkeeping of a run: traffic by direction, step and epoch rows into the metrics file, and the
// progress line users watch. Only rank 0 (or the local process) has one.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "context.h"
#include "halves.h"
#include "checkpoint.h"
#include "mesl/comm/traffic.h"
#include "mesl/metrics/run_writer.h"

namespace mesl::train {

class Recorder {
 public:
  // Rows of the metrics file's tables that a checkpoint covers.
  struct Rows {
    int64_t steps = 0, epochs = 0, participants = 0;
  };
  // Creates the metrics file (or, resuming, reopens it keeping `steps_kept` / `epochs_kept` rows).
  Recorder(const RunContext& ctx, const std::vector<std::string>& hosts, std::optional<Rows> kept = std::nullopt);

  comm::Traffic& traffic() { return traffic_; }
  // Counts a message of split learning's traffic, and for `client` (0: for nobody in particular) in /clients.
  void count(comm::Direction d, uint64_t bytes, uint64_t header_bytes = 0, int64_t client = 0);
  // Client `client` finished its part of an epoch or round.
  void add_round(int64_t client);
  // The epoch's or round's participants (the /participants table and the epoch row's count).
  void set_participants(int64_t round, const std::vector<int64_t>& clients);
  // Which rank hosts each client (the /clients table's rank column; 0 for the local topology).
  void set_ranks(std::vector<int64_t> rank_of_client) { ranks_ = std::move(rank_of_client); }
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
  // What every rank used (the /ranks table, written at the next flush).
  void set_rank_rows(const std::vector<metrics::RankRow>& rows);
  double first_step_s() const { return first_step_s_; }
  void flush() { writer_.flush(); }
  const std::string& path() const { return writer_.path(); }
  double last_accuracy() const { return last_acc1_; }
  double elapsed() const;
  // What a checkpoint keeps of the bookkeeping (the rows themselves are in the metrics file).
  void save(torch::serialize::OutputArchive& a) const;
  void restore(torch::serialize::InputArchive& a);
  // Rows a checkpoint covers (to reopen the metrics file before anything else).
  static Rows rows_in(torch::serialize::InputArchive& a);

 private:
  void write_clients();
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
  std::vector<metrics::ClientRow> clients_;  // by client id - 1
  std::vector<int64_t> ranks_;
  int64_t participants_ = 0;                  // of the epoch in progress
  bool first_step_reported_ = false;
  double first_step_s_ = -1;  // process start to the first step's row (this process: a resumed run counts anew)
};

}  // namespace mesl::train
