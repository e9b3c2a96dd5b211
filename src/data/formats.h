#pragma once
// One reader per dataset format; dataset.cpp dispatches on DatasetOptions::name. Each `*_info` checks the files
// (existence, headers, sizes) and describes the dataset; each `open_*` returns one split.
#include <memory>

#include "mesl/data/dataset.h"

namespace mesl::data::detail {

// fashion-mnist and mnist: IDX files, gzip-compressed or not.
DatasetInfo idx_info(const DatasetOptions& options);
std::unique_ptr<Split> open_idx(const DatasetOptions& options, bool train);

// cifar10 and cifar100: the binary versions.
DatasetInfo cifar_info(const DatasetOptions& options);
std::unique_ptr<Split> open_cifar(const DatasetOptions& options, bool train);

// hdf5: train.h5 / test.h5 image sets, streamed from disk.
DatasetInfo hdf5_info(const DatasetOptions& options);
std::unique_ptr<Split> open_hdf5(const DatasetOptions& options, bool train);

// synthetic: generated from the seed, one sample at a time.
DatasetInfo synthetic_info(const DatasetOptions& options);
std::unique_ptr<Split> open_synthetic(const DatasetOptions& options, bool train);

}  // namespace mesl::data::detail
