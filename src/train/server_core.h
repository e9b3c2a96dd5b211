#pragma once
// The server's half of training (docs/protocol.md): one top, or a top per participant of the round (sflv1), the
// loss and the cut-layer gradient through the gradient codec, evaluation, and FedAvg of the tops. Every client has
// its own gradient-codec stream (seed + client id), so that no result depends on which clients share a rank or in
// which order the server serves them. The MPI coordinator (server_role.cpp) and the local runner drive it.
#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <set>
#include <vector>

#include "context.h"
#include "halves.h"
#include "mesl/codec/codec.h"
#include "mesl/metrics/run_writer.h"
#include "protocol.h"

namespace mesl::train {

class ServerCore {
 public:
  ServerCore(const RunContext& ctx, at::Device device);

  // A round with a top per participant: each participant's replica starts from the current top, made at the
  // participant's first step (so that the round's first step does not wait for all of them). One that had a
  // replica in the previous round keeps its optimizer state (with every client in every round, each replica keeps
  // its momentum for the whole run); the others start afresh. Replicas of clients outside the round are dropped:
  // the server holds at most one per participant, never one per client of the population.
  void begin_round(const std::vector<int64_t>& participants);

  struct Result {
    std::vector<uint8_t> grad_payload;
    metrics::StepRow row;  // complete but for the step number and the client's part after its backward
    double server_s = 0;   // decode + top + gradient encode
  };
  // `step`: the number the caller will give the row, so that a NaN/Inf loss can be reported with it.
  Result train_step(int64_t client, const StepHeader& header, const std::vector<uint8_t>& payload, int64_t step);
  EvalCounts eval_step(const StepHeader& header, const std::vector<uint8_t>& payload);
  void set_lr(double lr);
  // FedAvg of the participants' replicas into the top, weighted by `weights` (their shard sizes), summed in
  // participant order; a no-op without replicas.
  void average_replicas(const std::vector<int64_t>& participants, const std::vector<double>& weights);

  size_t replicas() const { return replicas_.size(); }
  size_t top_bytes() { return state_bytes(*top_.net()); }
  void save(torch::serialize::OutputArchive& a);
  void load(torch::serialize::InputArchive& a);

 private:
  TopHalf& top_for(int64_t client);
  const RunContext& ctx_;
  at::Device device_;
  TopHalf top_;
  bool with_replicas_ = false;        // this round has a top per participant
  std::map<int64_t, TopHalf> replicas_;
  std::set<int64_t> round_clients_;   // this round's participants
  std::set<int64_t> stale_;           // replicas kept from the previous round, not yet given the current top
  double lr_ = 0;
  std::vector<uint64_t> grad_draws_;  // by client id: encodes drawn from its gradient codec's stream
  codec::DecodeOptions decode_;
};

// A module half and its optimizer in a checkpoint archive under `key`, and back (CheckpointError when it does not
// fit the model).
void save_half(torch::serialize::OutputArchive& a, const std::string& key, torch::nn::Module& net,
               torch::optim::Optimizer& opt);
void load_half(torch::serialize::InputArchive& a, const std::string& key, torch::nn::Module& net,
               torch::optim::Optimizer& opt);

}  // namespace mesl::train
