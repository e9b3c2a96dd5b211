// Training through the split: the speed of a step (printed, not asserted) and the small CNN's accuracy on
// Fashion-MNIST.
#include "helpers.h"

#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>

using namespace mesl::models;
using namespace mesl::models::test;

namespace {

std::vector<torch::Tensor> parameters_of(SplitNet& net) {
  auto parameters = net.bottom->parameters();
  for (const auto& p : net.top->parameters()) parameters.push_back(p);
  return parameters;
}

// One split-learning step as the roles run it: the client's bottom forward, the server's top forward and backward,
// the cut-layer gradient back into the bottom. Returns the loss.
float train_step(SplitNet& net, torch::optim::Optimizer& optimizer, const torch::Tensor& x, const torch::Tensor& y) {
  optimizer.zero_grad();
  const torch::Tensor activation = net.bottom->forward(x);
  const torch::Tensor received = activation.detach().requires_grad_(true);  // what crosses the link
  const torch::Tensor loss = torch::nn::functional::cross_entropy(net.top->forward(received), y);
  loss.backward();
  activation.backward(received.grad());
  optimizer.step();
  return loss.item<float>();
}

// Big-endian 32-bit integer from an IDX header.
uint32_t read_be32(gzFile file) {
  unsigned char bytes[4];
  REQUIRE(gzread(file, bytes, 4) == 4);
  return (uint32_t{bytes[0]} << 24) | (uint32_t{bytes[1]} << 16) | (uint32_t{bytes[2]} << 8) | uint32_t{bytes[3]};
}

// The first `limit` items of a gzip-compressed IDX file (images [n, 28, 28] or labels [n]) as uint8.
torch::Tensor read_idx(const std::string& path, int64_t limit) {
  std::unique_ptr<gzFile_s, int (*)(gzFile)> file(gzopen(path.c_str(), "rb"), gzclose);
  REQUIRE_MESSAGE(file != nullptr, "cannot open ", path, " (Debian package dataset-fashion-mnist)");
  const uint32_t magic = read_be32(file.get());
  REQUIRE((magic == 0x801 || magic == 0x803));
  std::vector<int64_t> sizes;
  for (uint32_t d = 0; d < (magic & 0xff); ++d) sizes.push_back(read_be32(file.get()));
  sizes[0] = std::min<int64_t>(sizes[0], limit);
  torch::Tensor data = torch::empty(sizes, torch::kUInt8);
  const auto bytes = static_cast<unsigned>(data.numel());
  REQUIRE(gzread(file.get(), data.data_ptr(), bytes) == static_cast<int>(bytes));
  return data;
}

// Fashion-MNIST images scaled to 0..1 and normalised with the training set's mean and deviation.
torch::Tensor normalised(const torch::Tensor& images) {
  return (images.to(torch::kFloat).div(255.0).unsqueeze(1) - 0.2860) / 0.3530;
}

}  // namespace

TEST_CASE("throughput of a training step through the split (printed)") {
  struct Setting {
    std::string model;
    int64_t batch, steps;
  };
  // One thread, as one client rank of a 2-core run would have.
  const int threads = torch::get_num_threads();
  torch::set_num_threads(1);
  for (const Setting& s : {Setting{"cnn", 64, 5}, Setting{"vgg19", 32, 1}, Setting{"resnet18", 32, 1}}) {
    torch::manual_seed(5);
    SplitNet net = make_split_net(ModelOptions().name(s.model), resolve_cut(s.model, "medium"));
    torch::optim::SGD optimizer(parameters_of(net), torch::optim::SGDOptions(0.01).momentum(0.9));
    const torch::Tensor x = random_batch(net, s.batch);
    const torch::Tensor y = torch::randint(10, {s.batch}, torch::kLong);
    const float first_loss = train_step(net, optimizer, x, y);  // also the warm-up
    const auto start = std::chrono::steady_clock::now();
    float loss = first_loss;
    for (int64_t step = 0; step < s.steps; ++step) loss = train_step(net, optimizer, x, y);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double samples_per_second = static_cast<double>(s.batch * s.steps) / seconds;
    std::printf("[models] %s medium cut, batch %lld, 1 thread: %.1f samples/s (loss %.3f -> %.3f)\n",
                s.model.c_str(), static_cast<long long>(s.batch), samples_per_second, first_loss, loss);
    INFO(s.model);
    CHECK(std::isfinite(loss));
    CHECK(loss < first_loss);  // repeated steps on one batch must fit it
  }
  torch::set_num_threads(threads);
}

TEST_CASE("the cnn learns Fashion-MNIST through its shallow cut") {
  // One pass over the first 6,000 training images, to keep the test short (two epochs over all 60,000 reach 89%;
  // see docs/models.md), with the settings the cnn is meant for: SGD, lr 0.05, momentum 0.9, batch 64.
  const std::string dir = "/usr/share/datasets/fashion-mnist/";
  const int64_t train_size = 6000, test_size = 1000, batch = 64;
  const torch::Tensor train_x = normalised(read_idx(dir + "train-images-idx3-ubyte.gz", train_size));
  const torch::Tensor train_y = read_idx(dir + "train-labels-idx1-ubyte.gz", train_size).to(torch::kLong);
  const torch::Tensor test_x = normalised(read_idx(dir + "t10k-images-idx3-ubyte.gz", test_size));
  const torch::Tensor test_y = read_idx(dir + "t10k-labels-idx1-ubyte.gz", test_size).to(torch::kLong);
  REQUIRE(train_x.sizes() == torch::IntArrayRef({train_size, 1, 28, 28}));
  REQUIRE(test_y.size(0) == test_size);

  torch::manual_seed(1);
  SplitNet net = make_split_net(ModelOptions().name("cnn"), resolve_cut("cnn", "shallow"));
  torch::optim::SGD optimizer(parameters_of(net), torch::optim::SGDOptions(0.05).momentum(0.9));
  const torch::Tensor order = torch::randperm(train_size, torch::kLong);
  for (int64_t start = 0; start < train_size; start += batch) {
    const auto idx = order.slice(0, start, std::min(start + batch, train_size));
    train_step(net, optimizer, train_x.index_select(0, idx), train_y.index_select(0, idx));
  }

  torch::NoGradGuard no_grad;
  net.bottom->eval();
  net.top->eval();
  const torch::Tensor predicted = net.top->forward(net.bottom->forward(test_x)).argmax(1);
  const double accuracy = predicted.eq(test_y).to(torch::kDouble).mean().item<double>();
  std::printf("[models] cnn, one pass over %lld Fashion-MNIST images: test accuracy %.4f\n",
              static_cast<long long>(train_size), accuracy);
  CHECK(accuracy > 0.70);  // 78% here; chance is 10%
}
