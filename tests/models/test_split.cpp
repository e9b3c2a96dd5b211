// Every cut of every model: shapes, logits, gradients, parameter counts, seeding.
#include "helpers.h"

#include <functional>
#include <map>

using mesl::models::make_split_net;
using mesl::models::ModelOptions;
using mesl::models::SplitNet;
using namespace mesl::models::test;

namespace {

// The per-sample output shape of layer `n`, worked out by hand from each architecture (not from the code).
std::vector<int64_t> expected_cnn_shape(int64_t n) {
  switch (n) {
    case 1: return {32, 14, 14};
    case 2: return {64, 7, 7};
    case 3: return {128};
    default: return {10};
  }
}

std::vector<int64_t> expected_vgg19_shape(int64_t n, int64_t classes) {
  // Channels per conv layer; pools after conv 2, 4, 8, 12, 16 halve the 32x32 input.
  const int64_t channels[] = {64, 64, 128, 128, 256, 256, 256, 256, 512, 512, 512, 512, 512, 512, 512, 512};
  if (n <= 16) {
    const int64_t pools = (n >= 2) + (n >= 4) + (n >= 8) + (n >= 12) + (n >= 16);
    const int64_t side = 32 >> pools;
    return {channels[n - 1], side, side};
  }
  return {n == 19 ? classes : 512};
}

// ResNets: layer 1 is the stem, then two layers per block; a stage's first block halves the side (from stage 2 on).
std::vector<int64_t> expected_resnet_shape(int64_t n, const std::vector<int64_t>& blocks, int64_t stem_side,
                                           int64_t classes) {
  int64_t channels = 64, side = stem_side, layer = 1;
  if (n == layer) return {channels, side, side};
  for (size_t stage = 0; stage < blocks.size(); ++stage) {
    for (int64_t b = 0; b < blocks[stage]; ++b) {
      if (stage > 0 && b == 0) {
        channels *= 2;
        side = (side + 1) / 2;
      }
      layer += 2;
      if (n <= layer) return {channels, side, side};
    }
  }
  return {classes};
}

// Checks one split: the cut shape against the bottom's real output and the hand-made table, the logits, and
// (with `backward`) that a loss reaches every parameter of both halves.
void check_split(SplitNet& net, int64_t batch, const std::vector<int64_t>& expected_cut_shape,
                 int64_t classes, bool backward) {
  const torch::Tensor x = random_batch(net, batch);
  const torch::Tensor activation = net.bottom->forward(x);
  CHECK(sample_shape(activation) == net.cut_shape);
  CHECK(net.cut_shape == expected_cut_shape);
  const torch::Tensor logits = net.top->forward(activation);
  CHECK(logits.sizes() == torch::IntArrayRef({batch, classes}));
  if (!backward) return;
  const auto loss = torch::nn::functional::cross_entropy(logits, torch::randint(classes, {batch}, torch::kLong));
  loss.backward();
  for (const auto& [name, parameter] : all_parameters(net)) {
    INFO("cut ", net.cut, " parameter ", name);
    REQUIRE(parameter.grad().defined());
    CHECK(torch::isfinite(parameter.grad()).all().item<bool>());
    CHECK(parameter.grad().abs().sum().item<double>() > 0);
  }
}

// The whole network's parameters, value by value, must be those of the unsplit network built from the same seed,
// except for the projection shortcut that a mid-block cut drops (`dropped` parameters, named "projection").
void check_same_weights(const SplitNet& reference, const SplitNet& net, int64_t dropped) {
  const auto expected = all_parameters(reference);
  const auto actual = all_parameters(net);
  size_t e = 0;
  int64_t skipped = 0;
  for (const auto& [name, tensor] : actual) {
    while (e < expected.size() && !expected[e].second.sizes().equals(tensor.sizes())) {
      // Only a projection shortcut may be missing from the split network.
      CHECK(expected[e].first.find("projection") != std::string::npos);
      skipped += expected[e].second.numel();
      ++e;
    }
    REQUIRE(e < expected.size());
    CHECK_MESSAGE(torch::equal(expected[e].second, tensor), "cut ", net.cut, " parameter ", name);
    ++e;
  }
  for (; e < expected.size(); ++e) skipped += expected[e].second.numel();
  CHECK(skipped == dropped);
}

struct Case {
  std::string model;
  int64_t classes;
  int64_t batch;  // odd where BatchNorm allows it
  int64_t num_layers;
  int64_t total_parameters;      // of the unsplit network
  std::map<int64_t, int64_t> dropped;  // mid-block cut -> projection parameters it drops
};

void check_every_cut(const Case& c, const std::function<std::vector<int64_t>(int64_t)>& expected_shape) {
  const auto options = ModelOptions().name(c.model).num_classes(c.classes);
  const auto table = mesl::models::layer_table(options);
  REQUIRE(static_cast<int64_t>(table.size()) == c.num_layers);
  int64_t table_parameters = 0;
  for (const auto& layer : table) {
    CHECK(layer.output_shape == expected_shape(layer.number));
    CHECK(!layer.holds.empty());
    table_parameters += layer.num_parameters;
  }
  CHECK(table_parameters == c.total_parameters);

  torch::manual_seed(7);
  const SplitNet reference = make_split_net(options, 1);
  for (int64_t cut = 1; cut < c.num_layers; ++cut) {
    INFO(c.model, " cut ", cut);
    torch::manual_seed(7);
    SplitNet net = make_split_net(options, cut);
    CHECK(net.cut == cut);
    CHECK(net.bottom->is_training());
    CHECK(net.top->is_training());
    const int64_t dropped = c.dropped.count(cut) ? c.dropped.at(cut) : 0;
    CHECK(total_parameters(net) == c.total_parameters - dropped);
    check_same_weights(reference, net, dropped);
    check_split(net, c.batch, expected_shape(cut), c.classes, /*backward=*/true);
  }
}

}  // namespace

