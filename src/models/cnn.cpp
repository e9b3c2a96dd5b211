// The small CNN for 28x28 greyscale images (Fashion-MNIST, MNIST): two conv-ReLU-maxpool layers, then two linear
// layers. No BatchNorm, so that it trains to ~90% on Fashion-MNIST in two CPU epochs of plain SGD with momentum.
#include "network.h"

#include <string>

namespace mesl::models::detail {

namespace {

std::string conv_text(int64_t in, int64_t out) {
  return "conv3x3(" + std::to_string(in) + "->" + std::to_string(out) + ", pad 1)-ReLU-maxpool2";
}

}  // namespace

Network build_cnn(const Input& input, int64_t num_classes) {
  const int64_t side = input.image_size / 4;  // two 2x2 poolings; the caller checked divisibility
  const int64_t flat = 64 * side * side;
  Network net;
  net.push_back(single_layer(1, ConvReluPool(ConvReluPoolOptions(input.channels, 32)), conv_text(input.channels, 32)));
  net.push_back(single_layer(2, ConvReluPool(ConvReluPoolOptions(32, 64)), conv_text(32, 64)));
  net.push_back(single_layer(
      3, Dense(DenseOptions(flat, 128).flatten(true)),
      "flatten-linear(" + std::to_string(flat) + "->128)-ReLU"));
  net.push_back(single_layer(4, Dense(DenseOptions(128, num_classes).relu(false)),
                             "linear(128->" + std::to_string(num_classes) + ")"));
  return net;
}

}  // namespace mesl::models::detail
