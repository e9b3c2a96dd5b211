#pragma once
// A whole 1-D dataset of an HDF5 file as doubles (integer columns included): how the C++ tests read back the
// tables mesl writes (metrics files, run files of the training tests).
#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "mesl/h5/h5.h"

namespace mesl::testing {

inline std::vector<double> column(const h5::File& file, const std::string& dataset) {
  const at::Tensor values = file.read_tensor(dataset).to(at::kDouble).contiguous();
  return std::vector<double>(values.data_ptr<double>(), values.data_ptr<double>() + values.numel());
}

}  // namespace mesl::testing