TEST_CASE("every cut of the cnn: shapes, logits, gradients, parameters") {
  // conv 1->32 and 32->64 (3x3 with bias), linear 3136->128 and 128->10.
  const int64_t total = (9 * 1 * 32 + 32) + (9 * 32 * 64 + 64) + (3136 * 128 + 128) + (128 * 10 + 10);
  check_every_cut({"cnn", 10, 5, 4, total, {}}, expected_cnn_shape);
}

TEST_CASE("every cut of vgg19: shapes, logits, gradients, parameters") {
  const int64_t channels[] = {64, 64, 128, 128, 256, 256, 256, 256, 512, 512, 512, 512, 512, 512, 512, 512};
  int64_t total = 0, in = 3;
  for (int64_t out : channels) {
    total += 9 * in * out + out + 2 * out;  // conv weight and bias, BatchNorm weight and bias
    in = out;
  }
  total += (512 * 512 + 512) * 2 + (512 * 10 + 10);
  check_every_cut({"vgg19", 10, 1, 19, total, {}},
                  [](int64_t n) { return expected_vgg19_shape(n, 10); });
}

TEST_CASE("every cut of resnet18: shapes, logits, gradients, parameters") {
  // The CIFAR ResNet18 with 100 classes has 11,220,132 parameters; a cut inside the first block of stages 2-4
  // (layers 6, 10, 14) drops that block's projection shortcut.
  check_every_cut({"resnet18", 100, 3, 18, 11220132,
                   {{6, projection_parameters(64, 128)},
                    {10, projection_parameters(128, 256)},
                    {14, projection_parameters(256, 512)}}},
                  [](int64_t n) { return expected_resnet_shape(n, {2, 2, 2, 2}, 32, 100); });
  // With 10 classes: the well-known 11,173,962.
  CHECK(total_parameters(make_split_net(ModelOptions().name("resnet18").num_classes(10), 9)) == 11173962);
}

TEST_CASE("every cut of resnet34 at 224x224: shapes and logits from one sample, parameters") {
  // 21,797,672 parameters with 1000 classes (torchvision's count); projections sit in blocks at layers 8, 16, 28.
  const auto options = ModelOptions().name("resnet34").num_classes(1000);
  const std::map<int64_t, int64_t> dropped = {
      {8, projection_parameters(64, 128)}, {16, projection_parameters(128, 256)}, {28, projection_parameters(256, 512)}};
  torch::NoGradGuard no_grad;
  for (int64_t cut = 1; cut < 34; ++cut) {
    INFO("resnet34 cut ", cut);
    SplitNet net = make_split_net(options, cut);
    CHECK(total_parameters(net) == 21797672 - (dropped.count(cut) ? dropped.at(cut) : 0));
    check_split(net, 1, expected_resnet_shape(cut, {3, 4, 6, 3}, 56, 1000), 1000, /*backward=*/false);
  }
}

