// The layer modules: the mid-block rule, cloning, printing, odd and empty batches.
#include "helpers.h"

#include "mesl/models/blocks.h"

using namespace mesl::models;
using namespace mesl::models::test;

namespace {

// The module's whole tree, as operator<< prints it.
std::string printed(const torch::nn::Module& module) {
  std::ostringstream out;
  out << module;
  return out.str();
}

// The module's own line, without its children.
std::string headline(const torch::nn::Module& module) {
  std::ostringstream out;
  module.pretty_print(out);
  return out.str();
}

}  // namespace

TEST_CASE("a cut inside a residual block turns that block into two plain conv-BN-ReLU layers") {
  // resnet18 layers 6-7 are block 3 (64 -> 128, stride 2, projection shortcut). Cut 7 keeps it whole, cut 6 splits
  // it; the same seed gives both networks the same weights.
  const auto options = ModelOptions().name("resnet18");
  torch::manual_seed(3);
  SplitNet whole = make_split_net(options, 7);
  torch::manual_seed(3);
  SplitNet split = make_split_net(options, 6);
  whole.bottom->eval();
  whole.top->eval();
  split.bottom->eval();
  split.top->eval();
  torch::NoGradGuard no_grad;

  REQUIRE(whole.bottom->size() == 4);  // stem, block 1, block 2, block 3
  REQUIRE(split.bottom->size() == 4);  // stem, block 1, block 2, block 3's first half
  auto block = whole.bottom[3]->as<BasicBlockImpl>();
  REQUIRE(block != nullptr);
  CHECK(block->has_projection());
  auto first = split.bottom[3]->as<ConvBnReluImpl>();
  auto second = split.top[0]->as<ConvBnReluImpl>();
  REQUIRE(first != nullptr);
  REQUIRE(second != nullptr);
  CHECK(first->options.stride() == 2);
  CHECK(first->options.in_channels() == 64);
  CHECK(second->options.in_channels() == 128);

  const torch::Tensor x = torch::randn({2, 3, 32, 32});
  torch::Tensor h = x;  // the input of block 3: stem, block 1, block 2
  for (auto layer = whole.bottom->begin(); layer != whole.bottom->begin() + 3; ++layer) {
    h = layer->forward<torch::Tensor>(h);
  }
  // Layer a: conv1-bn1-ReLU of the block; layer b: conv2-bn2-ReLU without the shortcut.
  const torch::Tensor a = split.bottom->forward(x);
  CHECK(torch::allclose(a, torch::relu(block->bn1(block->conv1(h))), 1e-5, 1e-6));
  const torch::Tensor b = second->forward(a);
  CHECK(torch::allclose(b, torch::relu(block->bn2(block->conv2(a))), 1e-5, 1e-6));
  // The whole block adds the shortcut, so its output differs.
  CHECK_FALSE(torch::allclose(block->forward(h), b, 1e-3, 1e-3));
  // Only that block's projection shortcut is gone from the network.
  CHECK(total_parameters(split) == total_parameters(whole) - projection_parameters(64, 128));

  // The halves share the block's modules (no copies), and hold all its weights but the shortcut's.
  auto [a_half, b_half] = block->split_plain();
  CHECK(a_half->conv->weight.data_ptr() == block->conv1->weight.data_ptr());
  CHECK(a_half->bn->weight.data_ptr() == block->bn1->weight.data_ptr());
  CHECK(b_half->conv->weight.data_ptr() == block->conv2->weight.data_ptr());
  CHECK(num_parameters(*a_half) + num_parameters(*b_half) == num_parameters(*block) - projection_parameters(64, 128));
}

TEST_CASE("blocks keep shapes for odd sizes and empty batches") {
  struct Shape {
    int64_t in, out, stride, batch, side, out_side;
  };
  const std::vector<Shape> shapes = {
      {4, 4, 1, 0, 5, 5}, {4, 4, 1, 1, 5, 5}, {3, 8, 2, 3, 7, 4}, {8, 16, 2, 2, 1, 1}, {5, 7, 1, 1, 9, 9}};
  torch::NoGradGuard no_grad;
  for (const Shape& s : shapes) {
    INFO(s.in, "->", s.out, " stride ", s.stride, " batch ", s.batch, " side ", s.side);
    BasicBlock block(BasicBlockOptions(s.in, s.out).stride(s.stride));
    block->eval();  // BatchNorm in training mode refuses empty and single-value batches
    CHECK(block->has_projection() == (s.in != s.out || s.stride != 1));
    const auto y = block->forward(torch::randn({s.batch, s.in, s.side, s.side}));
    CHECK(y.sizes() == torch::IntArrayRef({s.batch, s.out, s.out_side, s.out_side}));
    if (s.batch > 0) CHECK(y.min().item<float>() >= 0.0f);
  }
}

