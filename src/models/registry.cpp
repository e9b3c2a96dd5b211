// The model registry: one entry per model, carrying its static facts (include/mesl/models/model.h) and its builder
// (network.h). Adding a model is one builder file and one entry here.
#include "mesl/error.h"
#include "mesl/models/model.h"
#include "network.h"

#include <algorithm>
#include <charconv>
#include <sstream>
#include <system_error>
#include <utility>

namespace mesl::models {

namespace {

struct Entry {
  ModelInfo info;
  detail::Builder build;
};

Entry entry(std::string name, int64_t num_layers, int64_t in_channels, int64_t image_size,
            std::map<std::string, int64_t> presets, std::string description, int64_t min_image_size,
            int64_t image_size_multiple, detail::Builder build) {
  Entry e;
  e.info.name = std::move(name);
  e.info.num_layers = num_layers;
  e.info.default_in_channels = in_channels;
  e.info.default_image_size = image_size;
  e.info.presets = std::move(presets);
  e.info.description = std::move(description);
  e.info.min_image_size = min_image_size;
  e.info.image_size_multiple = image_size_multiple;
  e.build = build;
  return e;
}

const std::vector<Entry>& entries() {
  // Minimum image sizes: the total downsampling of each network, so its last feature map is at least 1x1.
  static const std::vector<Entry> table = {
      entry("cnn", 4, 1, 28, {{"shallow", 1}, {"medium", 2}, {"deep", 3}},
            "small CNN for 28x28 greyscale images (Fashion-MNIST, MNIST): 2 conv + 2 linear layers", 4, 4,
            detail::build_cnn),
      entry("vgg19", 19, 3, 32, {{"shallow", 2}, {"medium", 8}, {"deep", 15}},
            "VGG19 with BatchNorm for 32x32 images (CIFAR): 16 conv + 3 linear layers", 32, 1, detail::build_vgg19),
      entry("resnet18", 18, 3, 32, {{"shallow", 2}, {"medium", 9}, {"deep", 13}},
            "ResNet18 with the CIFAR stem for 32x32 images: stem + 8 BasicBlocks + linear", 8, 1,
            detail::build_resnet18),
      entry("resnet34", 34, 3, 224, {{"shallow", 2}, {"medium", 15}, {"deep", 27}},
            "ResNet34 with the ImageNet stem for 224x224 images: stem + 16 BasicBlocks + linear", 32, 1,
            detail::build_resnet34),
  };
  return table;
}

}  // namespace

const std::vector<ModelInfo>& model_infos() {
  static const std::vector<ModelInfo> infos = [] {
    std::vector<ModelInfo> out;
    for (const Entry& e : entries()) out.push_back(e.info);
    return out;
  }();
  return infos;
}

detail::Builder detail::builder(const ModelInfo& info) {
  for (const Entry& e : entries()) {
    if (e.info.name == info.name) return e.build;
  }
  throw ModelError(::mesl::detail::concat("model '", info.name, "' is not in the registry"));
}

const ModelInfo& model_info(const std::string& name) {
  const auto& infos = model_infos();
  for (const auto& info : infos) {
    if (info.name == name) return info;
  }
  std::string known;
  for (const auto& info : infos) known += (known.empty() ? "" : ", ") + info.name;
  throw ModelError(::mesl::detail::concat("unknown model '", name, "'; choose one of ", known));
}

std::string cut_choices(const ModelInfo& info) {
  std::vector<std::pair<int64_t, std::string>> by_depth;
  for (const auto& [preset, layer] : info.presets) by_depth.emplace_back(layer, preset);
  std::sort(by_depth.begin(), by_depth.end());
  std::ostringstream out;
  out << "1.." << info.num_layers - 1;
  for (size_t i = 0; i < by_depth.size(); ++i) {
    out << (i == 0 ? " or " : ", ") << by_depth[i].second << " (" << by_depth[i].first << ')';
  }
  return out.str();
}

int64_t resolve_cut(const std::string& model, const std::string& cut) {
  const ModelInfo& info = model_info(model);
  if (const auto preset = info.presets.find(cut); preset != info.presets.end()) return preset->second;
  int64_t layer = 0;
  const char* const end = cut.data() + cut.size();
  const auto [stop, error] = std::from_chars(cut.data(), end, layer);
  if (cut.empty() || error != std::errc() || stop != end) {
    throw ModelError(::mesl::detail::concat("cut '", cut, "' is neither a layer number nor a preset of ", info.name,
                                    ": choose ", cut_choices(info)));
  }
  detail::check_cut(info, layer);
  return layer;
}

void detail::check_cut(const ModelInfo& info, int64_t cut) {
  MESL_CHECK(cut >= 1 && cut < info.num_layers, ModelError, "cut ", cut, " is out of range for ", info.name,
             ": choose ", cut_choices(info));
}

}  // namespace mesl::models
