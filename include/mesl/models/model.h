#pragma once
// The models mesl splits: each is an ordered list of layers numbered from 1, and `cut` N splits after layer N.
// Layers are counted as the model's name counts them (its weight layers: VGG19 has 19, ResNet18 18), with pooling
// and activations attached to the weight layer before them, so that the paper's cut numbers give the paper's
// shapes:
//   vgg19    (3x32x32):   cut 2 / 8 / 15   ->  64x16x16, 256x4x4, 512x2x2
//   resnet18 (3x32x32):   cut 2 / 9 / 13   ->  64x32x32, 128x16x16, 256x8x8
//   resnet34 (3x224x224): cut 2 / 15 / 27  ->  64x56x56, 128x28x28, 256x14x14
//   cnn      (1x28x28):   cut 1 / 2 / 3    ->  32x14x14, 64x7x7, 128  (a small CNN for Fashion-MNIST / MNIST)
// The activation at every preset cut follows a ReLU, so it is non-negative (the MS codec's default setting).
//
// ResNets: the stem is layer 1, each BasicBlock is two layers (its two 3x3 convs), and global average pooling +
// flatten + linear is the last layer. A cut after a whole block splits between blocks. A cut INSIDE a block (after
// its first conv) cannot carry the shortcut's input across the link, so that one block becomes a plain block:
// layer a = conv-BN-ReLU (the last module of `bottom`), layer b = conv-BN-ReLU (the first module of `top`), no
// shortcut; if the block had a 1x1 projection shortcut its weights are dropped with it (the paper's code does the
// same for its shallow ResNet cut). Every other layer keeps the parameters it has in the unsplit network.
//
// VGG19's classifier (layers 17..19: Linear(F,512)-ReLU, Linear(512,512)-ReLU, Linear(512,classes)) takes the
// flattened output of the last pooled conv layer, F = 512 * (image_size halved 5 times, rounded down)^2: 512 for
// 32x32, 2048 for 64x64. The size is worked out from the input shape at construction (rather than adaptive pooling,
// which would average larger maps away).
//
// The halves are torch::nn::Sequential whose modules are named by position ("0", "1", ...), because
// Sequential::clone() renames them that way: a cloned half then has the same parameter names (and state_dict
// keys) as the original.
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
  int64_t min_image_size = 1;        // smaller images would vanish in the downsampling
  int64_t image_size_multiple = 1;   // image_size must be a multiple of this (cnn: 4)
};

// Every model, in a fixed order.
const std::vector<ModelInfo>& model_infos();
// Throws ModelError naming the known models when `name` is unknown.
const ModelInfo& model_info(const std::string& name);

// "shallow" | "medium" | "deep" | a layer number -> a layer number. Throws ModelError that states the valid range
// and the presets when the cut does not exist.
int64_t resolve_cut(const std::string& model, const std::string& cut);

// "1..17 or shallow (2), medium (9), deep (13)": the valid cuts of a model, presets ordered by depth.
std::string cut_choices(const ModelInfo& info);

// The network split after layer `cut`: the client runs `bottom`, the server runs `top` (which ends in logits).
struct SplitNet {
  torch::nn::Sequential bottom{nullptr};
  torch::nn::Sequential top{nullptr};
  int64_t cut = 0;
  std::vector<int64_t> input_shape;  // per sample: C, H, W
  std::vector<int64_t> cut_shape;    // per sample: the shape of bottom's output
};

// Builds the whole network (parameters drawn from LibTorch's global generator, so torch::manual_seed(s) before
// the call makes every rank build identical weights) and splits it. Both halves are on the CPU in training mode.
// input_shape and cut_shape come from a dry forward of one zero sample in eval mode. Throws ModelError for an
// unknown model or cut, num_classes < 1, or an input size the model cannot take (see ModelInfo).
SplitNet make_split_net(const ModelOptions& options, int64_t cut);

// One numbered layer of a model, for start-up reports and the documentation.
struct LayerInfo {
  int64_t number = 0;
  std::string holds;                   // what the layer computes, e.g. "conv3x3(3->64, pad 1)-BN-ReLU-maxpool2"
  std::vector<int64_t> output_shape;   // per sample, for the input the options describe
  int64_t num_parameters = 0;          // a block's projection shortcut counts towards its second layer
};

// Every layer of the unsplit model (built with fresh weights from the global generator; throws as
// make_split_net does for bad options).
std::vector<LayerInfo> layer_table(const ModelOptions& options);

// The number of scalar parameters of a module and its children (buffers such as BatchNorm statistics excluded).
int64_t num_parameters(const torch::nn::Module& module);

}  // namespace mesl::models
