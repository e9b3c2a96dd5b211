#include "halves.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "mesl/error.h"

namespace mesl::train {

double learning_rate(const TrainConfig& c, int64_t epoch) {
  const double base = *c.lr;
  switch (*c.schedule) {
    case LrSchedule::constant: return base;
    case LrSchedule::cosine:
      return 0.5 * base * (1.0 + std::cos(M_PI * static_cast<double>(epoch) / static_cast<double>(*c.epochs)));
    case LrSchedule::multistep: {
      double lr = base;
      for (int64_t m : c.milestones)
        if (epoch >= m) lr *= *c.gamma;
      return lr;
    }
    case LrSchedule::step: return base * std::pow(*c.gamma, static_cast<double>(epoch / *c.step_size));
  }
  return base;
}

torch::optim::SGD make_sgd(torch::nn::Module& net, const TrainConfig& c) {
  return torch::optim::SGD(net.parameters(),
                           torch::optim::SGDOptions(*c.lr).momentum(*c.momentum).weight_decay(*c.weight_decay));
}

void set_learning_rate(torch::optim::SGD& opt, double lr) {
  // A schedule with --gamma > 1 can grow the rate past float32, which LibTorch reports as a bare conversion error.
  MESL_CHECK(std::isfinite(lr) && std::fabs(lr) <= std::numeric_limits<float>::max(), ConfigError,
             "the learning rate of this epoch, ", lr, ", does not fit in float32; lower --lr or --gamma");
  for (auto& group : opt.param_groups()) static_cast<torch::optim::SGDOptions&>(group.options()).lr(lr);
}

BottomHalf::BottomHalf(torch::nn::Sequential net, const TrainConfig& config, at::Device device)
    : net_(std::move(net)), opt_((net_->to(device), make_sgd(*net_, config))), device_(device) {}

at::Tensor BottomHalf::forward(const at::Tensor& images) {
  net_->train();
  out_ = net_->forward(images.to(device_));
  return out_;
}

void BottomHalf::backward(const at::Tensor& grad) {
  MESL_CHECK(out_.defined(), TrainError, "internal error: bottom backward without a forward");
  opt_.zero_grad();
  out_.backward(grad.to(out_.device(), out_.scalar_type()));
  opt_.step();
  out_ = at::Tensor();
}

at::Tensor BottomHalf::infer(const at::Tensor& images) {
  torch::NoGradGuard no_grad;
  net_->eval();
  at::Tensor out = net_->forward(images.to(device_));
  net_->train();
  return out;
}

TopHalf::TopHalf(torch::nn::Sequential net, const TrainConfig& config, at::Device device)
    : net_(std::move(net)), opt_((net_->to(device), make_sgd(*net_, config))), device_(device) {}

TopStep TopHalf::train_step(const at::Tensor& activation, const at::Tensor& labels) {
  net_->train();
  at::Tensor act = activation.to(device_, at::kFloat).detach().requires_grad_(true);
  opt_.zero_grad();
  at::Tensor loss = torch::nn::functional::cross_entropy(net_->forward(act), labels.to(device_));
  loss.backward();
  opt_.step();
  return TopStep{loss.item<double>(), act.grad().to(at::kCPU)};
}

EvalCounts TopHalf::evaluate(const at::Tensor& activation, const at::Tensor& labels) {
  torch::NoGradGuard no_grad;
  net_->eval();
  const at::Tensor target = labels.to(device_);
  const at::Tensor logits = net_->forward(activation.to(device_, at::kFloat));
  net_->train();
  EvalCounts c;
  c.samples = labels.size(0);
  c.loss_sum = torch::nn::functional::cross_entropy(
                   logits, target, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                   .item<double>();
  const int64_t k = std::min<int64_t>(5, logits.size(1));
  const at::Tensor top = std::get<1>(logits.topk(k, 1));
  const at::Tensor hits = top.eq(target.unsqueeze(1));
  c.correct1 = hits.narrow(1, 0, 1).sum().item<int64_t>();
  c.correct5 = hits.sum().item<int64_t>();
  return c;
}

namespace {

std::vector<at::Tensor> state_tensors(torch::nn::Module& m) {
  std::vector<at::Tensor> out;
  for (auto& p : m.parameters()) out.push_back(p);
  for (auto& b : m.buffers()) out.push_back(b);
  return out;
}

size_t tensor_bytes(const at::Tensor& t) { return static_cast<size_t>(t.numel()) * t.element_size(); }

}  // namespace

size_t state_bytes(torch::nn::Module& module) {
  size_t n = 0;
  for (const auto& t : state_tensors(module)) n += tensor_bytes(t);
  return n;
}

std::vector<uint8_t> save_state(torch::nn::Module& module) {
  std::vector<uint8_t> out(state_bytes(module));
  size_t at = 0;
  for (const auto& t : state_tensors(module)) {
    const at::Tensor c = t.detach().to(at::kCPU).contiguous();
    std::memcpy(out.data() + at, c.data_ptr(), tensor_bytes(c));
    at += tensor_bytes(c);
  }
  return out;
}

void load_state(torch::nn::Module& module, const uint8_t* data, size_t size) {
  MESL_CHECK(size == state_bytes(module), CommError, "a model state of ", size, " bytes does not fit this model (",
             state_bytes(module), " bytes): the ranks disagree about the model or the cut");
  torch::NoGradGuard no_grad;
  size_t at = 0;
  for (auto& t : state_tensors(module)) {
    const at::Tensor src = at::from_blob(const_cast<uint8_t*>(data + at), t.sizes(), t.options().device(at::kCPU));
    t.copy_(src);
    at += tensor_bytes(t);
  }
}

namespace {

// The key under which LibTorch's optimizers keep a parameter's state (torch/optim/*.cpp).
std::string state_key(const at::Tensor& p) { return c10::guts::to_string(p.unsafeGetTensorImpl()); }

std::vector<at::Tensor> optimized(torch::optim::SGD& opt) {
  std::vector<at::Tensor> out;
  for (auto& group : opt.param_groups())
    for (auto& p : group.params()) out.push_back(p);
  return out;
}

}  // namespace

std::vector<uint8_t> save_momentum(torch::optim::SGD& opt) {
  std::vector<uint8_t> out;
  auto& state = opt.state();
  if (state.empty()) return out;
  for (const at::Tensor& p : optimized(opt)) {
    const auto it = state.find(state_key(p));
    if (it == state.end()) {
      out.push_back(0);
      continue;
    }
    const at::Tensor buf =
        static_cast<torch::optim::SGDParamState&>(*it->second).momentum_buffer().detach().to(at::kCPU).contiguous();
    out.push_back(1);
    const size_t at = out.size(), n = tensor_bytes(buf);
    out.resize(at + n);
    std::memcpy(out.data() + at, buf.data_ptr(), n);
  }
  return out;
}

void load_momentum(torch::optim::SGD& opt, const std::vector<uint8_t>& bytes) {
  auto& state = opt.state();
  state.clear();
  if (bytes.empty()) return;
  size_t at = 0;
  for (const at::Tensor& p : optimized(opt)) {
    MESL_CHECK(at < bytes.size(), TrainError, "a client's optimizer state is cut short (", bytes.size(), " bytes)");
    if (bytes[at++] == 0) continue;
    const size_t n = tensor_bytes(p);
    MESL_CHECK(at + n <= bytes.size(), TrainError, "a client's optimizer state of ", bytes.size(),
               " bytes does not fit this model's parameters");
    at::Tensor buf = at::empty(p.sizes(), p.options().device(at::kCPU));
    std::memcpy(buf.data_ptr(), bytes.data() + at, n);
    at += n;
    auto s = std::make_unique<torch::optim::SGDParamState>();
    s->momentum_buffer(buf.to(p.device()));
    state[state_key(p)] = std::move(s);
  }
  MESL_CHECK(at == bytes.size(), TrainError, "a client's optimizer state of ", bytes.size(),
             " bytes does not fit this model's parameters");
}

void load_average(torch::nn::Module& module, const std::vector<std::vector<uint8_t>>& states,
                  const std::vector<double>& weights) {
  MESL_CHECK(!states.empty() && states.size() == weights.size(), TrainError, "internal error: nothing to average");
  double total = 0;
  for (double w : weights) total += w;
  torch::NoGradGuard no_grad;
  size_t at = 0;
  for (auto& t : state_tensors(module)) {
    const auto cpu = t.options().device(at::kCPU);
    if (at::isFloatingType(t.scalar_type())) {
      at::Tensor sum = at::zeros(t.sizes(), cpu.dtype(at::kDouble));
      for (size_t i = 0; i < states.size(); ++i) {
        MESL_CHECK(states[i].size() == state_bytes(module), CommError, "a model state of ", states[i].size(),
                   " bytes does not fit this model");
        sum.add_(at::from_blob(const_cast<uint8_t*>(states[i].data() + at), t.sizes(), cpu).to(at::kDouble),
                 weights[i] / total);
      }
      t.copy_(sum.to(t.scalar_type()));
    } else {
      at::Tensor best = at::from_blob(const_cast<uint8_t*>(states[0].data() + at), t.sizes(), cpu).clone();
      for (size_t i = 1; i < states.size(); ++i)
        best = at::maximum(best, at::from_blob(const_cast<uint8_t*>(states[i].data() + at), t.sizes(), cpu));
      t.copy_(best);
    }
    at += tensor_bytes(t);
  }
}

}  // namespace mesl::train
