// The columns of /steps, /epochs and /clients: the StepRow, EpochRow and ClientRow fields, in field order.
#include <vector>

#include "mesl/metrics/run_writer.h"
#include "rows.h"

namespace mesl::metrics {

using h5::Column;
using h5::ColumnType;

// The lists below and the to_row() / client_column() functions must change together; the tests check that every field
// reaches the column of its name.
const std::vector<Column>& step_columns() {
  static const std::vector<Column> columns = {
      {"step", ColumnType::int64},       {"epoch", ColumnType::int64},      {"round", ColumnType::int64},
      {"client", ColumnType::int64},     {"batch_size", ColumnType::int64}, {"loss", ColumnType::float64},
      {"fwd_bytes", ColumnType::int64},  {"bwd_bytes", ColumnType::int64},  {"encode_s", ColumnType::float64},
      {"decode_s", ColumnType::float64}, {"compute_s", ColumnType::float64}, {"comm_s", ColumnType::float64},
      {"rel_error", ColumnType::float64},
  };
  return columns;
}

const std::vector<Column>& epoch_columns() {
  static const std::vector<Column> columns = {
      {"epoch", ColumnType::int64},         {"train_loss", ColumnType::float64}, {"test_acc1", ColumnType::float64},
      {"test_acc5", ColumnType::float64},   {"fwd_bytes", ColumnType::int64},    {"bwd_bytes", ColumnType::int64},
      {"model_bytes", ColumnType::int64},   {"control_bytes", ColumnType::int64}, {"wall_s", ColumnType::float64},
      {"link_s", ColumnType::float64},      {"lr", ColumnType::float64},         {"samples", ColumnType::int64},
      {"train_s", ColumnType::float64},     {"participants", ColumnType::int64},
  };
  return columns;
}

const std::vector<Column>& client_columns() {
  static const std::vector<Column> columns = {
      {"client", ColumnType::int64},      {"rank", ColumnType::int64},        {"shard_size", ColumnType::int64},
      {"steps", ColumnType::int64},       {"fwd_bytes", ColumnType::int64},   {"bwd_bytes", ColumnType::int64},
      {"model_bytes", ColumnType::int64}, {"control_bytes", ColumnType::int64}, {"rounds", ColumnType::int64},
  };
  return columns;
}

const std::vector<Column>& rank_columns() {
  static const std::vector<Column> columns = {
      {"rank", ColumnType::int64},           {"clients", ColumnType::int64},
      {"peak_rss_bytes", ColumnType::int64}, {"state_peak_bytes", ColumnType::int64},
      {"states_held", ColumnType::int64},    {"state_bytes", ColumnType::int64},
      {"spill_writes", ColumnType::int64},
      {"spill_reads", ColumnType::int64},    {"spill_peak_bytes", ColumnType::int64},
      {"spill_s", ColumnType::float64},      {"first_step_s", ColumnType::float64},
  };
  return columns;
}

const std::vector<Column>& participant_columns() {
  static const std::vector<Column> columns = {{"round", ColumnType::int64}, {"client", ColumnType::int64}};
  return columns;
}

namespace detail {

// int64 fields travel as doubles (h5::Row); the table checks that each is exact (|v| <= 2^53, far beyond any
// byte count or step number a run reaches).
h5::Row to_row(const StepRow& s) {
  return {static_cast<double>(s.step),      static_cast<double>(s.epoch),     static_cast<double>(s.round),
          static_cast<double>(s.client),    static_cast<double>(s.batch_size), s.loss,
          static_cast<double>(s.fwd_bytes), static_cast<double>(s.bwd_bytes), s.encode_s,
          s.decode_s,                       s.compute_s,                      s.comm_s,
          s.rel_error};
}

h5::Row to_row(const EpochRow& e) {
  return {static_cast<double>(e.epoch),         e.train_loss,
          e.test_acc1,                          e.test_acc5,
          static_cast<double>(e.fwd_bytes),     static_cast<double>(e.bwd_bytes),
          static_cast<double>(e.model_bytes),   static_cast<double>(e.control_bytes),
          e.wall_s,                             e.link_s,
          e.lr,                                 static_cast<double>(e.samples),
          e.train_s,                            static_cast<double>(e.participants)};
}

std::vector<int64_t> client_column(const std::vector<ClientRow>& rows, size_t column) {
  std::vector<int64_t> out;
  out.reserve(rows.size());
  for (const ClientRow& r : rows) {
    const int64_t fields[] = {r.client,    r.rank,      r.shard_size,  r.steps, r.fwd_bytes,
                              r.bwd_bytes, r.model_bytes, r.control_bytes, r.rounds};
    out.push_back(fields[column]);
  }
  return out;
}

std::vector<double> rank_column(const std::vector<RankRow>& rows, size_t column) {
  std::vector<double> out;
  out.reserve(rows.size());
  for (const RankRow& r : rows) {
    const double fields[] = {static_cast<double>(r.rank),          static_cast<double>(r.clients),
                             static_cast<double>(r.peak_rss_bytes), static_cast<double>(r.state_peak_bytes),
                             static_cast<double>(r.states_held),    static_cast<double>(r.state_bytes),
                             static_cast<double>(r.spill_writes),
                             static_cast<double>(r.spill_reads),    static_cast<double>(r.spill_peak_bytes),
                             r.spill_s,                             r.first_step_s};
    out.push_back(fields[column]);
  }
  return out;
}

}  // namespace detail
}  // namespace mesl::metrics
