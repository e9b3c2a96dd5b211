#pragma once
// The building blocks of mesl's split networks, in the PyTorch C++ frontend's options/module-holder idiom: each one
// is a numbered layer (or, for BasicBlock, two). They are modules with a plain Tensor -> Tensor forward() rather
// than nested torch::nn::Sequentials, because a Sequential cannot hold another Sequential; and they are all
// Cloneable, so a SplitNet's bottom or top can be deep-copied with clone().
#include <torch/torch.h>

#include <cstdint>
#include <utility>

namespace mesl::models {

// conv(kernel x kernel) -> BatchNorm2d -> ReLU -> optional max-pool. One numbered layer of VGG19, the ResNet stems,
// and each half of a ResNet block that a cut splits (see BasicBlockImpl::split_plain).
struct ConvBnReluOptions {
  ConvBnReluOptions(int64_t in_channels, int64_t out_channels, int64_t kernel_size)
      : in_channels_(in_channels), out_channels_(out_channels), kernel_size_(kernel_size) {}
  TORCH_ARG(int64_t, in_channels);
  TORCH_ARG(int64_t, out_channels);
  TORCH_ARG(int64_t, kernel_size);
  TORCH_ARG(int64_t, stride) = 1;
  TORCH_ARG(int64_t, padding) = 0;
  TORCH_ARG(bool, bias) = false;           // VGG keeps the conv bias in front of its BatchNorm, ResNet does not
  TORCH_ARG(int64_t, pool_kernel) = 0;     // 0: no pooling
  TORCH_ARG(int64_t, pool_stride) = 0;     // 0: the pool kernel
  TORCH_ARG(int64_t, pool_padding) = 0;
};

class ConvBnReluImpl : public torch::nn::Cloneable<ConvBnReluImpl> {
 public:
  explicit ConvBnReluImpl(const ConvBnReluOptions& options);
  // Adopts an existing convolution and batch norm (their parameters are shared, not copied); no pooling. The
  // options are read back from the modules so that clone() can rebuild the same shapes.
  ConvBnReluImpl(torch::nn::Conv2d conv, torch::nn::BatchNorm2d bn);

  void reset() override;
  torch::Tensor forward(const torch::Tensor& input);
  void pretty_print(std::ostream& stream) const override;

  ConvBnReluOptions options;
  torch::nn::Conv2d conv{nullptr};
  torch::nn::BatchNorm2d bn{nullptr};
};
TORCH_MODULE(ConvBnRelu);

// The ResNet BasicBlock: relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)), both convs 3x3 without bias. The
// shortcut is the identity, or a 1x1 conv (with the block's stride) + BatchNorm when the shape changes.
struct BasicBlockOptions {
  BasicBlockOptions(int64_t in_channels, int64_t out_channels) : in_channels_(in_channels), out_channels_(out_channels) {}
  TORCH_ARG(int64_t, in_channels);
  TORCH_ARG(int64_t, out_channels);
  TORCH_ARG(int64_t, stride) = 1;
};

class BasicBlockImpl : public torch::nn::Cloneable<BasicBlockImpl> {
 public:
  explicit BasicBlockImpl(const BasicBlockOptions& options);

  void reset() override;
  torch::Tensor forward(const torch::Tensor& input);
  void pretty_print(std::ostream& stream) const override;

  // True when the shortcut is a 1x1 conv + BatchNorm rather than the identity.
  bool has_projection() const { return !projection.is_empty(); }

  // The block as two plain layers, for a cut between its two convs: the activation that crosses the link cannot
  // carry the shortcut's input along, so the shortcut is dropped (with its weights, if it was a projection).
  // first = conv1-bn1-ReLU, second = conv2-bn2-ReLU; they share this block's conv and batch-norm modules.
  std::pair<ConvBnRelu, ConvBnRelu> split_plain() const;

  BasicBlockOptions options;
  torch::nn::Conv2d conv1{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr};
  torch::nn::Conv2d conv2{nullptr};
  torch::nn::BatchNorm2d bn2{nullptr};
  torch::nn::Sequential projection{nullptr};  // empty (null) for an identity shortcut
};
TORCH_MODULE(BasicBlock);

// conv(kernel x kernel) -> ReLU -> max-pool, no BatchNorm: the small CNN's conv layers.
struct ConvReluPoolOptions {
  ConvReluPoolOptions(int64_t in_channels, int64_t out_channels) : in_channels_(in_channels), out_channels_(out_channels) {}
  TORCH_ARG(int64_t, in_channels);
  TORCH_ARG(int64_t, out_channels);
  TORCH_ARG(int64_t, kernel_size) = 3;
  TORCH_ARG(int64_t, padding) = 1;
  TORCH_ARG(int64_t, pool_kernel) = 2;  // stride = kernel
};

class ConvReluPoolImpl : public torch::nn::Cloneable<ConvReluPoolImpl> {
 public:
  explicit ConvReluPoolImpl(const ConvReluPoolOptions& options);

  void reset() override;
  torch::Tensor forward(const torch::Tensor& input);
  void pretty_print(std::ostream& stream) const override;

  ConvReluPoolOptions options;
  torch::nn::Conv2d conv{nullptr};
};
TORCH_MODULE(ConvReluPool);

// [flatten ->] linear -> [ReLU]: the fully connected layers of the CNN and VGG19.
struct DenseOptions {
  DenseOptions(int64_t in_features, int64_t out_features) : in_features_(in_features), out_features_(out_features) {}
  TORCH_ARG(int64_t, in_features);
  TORCH_ARG(int64_t, out_features);
  TORCH_ARG(bool, flatten) = false;  // flatten [N, C, H, W] to [N, C*H*W] first
  TORCH_ARG(bool, relu) = true;      // false for the logits layer
};

class DenseImpl : public torch::nn::Cloneable<DenseImpl> {
 public:
  explicit DenseImpl(const DenseOptions& options);

  void reset() override;
  torch::Tensor forward(const torch::Tensor& input);
  void pretty_print(std::ostream& stream) const override;

  DenseOptions options;
  torch::nn::Linear linear{nullptr};
};
TORCH_MODULE(Dense);

// Global average pooling -> flatten -> linear: the ResNet classifier.
struct PooledLinearOptions {
  PooledLinearOptions(int64_t in_channels, int64_t num_classes) : in_channels_(in_channels), num_classes_(num_classes) {}
  TORCH_ARG(int64_t, in_channels);
  TORCH_ARG(int64_t, num_classes);
};

class PooledLinearImpl : public torch::nn::Cloneable<PooledLinearImpl> {
 public:
  explicit PooledLinearImpl(const PooledLinearOptions& options);

  void reset() override;
  torch::Tensor forward(const torch::Tensor& input);
  void pretty_print(std::ostream& stream) const override;

  PooledLinearOptions options;
  torch::nn::Linear linear{nullptr};
};
TORCH_MODULE(PooledLinear);

}  // namespace mesl::models
