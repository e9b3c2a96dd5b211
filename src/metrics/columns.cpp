// The columns of /steps and /epochs: the StepRow and EpochRow fields, in field order.
#include <vector>

#include "mesl/metrics/run_writer.h"
#include "rows.h"

namespace mesl::metrics {

using h5::Column;
using h5::ColumnType;

// The two lists below and the two to_row() functions must change together; the tests check that every field
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
      {"train_s", ColumnType::float64},
  };
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
          e.train_s};
}

}  // namespace detail
}  // namespace mesl::metrics
