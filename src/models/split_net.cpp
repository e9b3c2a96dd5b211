// make_split_net and layer_table: build a whole network, then cut it after a numbered layer.
#include "mesl/error.h"
#include "mesl/models/model.h"
#include "network.h"

#include <utility>

namespace mesl::models {

namespace {

// Fills in the model's defaults and refuses inputs the network cannot take.
detail::Input resolve_input(const ModelInfo& info, const ModelOptions& options) {
  MESL_CHECK(options.num_classes() >= 1, ModelError, "num_classes must be at least 1; got ", options.num_classes());
  MESL_CHECK(options.in_channels() >= 0, ModelError, "in_channels must be positive (or 0 for the default of ",
             info.default_in_channels, "); got ", options.in_channels());
  MESL_CHECK(options.image_size() >= 0, ModelError, "image_size must be positive (or 0 for the default of ",
             info.default_image_size, "); got ", options.image_size());
  detail::Input input;
  input.channels = options.in_channels() > 0 ? options.in_channels() : info.default_in_channels;
  input.image_size = options.image_size() > 0 ? options.image_size() : info.default_image_size;
  MESL_CHECK(input.image_size >= info.min_image_size, ModelError, info.name, " needs an image_size of at least ",
             info.min_image_size, "; got ", input.image_size);
  MESL_CHECK(input.image_size % info.image_size_multiple == 0, ModelError, info.name,
             " needs an image_size divisible by ", info.image_size_multiple, "; got ", input.image_size);
  return input;
}

detail::Network build_network(const ModelInfo& info, const detail::Input& input, int64_t num_classes) {
  return detail::builder(info)(input, num_classes);
}

// Puts modules in eval mode for a shape probe and restores their previous mode on the way out, exceptions too.
class EvalModeGuard {
 public:
  explicit EvalModeGuard(std::vector<std::shared_ptr<torch::nn::Module>> modules) : modules_(std::move(modules)) {
    for (const auto& module : modules_) {
      was_training_.push_back(module->is_training());
      module->eval();
    }
  }
  ~EvalModeGuard() {
    for (size_t i = 0; i < modules_.size(); ++i) modules_[i]->train(was_training_[i]);
  }
  EvalModeGuard(const EvalModeGuard&) = delete;
  EvalModeGuard& operator=(const EvalModeGuard&) = delete;

 private:
  std::vector<std::shared_ptr<torch::nn::Module>> modules_;
  std::vector<bool> was_training_;
};

std::vector<int64_t> per_sample_shape(const torch::Tensor& batch) {
  const auto sizes = batch.sizes();
  return {sizes.begin() + 1, sizes.end()};
}

torch::Tensor zero_sample(const detail::Input& input) {
  return torch::zeros({1, input.channels, input.image_size, input.image_size});
}

}  // namespace

SplitNet make_split_net(const ModelOptions& options, int64_t cut) {
  const ModelInfo& info = model_info(options.name());
  detail::check_cut(info, cut);
  const detail::Input input = resolve_input(info, options);
  detail::Network network = build_network(info, input, options.num_classes());

  SplitNet net;
  net.cut = cut;
  net.bottom = torch::nn::Sequential();
  net.top = torch::nn::Sequential();
  for (detail::Piece& piece : network) {
    if (piece.last_layer <= cut) {
      net.bottom->push_back(std::move(piece.module));
    } else if (piece.first_layer > cut) {
      net.top->push_back(std::move(piece.module));
    } else {
      // The cut falls between the two convs of a residual block: the mid-block rule of model.h.
      TORCH_INTERNAL_ASSERT(!piece.block.is_empty(), "only residual blocks span two layers");
      auto [first, second] = piece.block->split_plain();
      net.bottom->push_back(first);
      net.top->push_back(second);
    }
  }

  net.input_shape = {input.channels, input.image_size, input.image_size};
  torch::NoGradGuard no_grad;
  EvalModeGuard eval_mode({net.bottom.ptr()});
  net.cut_shape = per_sample_shape(net.bottom->forward(zero_sample(input)));
  return net;
}

std::vector<LayerInfo> layer_table(const ModelOptions& options) {
  const ModelInfo& info = model_info(options.name());
  const detail::Input input = resolve_input(info, options);
  detail::Network network = build_network(info, input, options.num_classes());

  std::vector<LayerInfo> table;
  torch::NoGradGuard no_grad;
  torch::Tensor x = zero_sample(input);
  for (detail::Piece& piece : network) {
    const auto module = piece.module.ptr();
    EvalModeGuard eval_mode({module});
    if (piece.block.is_empty()) {
      x = piece.module.forward<torch::Tensor>(x);
      table.push_back({piece.first_layer, piece.holds.at(0), per_sample_shape(x), num_parameters(*module)});
      continue;
    }
    // A block's first layer is probed through its plain first half; the block's own output gives the second.
    auto [first, second] = piece.block->split_plain();
    const auto first_shape = per_sample_shape(first->forward(x));
    const int64_t first_parameters = num_parameters(*first);
    x = piece.module.forward<torch::Tensor>(x);
    table.push_back({piece.first_layer, piece.holds.at(0), first_shape, first_parameters});
    table.push_back({piece.last_layer, piece.holds.at(1), per_sample_shape(x), num_parameters(*module) - first_parameters});
  }
  return table;
}

int64_t num_parameters(const torch::nn::Module& module) {
  int64_t total = 0;
  for (const auto& parameter : module.parameters()) total += parameter.numel();
  return total;
}

}  // namespace mesl::models