TEST_CASE("resnet34 gradients reach every parameter (32x32 input to keep it fast)") {
  // Each build draws 21.8M weights, so not every cut: the ends, the presets, every kind of block boundary and
  // every cut inside a projection block (which the other ResNet tests cover cut by cut for resnet18).
  const auto options = ModelOptions().name("resnet34").num_classes(5).image_size(32);
  for (int64_t cut : {1, 2, 7, 8, 15, 16, 27, 28, 33}) {
    INFO("resnet34 cut ", cut);
    SplitNet net = make_split_net(options, cut);
    // 32x32 through the ImageNet stem gives 8x8 after it.
    check_split(net, 2, expected_resnet_shape(cut, {3, 4, 6, 3}, 8, 5), 5, /*backward=*/true);
  }
}

TEST_CASE("the preset cuts give the paper's shapes and a non-negative activation") {
  struct Preset {
    std::string model;
    std::string cut;
    std::vector<int64_t> shape;
  };
  const std::vector<Preset> presets = {
      {"cnn", "shallow", {32, 14, 14}},      {"cnn", "medium", {64, 7, 7}},        {"cnn", "deep", {128}},
      {"vgg19", "shallow", {64, 16, 16}},    {"vgg19", "medium", {256, 4, 4}},     {"vgg19", "deep", {512, 2, 2}},
      {"resnet18", "shallow", {64, 32, 32}}, {"resnet18", "medium", {128, 16, 16}}, {"resnet18", "deep", {256, 8, 8}},
      {"resnet34", "shallow", {64, 56, 56}}, {"resnet34", "medium", {128, 28, 28}}, {"resnet34", "deep", {256, 14, 14}},
  };
  torch::NoGradGuard no_grad;
  for (const Preset& p : presets) {
    INFO(p.model, " ", p.cut);
    const int64_t cut = mesl::models::resolve_cut(p.model, p.cut);
    SplitNet net = make_split_net(ModelOptions().name(p.model), cut);
    CHECK(net.cut_shape == p.shape);
    const torch::Tensor activation = net.bottom->forward(random_batch(net, p.model == "resnet34" ? 1 : 4));
    CHECK(sample_shape(activation) == p.shape);
    CHECK(activation.min().item<float>() >= 0.0f);
    CHECK(activation.max().item<float>() > 0.0f);  // not trivially non-negative
  }
}

TEST_CASE("the same seed builds identical parameters, another seed different ones") {
  for (const std::string model : {"cnn", "vgg19", "resnet18", "resnet34"}) {
    INFO(model);
    const auto options = ModelOptions().name(model);
    const int64_t cut = mesl::models::resolve_cut(model, "medium");
    torch::manual_seed(11);
    const auto a = all_parameters(make_split_net(options, cut));
    torch::manual_seed(11);
    const auto b = all_parameters(make_split_net(options, cut));
    torch::manual_seed(12);
    const auto c = all_parameters(make_split_net(options, cut));
    REQUIRE(a.size() == b.size());
    REQUIRE(a.size() == c.size());
    size_t identical = 0, different_seed_identical = 0, weight_tensors = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      identical += torch::equal(a[i].second, b[i].second);
      // BatchNorm starts at weight 1, bias 0 whatever the seed: only conv and linear weights must differ.
      if (a[i].second.dim() < 2) continue;
      ++weight_tensors;
      different_seed_identical += torch::equal(a[i].second, c[i].second);
    }
    CHECK(identical == a.size());
    CHECK(weight_tensors > 0);
    CHECK(different_seed_identical == 0);
  }
}

TEST_CASE("other input sizes: the classifier adapts, channels follow the options") {
  struct Input {
    std::string model;
    int64_t channels, size, cut;
    std::vector<int64_t> shape;
  };
  const std::vector<Input> inputs = {
      {"vgg19", 3, 64, 15, {512, 4, 4}},   // flattened classifier input 512 * 2 * 2
      {"vgg19", 1, 33, 8, {256, 4, 4}},    // odd size: pooling rounds down
      {"cnn", 3, 32, 2, {64, 8, 8}},       // CIFAR-shaped input for the small CNN
      {"cnn", 1, 4, 1, {32, 2, 2}},        // the smallest size the cnn takes
      {"resnet18", 1, 9, 13, {256, 3, 3}}, // odd: stride-2 convs round up
      {"resnet34", 3, 64, 27, {256, 4, 4}},
  };
  for (const Input& in : inputs) {
    INFO(in.model, " ", in.channels, "x", in.size, "x", in.size);
    SplitNet net = make_split_net(ModelOptions().name(in.model).in_channels(in.channels).image_size(in.size).num_classes(3), in.cut);
    CHECK(net.input_shape == std::vector<int64_t>{in.channels, in.size, in.size});
    check_split(net, 2, in.shape, 3, /*backward=*/true);
  }
}
