#pragma once
// Small pieces of a training step that the client and the server sides share: labels on the wire, the codec
// payload's header size (for the traffic counts), completing a step's row, and the NaN/Inf report.
#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

#include "mesl/metrics/run_writer.h"
#include "protocol.h"

namespace mesl::train {

std::vector<int32_t> labels_of(const at::Tensor& labels);
at::Tensor labels_tensor(const std::vector<int32_t>& labels);

// The header bytes of a codec payload (for the traffic counts).
size_t payload_header_bytes(const std::vector<uint8_t>& payload);

// Completes a step row with the client's report after its backward.
void complete_row(metrics::StepRow& row, const StepDone& done, double server_s);

// Throws TrainError saying that `what` became NaN or Inf, with the step and client named.
[[noreturn]] void fail_nonfinite(const char* what, int64_t client, int64_t epoch, int64_t step);

}  // namespace mesl::train
