// The layer modules of include/mesl/models/blocks.h.
#include "mesl/models/blocks.h"

#include <ostream>
#include <utility>

#include "mesl/util/torch_compat.h"

namespace mesl::models {

namespace {

torch::nn::Conv2d make_conv(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t padding, bool bias) {
  return torch::nn::Conv2d(
      torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding).bias(bias));
}

}  // namespace

// ---- ConvBnRelu ----------------------------------------------------------------------------------------------

ConvBnReluImpl::ConvBnReluImpl(const ConvBnReluOptions& options_) : options(options_) { reset(); }

ConvBnReluImpl::ConvBnReluImpl(torch::nn::Conv2d conv_, torch::nn::BatchNorm2d bn_)
    : options(conv_->options.in_channels(), conv_->options.out_channels(), conv_->options.kernel_size()->at(0)) {
  const auto& conv_options = conv_->options;
  options.stride(conv_options.stride()->at(0)).bias(conv_options.bias());
  // Only the integer padding of the blocks built here can be read back; anything else would not clone faithfully.
  const auto* padding = compat::get_if<torch::ExpandingArray<2>>(&conv_options.padding());
  TORCH_CHECK(padding != nullptr, "ConvBnRelu adopts convolutions with explicit integer padding only");
  options.padding((*padding)->at(0));
  TORCH_CHECK(bn_->options.num_features() == options.out_channels(), "ConvBnRelu needs a BatchNorm2d over the ",
              options.out_channels(), " conv outputs; got one over ", bn_->options.num_features());
  conv = register_module("conv", std::move(conv_));
  bn = register_module("bn", std::move(bn_));
}

void ConvBnReluImpl::reset() {
  conv = register_module("conv", make_conv(options.in_channels(), options.out_channels(), options.kernel_size(),
                                           options.stride(), options.padding(), options.bias()));
  bn = register_module("bn", torch::nn::BatchNorm2d(options.out_channels()));
}

torch::Tensor ConvBnReluImpl::forward(const torch::Tensor& input) {
  auto out = torch::relu(bn->forward(conv->forward(input)));
  if (options.pool_kernel() > 0) {
    const int64_t stride = options.pool_stride() > 0 ? options.pool_stride() : options.pool_kernel();
    out = torch::max_pool2d(out, options.pool_kernel(), stride, options.pool_padding());
  }
  return out;
}

void ConvBnReluImpl::pretty_print(std::ostream& stream) const {
  stream << "mesl::models::ConvBnRelu(" << options.in_channels() << "->" << options.out_channels() << ", conv"
         << options.kernel_size() << 'x' << options.kernel_size() << ", stride=" << options.stride()
         << ", padding=" << options.padding() << ", bias=" << (options.bias() ? "true" : "false");
  if (options.pool_kernel() > 0) {
    const int64_t stride = options.pool_stride() > 0 ? options.pool_stride() : options.pool_kernel();
    stream << ", max_pool=" << options.pool_kernel() << 'x' << options.pool_kernel() << "/" << stride;
    if (options.pool_padding() > 0) stream << " pad " << options.pool_padding();
  }
  stream << ')';
}

// ---- BasicBlock ----------------------------------------------------------------------------------------------

BasicBlockImpl::BasicBlockImpl(const BasicBlockOptions& options_) : options(options_) { reset(); }

void BasicBlockImpl::reset() {
  const int64_t in = options.in_channels(), out = options.out_channels(), stride = options.stride();
  conv1 = register_module("conv1", make_conv(in, out, 3, stride, 1, false));
  bn1 = register_module("bn1", torch::nn::BatchNorm2d(out));
  conv2 = register_module("conv2", make_conv(out, out, 3, 1, 1, false));
  bn2 = register_module("bn2", torch::nn::BatchNorm2d(out));
  if (stride != 1 || in != out) {
    projection = register_module(
        "projection", torch::nn::Sequential(make_conv(in, out, 1, stride, 0, false), torch::nn::BatchNorm2d(out)));
  } else {
    projection = torch::nn::Sequential(nullptr);
  }
}

torch::Tensor BasicBlockImpl::forward(const torch::Tensor& input) {
  auto out = torch::relu(bn1->forward(conv1->forward(input)));
  out = bn2->forward(conv2->forward(out));
  out = out + (has_projection() ? projection->forward(input) : input);
  return torch::relu(out);
}

void BasicBlockImpl::pretty_print(std::ostream& stream) const {
  stream << "mesl::models::BasicBlock(" << options.in_channels() << "->" << options.out_channels()
         << ", stride=" << options.stride() << ", shortcut=" << (has_projection() ? "projection" : "identity") << ')';
}

std::pair<ConvBnRelu, ConvBnRelu> BasicBlockImpl::split_plain() const {
  return {ConvBnRelu(conv1, bn1), ConvBnRelu(conv2, bn2)};
}

// ---- ConvReluPool --------------------------------------------------------------------------------------------

ConvReluPoolImpl::ConvReluPoolImpl(const ConvReluPoolOptions& options_) : options(options_) { reset(); }

void ConvReluPoolImpl::reset() {
  conv = register_module("conv", make_conv(options.in_channels(), options.out_channels(), options.kernel_size(), 1,
                                           options.padding(), true));
}

torch::Tensor ConvReluPoolImpl::forward(const torch::Tensor& input) {
  return torch::max_pool2d(torch::relu(conv->forward(input)), options.pool_kernel());
}

void ConvReluPoolImpl::pretty_print(std::ostream& stream) const {
  stream << "mesl::models::ConvReluPool(" << options.in_channels() << "->" << options.out_channels() << ", conv"
         << options.kernel_size() << 'x' << options.kernel_size() << ", padding=" << options.padding()
         << ", max_pool=" << options.pool_kernel() << 'x' << options.pool_kernel() << ')';
}

// ---- Dense ---------------------------------------------------------------------------------------------------

DenseImpl::DenseImpl(const DenseOptions& options_) : options(options_) { reset(); }

void DenseImpl::reset() {
  linear = register_module("linear", torch::nn::Linear(options.in_features(), options.out_features()));
}

torch::Tensor DenseImpl::forward(const torch::Tensor& input) {
  auto out = linear->forward(options.flatten() ? input.flatten(1) : input);
  return options.relu() ? torch::relu(out) : out;
}

void DenseImpl::pretty_print(std::ostream& stream) const {
  stream << "mesl::models::Dense(" << options.in_features() << "->" << options.out_features()
         << ", flatten=" << (options.flatten() ? "true" : "false") << ", relu=" << (options.relu() ? "true" : "false")
         << ')';
}

// ---- PooledLinear --------------------------------------------------------------------------------------------

PooledLinearImpl::PooledLinearImpl(const PooledLinearOptions& options_) : options(options_) { reset(); }

void PooledLinearImpl::reset() {
  linear = register_module("linear", torch::nn::Linear(options.in_channels(), options.num_classes()));
}

torch::Tensor PooledLinearImpl::forward(const torch::Tensor& input) {
  return linear->forward(torch::adaptive_avg_pool2d(input, {1, 1}).flatten(1));
}

void PooledLinearImpl::pretty_print(std::ostream& stream) const {
  stream << "mesl::models::PooledLinear(" << options.in_channels() << "->" << options.num_classes() << ')';
}

}  // namespace mesl::models
