#pragma once
// The models mesl splits: each is an ordered list of layers numbered from 1, and `cut` N splits after layer N.
// Layers are counted as the model's name counts them (its weight layers: VGG19 has 19, ResNet18 18), with pooling
// and activations attached to the weight layer before them, so that the paper's cut numbers give the paper's
// shapes:
//   vgg19    (3x32x32):   cut 2 / 8 / 15   ->  64x16x16, 256x4x4, 512x2x2
//   resnet18 (3x32x32):   cut 2 / 9 / 13   ->  64x32x32, 128x16x16, 256x8x8
//   resnet34 (3x224x224): cut 2 / 15 / 27  ->  64x56x56, 128x28x28, 256x14x14
//   cnn      (1x28x28):   a small CNN for Fashion-MNIST / MNIST
// The activation at every preset cut follows a ReLU, so it is non-negative (the MS codec's default setting).
#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace mesl::models {

struct ModelOptions {
  TORCH_ARG(std::string, name) = "cnn";  // cnn | vgg19 | resnet18 | resnet34
  TORCH_ARG(int64_t, num_classes) = 10;
  TORCH_ARG(int64_t, in_channels) = 0;   // 0: the model's default (1 for cnn, 3 otherwise)
  TORCH_ARG(int64_t, image_size) = 0;    // 0: the model's default (28, 32, 32, 224); square inputs
};

// Static facts about one model family.
struct ModelInfo {
  std::string name;
  int64_t num_layers = 0;            // valid cuts are 1 .. num_layers - 1
  int64_t default_in_channels = 0;
  int64_t default_image_size = 0;
  std::map<std::string, int64_t> presets;  // "shallow", "medium", "deep" -> layer number
  std::string description;
};

// Every model, in a fixed order.
const std::vector<ModelInfo>& model_infos();
// Throws ModelError naming the known models when `name` is unknown.
const ModelInfo& model_info(const std::string& name);

// "shallow" | "medium" | "deep" | a layer number -> a layer number. Throws ModelError that states the valid range
// and the presets when the cut does not exist.
int64_t resolve_cut(const std::string& model, const std::string& cut);

// The network split after layer `cut`: the client runs `bottom`, the server runs `top` (which ends in logits).
struct SplitNet {
  torch::nn::Sequential bottom{nullptr};
  torch::nn::Sequential top{nullptr};
  int64_t cut = 0;
  std::vector<int64_t> input_shape;  // per sample: C, H, W
  std::vector<int64_t> cut_shape;    // per sample: the shape of bottom's output
};

// Builds the whole network (parameters drawn from LibTorch's global generator, so torch::manual_seed(s) before
// the call makes every rank build identical weights) and splits it. Throws ModelError for an unknown model or cut.
SplitNet make_split_net(const ModelOptions& options, int64_t cut);

}  // namespace mesl::models
