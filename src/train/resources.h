#pragma once
// What a rank used, for the metrics file's /ranks table (docs/hdf5-layout.md): its peak resident memory and the
// time since its process started (Linux /proc; -1 where unknown), and its report as a byte string for the message
// a client rank sends the coordinator when the run ends.
#include <cstdint>
#include <vector>

#include "mesl/metrics/run_writer.h"

namespace mesl::train {

class StateStore;

double seconds_since_process_start();
int64_t peak_rss_bytes();

// This rank's row: `store` may be null (the server holds no client states).
metrics::RankRow rank_report(int rank, int64_t clients, const StateStore* store, double first_step_s);
std::vector<uint8_t> serialize(const metrics::RankRow& row);
metrics::RankRow parse_rank_report(const std::vector<uint8_t>& bytes);  // throws CommError when malformed

}  // namespace mesl::train