TEST_CASE("split networks take batches of 0, 1 and 5 samples") {
  for (const std::string model : {"cnn", "vgg19", "resnet18"}) {
    SplitNet net = make_split_net(ModelOptions().name(model).num_classes(7), resolve_cut(model, "shallow"));
    net.bottom->eval();
    net.top->eval();
    torch::NoGradGuard no_grad;
    for (int64_t batch : {0, 1, 5}) {
      INFO(model, " batch ", batch);
      const auto activation = net.bottom->forward(random_batch(net, batch));
      CHECK(sample_shape(activation) == net.cut_shape);
      CHECK(activation.size(0) == batch);
      CHECK(net.top->forward(activation).sizes() == torch::IntArrayRef({batch, 7}));
    }
  }
}

TEST_CASE("clone() deep-copies a half with the same parameter names and values") {
  for (int64_t cut : {2, 9}) {  // mid-block and block boundary
    INFO("resnet18 cut ", cut);
    const SplitNet net = make_split_net(ModelOptions().name("resnet18"), cut);
    for (const auto& half : {net.bottom, net.top}) {
      const auto copy = std::dynamic_pointer_cast<torch::nn::SequentialImpl>(half->clone());
      REQUIRE(copy != nullptr);
      const auto original_parameters = half->named_parameters();
      const auto copied_parameters = copy->named_parameters();
      REQUIRE(original_parameters.size() == copied_parameters.size());
      for (const auto& item : original_parameters) {
        INFO(item.key());
        REQUIRE(copied_parameters.contains(item.key()));
        const torch::Tensor& copied = copied_parameters[item.key()];
        CHECK(torch::equal(copied, item.value()));
        CHECK(copied.data_ptr() != item.value().data_ptr());
      }
      CHECK(copy->named_buffers().size() == half->named_buffers().size());
      CHECK(printed(*copy) == printed(*half));
    }
  }
}

TEST_CASE("modules print what they hold and compute it") {
  CHECK(headline(*ConvBnRelu(ConvBnReluOptions(3, 64, 7).stride(2).padding(3).pool_kernel(3).pool_stride(2).pool_padding(1))) ==
        "mesl::models::ConvBnRelu(3->64, conv7x7, stride=2, padding=3, bias=false, max_pool=3x3/2 pad 1)");
  CHECK(headline(*ConvBnRelu(ConvBnReluOptions(64, 64, 3).padding(1).bias(true).pool_kernel(2))) ==
        "mesl::models::ConvBnRelu(64->64, conv3x3, stride=1, padding=1, bias=true, max_pool=2x2/2)");
  CHECK(headline(*BasicBlock(BasicBlockOptions(64, 128).stride(2))) ==
        "mesl::models::BasicBlock(64->128, stride=2, shortcut=projection)");
  CHECK(headline(*BasicBlock(BasicBlockOptions(64, 64))) ==
        "mesl::models::BasicBlock(64->64, stride=1, shortcut=identity)");
  CHECK(headline(*ConvReluPool(ConvReluPoolOptions(1, 32))) ==
        "mesl::models::ConvReluPool(1->32, conv3x3, padding=1, max_pool=2x2)");
  CHECK(headline(*Dense(DenseOptions(3136, 128).flatten(true))) ==
        "mesl::models::Dense(3136->128, flatten=true, relu=true)");
  CHECK(headline(*PooledLinear(PooledLinearOptions(512, 100))) == "mesl::models::PooledLinear(512->100)");

  // A whole half prints as a Sequential of these, children included.
  const SplitNet net = make_split_net(ModelOptions().name("resnet18"), 2);
  const std::string bottom = printed(*net.bottom);
  CHECK(bottom.find("torch::nn::Sequential") == 0);
  CHECK(bottom.find("(0): mesl::models::ConvBnRelu(3->64, conv3x3") != std::string::npos);
  CHECK(bottom.find("(1): mesl::models::ConvBnRelu(64->64, conv3x3") != std::string::npos);
  CHECK(bottom.find("BasicBlock") == std::string::npos);
  const std::string top = printed(*net.top);
  CHECK(top.find("mesl::models::BasicBlock(64->128, stride=2, shortcut=projection)") != std::string::npos);
  CHECK(top.find("mesl::models::PooledLinear(512->10)") != std::string::npos);

  // And they compute what they print.
  torch::NoGradGuard no_grad;
  Dense dense(DenseOptions(12, 5).flatten(true));
  const auto x = torch::randn({3, 3, 2, 2});
  CHECK(torch::allclose(dense->forward(x), torch::relu(dense->linear(x.reshape({3, 12})))));
  Dense logits(DenseOptions(5, 4).relu(false));
  const auto z = torch::randn({2, 5});
  CHECK(torch::equal(logits->forward(z), logits->linear(z)));
  PooledLinear head(PooledLinearOptions(6, 2));
  const auto f = torch::randn({2, 6, 3, 3});
  CHECK(torch::allclose(head->forward(f), head->linear(f.mean({2, 3}))));
  ConvReluPool conv(ConvReluPoolOptions(2, 3));
  const auto y = conv->forward(torch::randn({1, 2, 7, 7}));
  CHECK(y.sizes() == torch::IntArrayRef({1, 3, 3, 3}));
  CHECK(y.min().item<float>() >= 0.0f);
}
