// Dataset names to format readers (formats.h).
#include "mesl/data/dataset.h"

#include <algorithm>

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

namespace {

class MemorySplit : public Split {
 public:
  MemorySplit(const Split& source, std::vector<int64_t> indices) : source_(source), indices_(std::move(indices)) {
    std::sort(indices_.begin(), indices_.end());
    indices_.erase(std::unique(indices_.begin(), indices_.end()), indices_.end());
    images_ = source.read(indices_);
  }
  int64_t size() const override { return source_.size(); }
  const std::vector<int64_t>& labels() const override { return source_.labels(); }
  at::Tensor read(const std::vector<int64_t>& indices) const override {
    std::vector<int64_t> rows(indices.size());
    for (size_t i = 0; i < indices.size(); ++i) {
      const auto it = std::lower_bound(indices_.begin(), indices_.end(), indices[i]);
      MESL_CHECK(it != indices_.end() && *it == indices[i], DataError, "sample ", indices[i],
                 " is not among the samples this rank keeps in memory");
      rows[i] = it - indices_.begin();
    }
    return images_.index_select(0, at::tensor(rows, at::kLong));
  }

 private:
  const Split& source_;
  std::vector<int64_t> indices_;  // ascending
  at::Tensor images_;             // uint8, one row per entry of indices_
};

}  // namespace

std::unique_ptr<Split> keep_in_memory(const Split& split, std::vector<int64_t> indices) {
  return std::make_unique<MemorySplit>(split, std::move(indices));
}

}  // namespace mesl::data
