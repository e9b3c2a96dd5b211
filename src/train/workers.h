#pragma once
// The computation of a training step, apart from how its messages travel: ClientWorker is a client's half (data,
// bottom, forward codec), ServerWorker the server's (top(s), loss, gradient codec). The MPI roles (roles.cpp) and
// the local topology (local.cpp) drive the same workers, so the transport is the only difference between them.
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "context.h"
#include "halves.h"
#include "mesl/codec/codec.h"
#include "mesl/metrics/run_writer.h"
#include "protocol.h"
#include "checkpoint.h"

namespace mesl::train {

class ClientWorker {
 public:
  ClientWorker(const RunContext& ctx, int64_t client, const data::Split& train, const data::Split& test,
               torch::nn::Sequential bottom, at::Device device);

  // Batches in this client's next turn or round: `requested` (--local-steps) or a whole local epoch.
  int64_t turn_steps() const;
  // Positions the data cursor at the start of round `round` (a new local epoch unless --local-steps is set).
  void begin_round(int64_t round, double lr);

  struct Forward {
    StepHeader header;
    std::vector<uint8_t> payload;
  };
  // Next batch through the bottom and the forward codec (training mode).
  Forward forward(int64_t epoch, int64_t round);
  // The server's gradient payload through the gradient decoder and the bottom's backward and step.
  StepDone backward(const std::vector<uint8_t>& grad_payload, double blocked_s);

  // Evaluation over test samples [begin, end): calls send(header, payload) per batch (evaluation mode codec).
  template <typename Send>
  int64_t evaluate(int64_t begin, int64_t end, Send&& send);

  BottomHalf& bottom() { return bottom_; }
  codec::Codec& codec() { return codec_; }
  int64_t client() const { return client_; }
  // Batches in a whole turn (--local-steps, or one local epoch of this client's shard).
  int64_t steps_per_turn() const { return turn_steps(); }
  // Positions the cursor for a turn that starts at batch `begin` of round `round` (local-epoch mode; with
  // --local-steps the cursor just continues).
  void begin_turn(int64_t round, int64_t begin, double lr);
  // Everything a checkpoint needs to continue this client exactly: bottom, optimizer, codec stream, data cursor.
  void save(torch::serialize::OutputArchive& a);
  void load(torch::serialize::InputArchive& a);
  int64_t shard_size() const { return static_cast<int64_t>(ctx_.shards[static_cast<size_t>(client_ - 1)].size()); }
  // The data cursor (for checkpoints).
  int64_t data_epoch() const { return data_epoch_; }
  int64_t batch_index() const { return batch_index_; }
  void set_cursor(int64_t data_epoch, int64_t batch_index) {
    data_epoch_ = data_epoch;
    batch_index_ = batch_index;
  }

 private:
  StepHeader eval_header(const data::Batch& b, double forward_s, double encode_s);
  const RunContext& ctx_;
  int64_t client_;
  data::Loader train_;
  const data::Split& test_split_;
  BottomHalf bottom_;
  codec::Codec codec_;
  at::Device device_;
  int64_t data_epoch_ = 0, batch_index_ = 0;
};

class ServerWorker {
 public:
  // sflv1 keeps one top replica per client; the other topologies one top for everyone.
  ServerWorker(const RunContext& ctx, const models::SplitNet& net, at::Device device);

  struct Result {
    std::vector<uint8_t> grad_payload;
    metrics::StepRow row;  // complete but for the step number and the client's part after its backward
    double server_s = 0;   // decode + top + gradient encode
  };
  // `step`: the step number the caller will give the row, so that a NaN/Inf loss can be reported with it.
  Result train_step(int64_t client, const StepHeader& header, const std::vector<uint8_t>& payload,
                    int64_t step = -1);
  EvalCounts eval_step(const StepHeader& header, const std::vector<uint8_t>& payload);
  void set_lr(double lr);
  // sflv1: FedAvg of the replicas (weights: shard sizes); a no-op with one top.
  void average_replicas(const std::vector<double>& weights);
  std::vector<TopHalf>& tops() { return tops_; }
  void save(torch::serialize::OutputArchive& a);
  void load(torch::serialize::InputArchive& a);
  codec::Codec& grad_codec() { return grad_codec_; }

 private:
  TopHalf& top_for(int64_t client);
  const RunContext& ctx_;
  std::vector<TopHalf> tops_;
  codec::Codec grad_codec_;
  codec::DecodeOptions decode_;
};

// The header bytes of a codec payload (for the traffic counts).
size_t payload_header_bytes(const std::vector<uint8_t>& payload);

// Completes a step row with the client's report after its backward.
void complete_row(metrics::StepRow& row, const StepDone& done, double server_s);

// Runs f(), rethrowing a codec's refusal of NaN/Inf with the step and client named.
[[noreturn]] void fail_nonfinite(const char* what, int64_t client, int64_t epoch, int64_t step);

template <typename Send>
int64_t ClientWorker::evaluate(int64_t begin, int64_t end, Send&& send) {
  if (end <= begin) return 0;
  data::Loader loader = test_loader(ctx_, test_split_, begin, end);
  codec_.eval();
  int64_t samples = 0;
  for (int64_t i = 0; i < loader.num_batches(); ++i) {
    const data::Batch b = loader.batch(0, i);
    const auto t0 = std::chrono::steady_clock::now();
    const at::Tensor act = bottom_.infer(b.images);
    const auto t1 = std::chrono::steady_clock::now();
    std::vector<uint8_t> payload = codec_.encode(act);
    const double encode_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
    send(eval_header(b, std::chrono::duration<double>(t1 - t0).count(), encode_s), payload);
    samples += b.labels.size(0);
  }
  codec_.train();
  return samples;
}

}  // namespace mesl::train
