// Dataset names to format readers (formats.h).
#include "mesl/data/dataset.h"

#include "formats.h"
#include "mesl/error.h"

namespace mesl::data {
namespace {

struct Format {
  DatasetInfo (*info)(const DatasetOptions&);
  std::unique_ptr<Split> (*open)(const DatasetOptions&, bool);
};

Format format_of(const std::string& name) {
  if (name == "fashion-mnist" || name == "mnist") return {detail::idx_info, detail::open_idx};
  if (name == "cifar10" || name == "cifar100") return {detail::cifar_info, detail::open_cifar};
  if (name == "hdf5") return {detail::hdf5_info, detail::open_hdf5};
  if (name == "synthetic") return {detail::synthetic_info, detail::open_synthetic};
  std::string names;
  for (const auto& known : dataset_names()) names += (names.empty() ? "" : ", ") + known;
  throw ConfigError(::mesl::detail::concat("unknown dataset '", name, "'; use one of: ", names));
}

}  // namespace

const std::vector<std::string>& dataset_names() {
  static const std::vector<std::string> names{"fashion-mnist", "mnist", "cifar10", "cifar100", "hdf5", "synthetic"};
  return names;
}

DatasetInfo dataset_info(const DatasetOptions& options) { return format_of(options.name).info(options); }

std::unique_ptr<Split> open_split(const DatasetOptions& options, bool train) {
  return format_of(options.name).open(options, train);
}

}  // namespace mesl::data
