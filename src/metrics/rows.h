#pragma once
// Private to mesl_metrics: the rows of the metrics tables as table rows, field by field in column order.
#include "mesl/h5/table.h"
#include "mesl/metrics/run_writer.h"

namespace mesl::metrics::detail {

h5::Row to_row(const StepRow& step);
h5::Row to_row(const EpochRow& epoch);
// Column `column` (client_columns() order) of the /clients rows.
std::vector<int64_t> client_column(const std::vector<ClientRow>& rows, size_t column);
std::vector<double> rank_column(const std::vector<RankRow>& rows, size_t column);

}  // namespace mesl::metrics::detail
