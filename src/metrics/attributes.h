#pragma once
// Private to mesl_metrics: the root attributes of a metrics file.
#include <string>
#include <vector>

#include "mesl/h5/h5.h"
#include "mesl/metrics/run_writer.h"

namespace mesl::metrics::detail {

// MetricsError when an entry of the strings/ints/doubles maps would overwrite a fixed attribute (config, version,
// ...) or another entry. Called before the file is created, so that a bad call leaves nothing behind.
void check_attribute_names(const RunAttributes& attributes);

// Writes every root attribute: config, version, cut_shape, start_time, world_size, hosts and the map entries.
void write_run_attributes(const h5::Node& root, const RunAttributes& attributes);

// ["a", "b"]: a JSON list of strings, escaped per RFC 8259.
std::string json_string_list(const std::vector<std::string>& values);

// The current time as ISO 8601 UTC, e.g. 2026-11-22T15:04:05Z.
std::string utc_now_iso8601();

}  // namespace mesl::metrics::detail
