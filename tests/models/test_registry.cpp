// Model names, cut names and the errors users see for them.
#include "helpers.h"

#include <algorithm>

#include "mesl/error.h"

using namespace mesl::models;

namespace {

// The message of the ModelError `call` throws (empty if it throws nothing).
template <typename Call>
std::string model_error(Call&& call) {
  try {
    call();
  } catch (const mesl::ModelError& error) {
    return error.what();
  }
  return "";
}

}  // namespace

TEST_CASE("model_infos lists the four models with consistent facts") {
  const auto& infos = model_infos();
  REQUIRE(infos.size() == 4);
  const std::vector<std::string> names = {"cnn", "vgg19", "resnet18", "resnet34"};
  const std::vector<int64_t> layers = {4, 19, 18, 34};
  const std::vector<int64_t> sizes = {28, 32, 32, 224};
  for (size_t i = 0; i < infos.size(); ++i) {
    INFO(names[i]);
    CHECK(infos[i].name == names[i]);
    CHECK(infos[i].num_layers == layers[i]);
    CHECK(infos[i].default_image_size == sizes[i]);
    CHECK(infos[i].default_in_channels == (i == 0 ? 1 : 3));
    CHECK(!infos[i].description.empty());
    CHECK(&model_info(names[i]) == &infos[i]);
    CHECK(infos[i].default_image_size >= infos[i].min_image_size);
    CHECK(infos[i].default_image_size % infos[i].image_size_multiple == 0);
    REQUIRE(infos[i].presets.size() == 3);
    CHECK(infos[i].presets.at("shallow") < infos[i].presets.at("medium"));
    CHECK(infos[i].presets.at("medium") < infos[i].presets.at("deep"));
    CHECK(infos[i].presets.at("deep") < infos[i].num_layers);
  }
}

TEST_CASE("each registry entry builds its own network: its layer count, every preset cut") {
  for (const ModelInfo& info : model_infos()) {
    INFO(info.name);
    // The smallest input the model takes, so that resnet34 builds fast.
    const int64_t size = std::max(info.min_image_size, info.image_size_multiple);
    const auto options = ModelOptions().name(info.name).image_size(size);
    CHECK(static_cast<int64_t>(layer_table(options).size()) == info.num_layers);
    for (const auto& [preset, layer] : info.presets) {
      INFO(preset);
      const SplitNet net = make_split_net(options, resolve_cut(info.name, preset));
      CHECK(net.cut == layer);
      CHECK(net.bottom->size() > 0);
      CHECK(net.top->size() > 0);
      CHECK(net.input_shape == std::vector<int64_t>{info.default_in_channels, size, size});
    }
  }
}

TEST_CASE("resolve_cut takes presets and layer numbers; cut_choices lists them") {
  CHECK(resolve_cut("vgg19", "shallow") == 2);
  CHECK(resolve_cut("vgg19", "medium") == 8);
  CHECK(resolve_cut("vgg19", "deep") == 15);
  CHECK(resolve_cut("resnet18", "shallow") == 2);
  CHECK(resolve_cut("resnet18", "medium") == 9);
  CHECK(resolve_cut("resnet18", "deep") == 13);
  CHECK(resolve_cut("resnet34", "shallow") == 2);
  CHECK(resolve_cut("resnet34", "medium") == 15);
  CHECK(resolve_cut("resnet34", "deep") == 27);
  CHECK(resolve_cut("cnn", "shallow") == 1);
  CHECK(resolve_cut("cnn", "medium") == 2);
  CHECK(resolve_cut("cnn", "deep") == 3);
  CHECK(resolve_cut("cnn", "1") == 1);
  CHECK(resolve_cut("resnet18", "17") == 17);
  CHECK(resolve_cut("resnet34", "33") == 33);
  // What the errors offer instead: the range and the presets, ordered by depth.
  CHECK(cut_choices(model_info("resnet18")) == "1..17 or shallow (2), medium (9), deep (13)");
  CHECK(cut_choices(model_info("cnn")) == "1..3 or shallow (1), medium (2), deep (3)");
  CHECK(cut_choices(model_info("resnet34")) == "1..33 or shallow (2), medium (15), deep (27)");
}

