// VGG19 with BatchNorm (the CIFAR variant the paper trains): 16 conv3x3-BN-ReLU layers with a 2x2 max-pool after
// layers 2, 4, 8, 12 and 16, then three linear layers.
#include "network.h"

#include <array>
#include <string>

namespace mesl::models::detail {

namespace {

struct ConvLayer {
  int64_t channels;
  bool pool;  // a 2x2 max-pool closes a stage here
};

constexpr std::array<ConvLayer, 16> kConvLayers = {{{64, false},  {64, true},   {128, false}, {128, true},
                                                    {256, false}, {256, false}, {256, false}, {256, true},
                                                    {512, false}, {512, false}, {512, false}, {512, true},
                                                    {512, false}, {512, false}, {512, false}, {512, true}}};

}  // namespace

Network build_vgg19(const Input& input, int64_t num_classes) {
  Network net;
  int64_t in = input.channels;
  int64_t side = input.image_size;
  int64_t layer = 1;
  for (const ConvLayer& conv : kConvLayers) {
    auto options = ConvBnReluOptions(in, conv.channels, 3).padding(1).bias(true).pool_kernel(conv.pool ? 2 : 0);
    std::string holds = "conv3x3(" + std::to_string(in) + "->" + std::to_string(conv.channels) + ", pad 1)-BN-ReLU";
    if (conv.pool) {
      holds += "-maxpool2";
      side /= 2;  // max_pool2d rounds down
    }
    net.push_back(single_layer(layer++, ConvBnRelu(options), holds));
    in = conv.channels;
  }
  // The flattened size follows from the input size (see model.h), so other square inputs than 32x32 work too.
  const int64_t flat = in * side * side;
  net.push_back(single_layer(
      layer++, Dense(DenseOptions(flat, 512).flatten(true)),
      "flatten-linear(" + std::to_string(flat) + "->512)-ReLU"));
  net.push_back(single_layer(layer++, Dense(DenseOptions(512, 512)),
                             "linear(512->512)-ReLU"));
  net.push_back(single_layer(layer++, Dense(DenseOptions(512, num_classes).relu(false)),
                             "linear(512->" + std::to_string(num_classes) + ")"));
  return net;
}

}  // namespace mesl::models::detail
