#pragma once
// Internal to mesl_models: a whole (unsplit) network as the builders hand it over, before make_split_net cuts it.
#include "mesl/models/blocks.h"
#include "mesl/models/model.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace mesl::models::detail {

// The input a network is built for, with the model's defaults already filled in.
struct Input {
  int64_t channels = 0;
  int64_t image_size = 0;
};

// One module of the unsplit network and the numbered layers it holds: one layer, or two for a ResNet block.
struct Piece {
  torch::nn::AnyModule module;
  int64_t first_layer = 0;
  int64_t last_layer = 0;
  BasicBlock block{nullptr};       // set for a residual block, the only kind of piece a cut may fall inside
  std::vector<std::string> holds;  // what each of its layers computes, first_layer first
};

// The pieces in forward order; their layers run 1..num_layers without gaps.
using Network = std::vector<Piece>;

template <typename ModuleHolder>
Piece single_layer(int64_t layer, ModuleHolder module, std::string holds) {
  Piece piece;
  piece.module = torch::nn::AnyModule(std::move(module));
  piece.first_layer = piece.last_layer = layer;
  piece.holds.push_back(std::move(holds));
  return piece;
}

// A model's builder: the whole network for an input, with `num_classes` outputs. The registry (registry.cpp)
// holds one per model.
using Builder = Network (*)(const Input& input, int64_t num_classes);
Builder builder(const ModelInfo& info);

Network build_cnn(const Input& input, int64_t num_classes);
Network build_vgg19(const Input& input, int64_t num_classes);
Network build_resnet18(const Input& input, int64_t num_classes);
Network build_resnet34(const Input& input, int64_t num_classes);

// Throws ModelError unless 1 <= cut < info.num_layers.
void check_cut(const ModelInfo& info, int64_t cut);

}  // namespace mesl::models::detail