TEST_CASE("an unknown model is refused with the list of models") {
  const std::string expected = "unknown model 'x'; choose one of cnn, vgg19, resnet18, resnet34";
  CHECK(model_error([] { model_info("x"); }) == expected);
  CHECK(model_error([] { resolve_cut("x", "deep"); }) == expected);
  CHECK(model_error([] { make_split_net(ModelOptions().name("x"), 1); }) == expected);
  CHECK(model_error([] { layer_table(ModelOptions().name("x")); }) == expected);
  CHECK(model_error([] { model_info("ResNet18"); }) ==
        "unknown model 'ResNet18'; choose one of cnn, vgg19, resnet18, resnet34");
}

TEST_CASE("a cut that does not exist is refused with the valid range and presets") {
  const std::string resnet18 = "choose 1..17 or shallow (2), medium (9), deep (13)";
  CHECK(model_error([] { make_split_net(ModelOptions().name("resnet18"), 40); }) ==
        "cut 40 is out of range for resnet18: " + resnet18);
  CHECK(model_error([] { make_split_net(ModelOptions().name("resnet18"), 18); }) ==
        "cut 18 is out of range for resnet18: " + resnet18);
  CHECK(model_error([] { make_split_net(ModelOptions().name("resnet18"), 0); }) ==
        "cut 0 is out of range for resnet18: " + resnet18);
  CHECK(model_error([] { resolve_cut("resnet18", "40"); }) == "cut 40 is out of range for resnet18: " + resnet18);
  CHECK(model_error([] { resolve_cut("resnet18", "-1"); }) == "cut -1 is out of range for resnet18: " + resnet18);
  CHECK(model_error([] { make_split_net(ModelOptions().name("cnn"), 4); }) ==
        "cut 4 is out of range for cnn: choose 1..3 or shallow (1), medium (2), deep (3)");
  for (const std::string bad : {"middle", "", "2x", " 2", "2.0", "Deep"}) {
    INFO("cut '", bad, "'");
    CHECK(model_error([&] { resolve_cut("vgg19", bad); }) ==
          "cut '" + bad + "' is neither a layer number nor a preset of vgg19: choose 1..18 or shallow (2), medium (8), "
                          "deep (15)");
  }
}

TEST_CASE("options a model cannot take are refused with the reason") {
  CHECK(model_error([] { make_split_net(ModelOptions().name("cnn").num_classes(0), 1); }) ==
        "num_classes must be at least 1; got 0");
  CHECK(model_error([] { make_split_net(ModelOptions().name("cnn").image_size(30), 1); }) ==
        "cnn needs an image_size divisible by 4; got 30");
  CHECK(model_error([] { make_split_net(ModelOptions().name("vgg19").image_size(16), 2); }) ==
        "vgg19 needs an image_size of at least 32; got 16");
  CHECK(model_error([] { make_split_net(ModelOptions().name("resnet34").image_size(31), 2); }) ==
        "resnet34 needs an image_size of at least 32; got 31");
  CHECK(model_error([] { make_split_net(ModelOptions().name("resnet18").in_channels(-3), 2); }) ==
        "in_channels must be positive (or 0 for the default of 3); got -3");
  CHECK(model_error([] { layer_table(ModelOptions().name("resnet18").image_size(-1)); }) ==
        "image_size must be positive (or 0 for the default of 32); got -1");
}

TEST_CASE("layer_table describes every layer of the default input") {
  const auto table = layer_table(ModelOptions().name("resnet18"));
  REQUIRE(table.size() == 18);
  CHECK(table[0].holds == "stem: conv3x3(3->64)-BN-ReLU");
  CHECK(table[5].holds == "block 3 (stage 2) conv a: conv3x3(64->128, stride 2)-BN-ReLU");
  CHECK(table[6].holds ==
        "block 3 (stage 2) conv b: conv3x3(128->128)-BN + projection shortcut conv1x1(64->128, stride 2)-BN, ReLU");
  CHECK(table[17].holds == "global avgpool-flatten-linear(512->10)");
  // The second layer of a projection block carries the shortcut's weights.
  CHECK(table[5].num_parameters == 9 * 64 * 128 + 2 * 128);
  CHECK(table[6].num_parameters == 9 * 128 * 128 + 2 * 128 + 64 * 128 + 2 * 128);
  for (size_t i = 0; i < table.size(); ++i) CHECK(table[i].number == static_cast<int64_t>(i) + 1);
}
