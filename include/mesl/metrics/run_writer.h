#pragma once
// The metrics file of one run, written by rank 0 (layout: docs/hdf5-layout.md).
//
//   /                 attributes: config (the full configuration, JSON), version, cut_shape (int64 vector,
//                     per sample), start_time (ISO 8601 UTC), world_size, hosts (JSON list), plus the
//                     convenience attributes method, codec (spec string), bpe (nominal bits per element of the
//                     forward codec), model, cut, dataset, topology, clients, seed
//   /steps            one row per training step (a client's batch through the server)
//   /epochs           one row per epoch (sequential, local) or round (sflv1, sflv2)
//   /messages         totals per message type (rewritten at every epoch): type, count, bytes, header_bytes
//   /clients          one row per client (rewritten at every epoch): id, rank, shard size, steps, bytes by
//                     direction, rounds taken part in
//   /participants     one row per client and epoch or round it was picked for: round, client
//   /ranks            one row per rank, written when the run ends: memory, client states, spills, start-up
//
// Every table is a group of 1-D datasets of equal length (mesl::h5::Table), flushed at least at every epoch.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "mesl/h5/table.h"

namespace mesl::metrics {

struct StepRow {
  int64_t step = 0;        // global step number, from 0, in the order the server processed them
  int64_t epoch = 0;       // from 0
  int64_t round = 0;       // from 0 (== epoch unless --local-steps makes rounds shorter)
  int64_t client = 0;      // the client's id, 1..N (its rank when every rank hosts one client)
  int64_t batch_size = 0;
  double loss = 0;         // training loss of the batch, as the server computed it
  int64_t fwd_bytes = 0;   // bytes of this step's forward payload (exact wire size)
  int64_t bwd_bytes = 0;   // bytes of this step's backward payload
  double encode_s = 0;     // forward encode (client) + backward encode (server)
  double decode_s = 0;     // forward decode (server) + backward decode (client)
  double compute_s = 0;    // bottom forward+backward (client) + top forward+backward+update (server)
  double comm_s = 0;       // time the client spent sending and waiting for the gradient, less server work
  double rel_error = 0;    // ||x - x_hat|| / ||x|| of the forward activations (0 for x == 0)
};

struct EpochRow {
  int64_t epoch = 0;
  double train_loss = 0;   // mean of the epoch's step losses, weighted by batch size
  double test_acc1 = 0;    // fractions in [0, 1]
  double test_acc5 = 0;
  int64_t fwd_bytes = 0;   // cumulative to the end of this epoch, training traffic
  int64_t bwd_bytes = 0;
  int64_t model_bytes = 0;
  int64_t control_bytes = 0;
  double wall_s = 0;       // wall-clock seconds since the run started (cumulative)
  double link_s = 0;       // simulated link seconds of all traffic so far (cumulative)
  double lr = 0;           // learning rate used in this epoch
  int64_t samples = 0;     // training samples in this epoch
  double train_s = 0;      // wall seconds of this epoch's training steps (evaluation and checkpoints excluded)
  int64_t participants = 0;  // clients picked for this epoch or round
};

// One client's totals (counted as if it were its own machine: docs/protocol.md, "Counting").
struct ClientRow {
  int64_t client = 0;       // 1..N
  int64_t rank = 0;         // the MPI rank that hosts it (the last run's placement, for a resumed run)
  int64_t shard_size = 0;   // training samples (0: it never trains)
  int64_t steps = 0;
  int64_t fwd_bytes = 0, bwd_bytes = 0, model_bytes = 0, control_bytes = 0;
  int64_t rounds = 0;       // epochs or rounds it took part in (finished)
};

// What one rank used (written when the run ends; a resumed run's rows describe its last attempt).
struct RankRow {
  int64_t rank = 0;
  int64_t clients = 0;              // clients it hosts (0: the server)
  int64_t peak_rss_bytes = 0;       // the process's peak resident memory (VmHWM)
  int64_t state_peak_bytes = 0;     // peak bytes of idle client states held in memory
  int64_t states_held = 0;          // client states it held at the end (in memory or spilled)
  int64_t state_bytes = 0;          // their bytes
  int64_t spill_writes = 0;         // states written to --state-dir, and read back
  int64_t spill_reads = 0;
  int64_t spill_peak_bytes = 0;     // peak bytes of spilled states on disk
  double spill_s = 0;               // seconds spent writing and reading them
  double first_step_s = 0;          // process start to its first training step (rank 0: to the first step's row)
};

struct MessageTotal {
  std::string type;          // fwd, bwd, model, control, eval_fwd, ...
  int64_t count = 0;
  int64_t bytes = 0;
  int64_t header_bytes = 0;  // of which codec payload headers
};

struct RunAttributes {
  std::string config_json;                    // the full configuration
  std::vector<int64_t> cut_shape;
  int64_t world_size = 1;
  std::vector<std::string> hosts;
  std::map<std::string, std::string> strings; // method, codec, model, dataset, topology, ...
  std::map<std::string, int64_t> ints;        // cut, clients, seed, ...
  std::map<std::string, double> doubles;      // bpe, ...
};

class RunWriter {
 public:
  // Creates (truncating) the file and writes the attributes. Throws MetricsError naming the path when it cannot be
  // written; call this before any training so that a bad --output costs nothing.
  static RunWriter create(const std::string& path, const RunAttributes& attributes);
  // Reopens the file of an interrupted run and drops rows beyond what the checkpoint covers, so that the resumed
  // run continues it without gaps or duplicates.
  static RunWriter resume(const std::string& path, int64_t steps_kept, int64_t epochs_kept,
                          int64_t participants_kept = 0);
  // The configuration JSON (root attribute `config`) of an existing metrics file, read without changing it.
  // Throws MetricsError naming the path when it is not an HDF5 file or has no such attribute.
  static std::string stored_config(const std::string& path);

  void append_step(const StepRow& row);
  void append_epoch(const EpochRow& row);                          // also flushes the file
  void set_message_totals(const std::vector<MessageTotal>& totals);  // replaces /messages at the next flush
  void set_clients(const std::vector<ClientRow>& clients);            // replaces /clients at the next flush
  void set_ranks(const std::vector<RankRow>& ranks);                  // replaces /ranks at the next flush
  void append_participants(int64_t round, const std::vector<int64_t>& clients);
  void flush();
  int64_t steps() const;
  int64_t epochs() const;
  int64_t participant_rows() const;
  const std::string& path() const;

 private:
  struct Impl;
  explicit RunWriter(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

// Column names, in order, as stored (shared with tests and docs).
const std::vector<h5::Column>& step_columns();
const std::vector<h5::Column>& epoch_columns();
const std::vector<h5::Column>& client_columns();
const std::vector<h5::Column>& participant_columns();
const std::vector<h5::Column>& rank_columns();

}  // namespace mesl::metrics
