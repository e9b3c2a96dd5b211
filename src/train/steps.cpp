#include "steps.h"

#include <algorithm>

#include "mesl/codec/wire.h"
#include "mesl/error.h"

namespace mesl::train {

std::vector<int32_t> labels_of(const at::Tensor& labels) {
  const at::Tensor l = labels.to(at::kInt).contiguous();
  return std::vector<int32_t>(l.data_ptr<int32_t>(), l.data_ptr<int32_t>() + l.numel());
}

at::Tensor labels_tensor(const std::vector<int32_t>& labels) {
  return at::tensor(std::vector<int64_t>(labels.begin(), labels.end()), at::kLong);
}

size_t payload_header_bytes(const std::vector<uint8_t>& payload) {
  return codec::header_bytes(codec::read_header(payload.data(), payload.size()));
}

void complete_row(metrics::StepRow& row, const StepDone& done, double server_s) {
  row.decode_s += done.decode_s;
  row.compute_s += done.backward_s;
  row.comm_s = std::max(0.0, done.blocked_s - server_s);
}

void fail_nonfinite(const char* what, int64_t client, int64_t epoch, int64_t step) {
  throw TrainError(::mesl::detail::concat(what, " became NaN or Inf at step ", step, " of epoch ", epoch + 1,
                                          " (client ", client, "); lower --lr or check the data"));
}

}  // namespace mesl::train
