#pragma once
// The two halves of a split network as the training roles use them: the client's bottom (forward to the cut,
// backward from the cut gradient) and the server's top (loss, cut gradient, evaluation), each with its own SGD.
// The local topology and the MPI roles share this code, so they compute the same numbers.
#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "mesl/train/config.h"

namespace mesl::train {

// The learning rate in `epoch` (0-based) under the configured schedule, stepped per epoch as PyTorch's
// schedulers are: cosine over `epochs`, multistep at `milestones` by `gamma`, step every `step_size` by `gamma`.
double learning_rate(const TrainConfig& config, int64_t epoch);

torch::optim::SGD make_sgd(torch::nn::Module& net, const TrainConfig& config);
void set_learning_rate(torch::optim::SGD& opt, double lr);

class BottomHalf {
 public:
  BottomHalf(torch::nn::Sequential net, const TrainConfig& config, at::Device device);
  // Training forward; keeps the graph for backward().
  at::Tensor forward(const at::Tensor& images);
  // Backpropagates the cut gradient through the last forward and takes an optimizer step.
  void backward(const at::Tensor& grad);
  // Evaluation forward (eval mode, no graph).
  at::Tensor infer(const at::Tensor& images);
  torch::nn::Sequential& net() { return net_; }
  torch::optim::SGD& optimizer() { return opt_; }
  const at::Device& device() const { return device_; }

 private:
  torch::nn::Sequential net_;
  torch::optim::SGD opt_;
  at::Device device_;
  at::Tensor out_;
};

struct TopStep {
  double loss = 0;
  at::Tensor grad;  // d loss / d activation, on the CPU, float32
};

struct EvalCounts {
  double loss_sum = 0;
  int64_t correct1 = 0, correct5 = 0, samples = 0;
  void add(const EvalCounts& o) {
    loss_sum += o.loss_sum;
    correct1 += o.correct1;
    correct5 += o.correct5;
    samples += o.samples;
  }
};

class TopHalf {
 public:
  TopHalf(torch::nn::Sequential net, const TrainConfig& config, at::Device device);
  // Forward from the (decoded) cut activation, cross-entropy loss, backward, optimizer step.
  TopStep train_step(const at::Tensor& activation, const at::Tensor& labels);
  EvalCounts evaluate(const at::Tensor& activation, const at::Tensor& labels);
  torch::nn::Sequential& net() { return net_; }
  torch::optim::SGD& optimizer() { return opt_; }
  const at::Device& device() const { return device_; }

 private:
  torch::nn::Sequential net_;
  torch::optim::SGD opt_;
  at::Device device_;
};

// A module's state (parameters, then buffers, in registration order) as raw bytes, and back. Both ends build the
// same architecture, so the bytes need no per-tensor header; load_state checks the total size.
std::vector<uint8_t> save_state(torch::nn::Module& module);
void load_state(torch::nn::Module& module, const uint8_t* data, size_t size);
inline void load_state(torch::nn::Module& module, const std::vector<uint8_t>& bytes) {
  load_state(module, bytes.data(), bytes.size());
}
size_t state_bytes(torch::nn::Module& module);

// An SGD optimizer's momentum buffers as bytes, and back (a client's optimizer state, swapped in and out of the
// one optimizer a rank shares among its clients): per parameter in order, a byte saying whether it has a buffer
// (SGD makes them at the first step), then the buffer's raw values. load_momentum with empty bytes clears them, as
// for a client that has not trained yet; it throws TrainError when the bytes do not fit the parameters.
std::vector<uint8_t> save_momentum(torch::optim::SGD& opt);
void load_momentum(torch::optim::SGD& opt, const std::vector<uint8_t>& bytes);

// FedAvg: the weighted average of several states of `module`'s architecture (floating tensors averaged with
// weights proportional to `weights`; integer buffers such as BatchNorm's batch counters take the maximum),
// loaded into `module`.
void load_average(torch::nn::Module& module, const std::vector<std::vector<uint8_t>>& states,
                  const std::vector<double>& weights);

}  // namespace mesl::train
