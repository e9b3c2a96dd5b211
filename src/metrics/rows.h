#pragma once
// Private to mesl_metrics: the rows of the metrics tables as table rows, field by field in column order.
#include "mesl/h5/table.h"
#include "mesl/metrics/run_writer.h"

namespace mesl::metrics::detail {

h5::Row to_row(const StepRow& step);
h5::Row to_row(const EpochRow& epoch);

}  // namespace mesl::metrics::detail
