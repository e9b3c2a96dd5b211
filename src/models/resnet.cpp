// ResNet18 (CIFAR stem) and ResNet34 (ImageNet stem) as numbered layers: the stem, two layers per BasicBlock, and
// the pooled linear classifier.
#include "network.h"

#include <array>
#include <string>

namespace mesl::models::detail {

namespace {

std::string conv3x3_text(int64_t in, int64_t out, int64_t stride) {
  std::string text = "conv3x3(" + std::to_string(in) + "->" + std::to_string(out);
  if (stride != 1) text += ", stride " + std::to_string(stride);
  return text + ")-BN";
}

Network build_resnet(const Input& input, int64_t num_classes, const std::array<int64_t, 4>& blocks_per_stage,
                     bool imagenet_stem) {
  Network net;
  if (imagenet_stem) {
    auto stem = ConvBnReluOptions(input.channels, 64, 7).stride(2).padding(3).pool_kernel(3).pool_stride(2).pool_padding(1);
    net.push_back(single_layer(1, ConvBnRelu(stem),
                               "stem: conv7x7(" + std::to_string(input.channels) +
                                   "->64, stride 2)-BN-ReLU-maxpool3x3 stride 2"));
  } else {
    auto stem = ConvBnReluOptions(input.channels, 64, 3).padding(1);
    net.push_back(single_layer(1, ConvBnRelu(stem), "stem: conv3x3(" + std::to_string(input.channels) + "->64)-BN-ReLU"));
  }
  int64_t in = 64;
  int64_t layer = 2;
  int64_t block_number = 1;
  for (size_t stage = 0; stage < blocks_per_stage.size(); ++stage) {
    const int64_t out = int64_t{64} << stage;
    for (int64_t b = 0; b < blocks_per_stage[stage]; ++b, ++block_number) {
      const int64_t stride = (stage > 0 && b == 0) ? 2 : 1;
      Piece piece;
      piece.block = BasicBlock(BasicBlockOptions(in, out).stride(stride));
      piece.module = torch::nn::AnyModule(piece.block);
      piece.first_layer = layer;
      piece.last_layer = layer + 1;
      const std::string name = "block " + std::to_string(block_number) + " (stage " + std::to_string(stage + 1) + ")";
      piece.holds.push_back(name + " conv a: " + conv3x3_text(in, out, stride) + "-ReLU");
      piece.holds.push_back(name + " conv b: " + conv3x3_text(out, out, 1) + " + " +
                            (piece.block->has_projection()
                                 ? "projection shortcut conv1x1(" + std::to_string(in) + "->" + std::to_string(out) +
                                       (stride != 1 ? ", stride " + std::to_string(stride) : std::string()) + ")-BN"
                                 : std::string("identity shortcut")) +
                            ", ReLU");
      net.push_back(std::move(piece));
      layer += 2;
      in = out;
    }
  }
  net.push_back(single_layer(
      layer,
      PooledLinear(PooledLinearOptions(in, num_classes)),
      "global avgpool-flatten-linear(" + std::to_string(in) + "->" + std::to_string(num_classes) + ")"));
  return net;
}

}  // namespace

Network build_resnet18(const Input& input, int64_t num_classes) {
  return build_resnet(input, num_classes, {2, 2, 2, 2}, /*imagenet_stem=*/false);
}

Network build_resnet34(const Input& input, int64_t num_classes) {
  return build_resnet(input, num_classes, {3, 4, 6, 3}, /*imagenet_stem=*/true);
}

}  // namespace mesl::models::detail
