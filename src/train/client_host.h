#pragma once
// The clients of one rank (docs/protocol.md, "Clients and ranks"): one bottom module with its optimizer, shared by
// every client the rank hosts, and a StateStore with each client's own state (client_state.h). activate(c) swaps
// client c's state into the module, the optimizer, the data cursor and the codec stream; the previous client's goes
// back to the store. The transport is the caller's business: the MPI client role (client_role.cpp) and the local
// runner (local.cpp) drive the same host, so they compute the same numbers.
//
// The bottom's weights: in a topology of turns all clients train one shared bottom, which stays in the module
// whoever is active (and travels to the next client's rank when that is another). In a parallel topology each
// participant trains its own bottom during a round: start_round() sets it to the round's starting bottom, it is
// part of the client's state until finish_round() (after the upload for FedAvg).
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "client_state.h"
#include "context.h"
#include "halves.h"
#include "mesl/codec/codec.h"
#include "protocol.h"
#include "schedule.h"

namespace mesl::train {

class ClientHost {
 public:
  // `train` and `test` must outlive the host. `hosted`: the clients this host may run (their shards are kept in
  // memory once, see data::keep_in_memory).
  ClientHost(const RunContext& ctx, RoundKind kind, const data::Split& train, const data::Split& test,
             std::vector<int64_t> hosted, at::Device device, StateStore& store);

  // Makes `client` the active client (swapping the previous one out), and back.
  void activate(int64_t client);
  void deactivate();
  int64_t active() const { return active_; }

  // A parallel round's start for the active client: its bottom becomes `start` (the round's starting bottom), or
  // the run's initial weights when null. finish_round() ends its own bottom (it was uploaded).
  void start_round(const std::vector<uint8_t>* start);
  void finish_round();

  // Batches in the active client's turn or round (--local-steps, or one local epoch of its shard).
  int64_t turn_steps() const;
  // Positions the cursor for a turn or round that starts at batch `begin` of round `round` (local-epoch mode; with
  // --local-steps the cursor continues) and sets the learning rate.
  void begin(int64_t round, int64_t begin, double lr);

  struct Forward {
    StepHeader header;
    std::vector<uint8_t> payload;
  };
  // The active client's next batch through the bottom and the forward codec (training mode).
  Forward forward(int64_t epoch, int64_t round);
  // The server's gradient payload through the bottom's backward and an optimizer step.
  StepDone backward(const std::vector<uint8_t>& grad_payload, double blocked_s);

  // The bottom in the module (turns: the shared bottom), as bytes, and back.
  std::vector<uint8_t> bottom_state();
  void load_bottom(const std::vector<uint8_t>& state);
  size_t bottom_bytes();

  // Evaluation of test batches [first, end) of --eval-batch-size with the bottom in the module: calls
  // send(header, payload) per batch (evaluation-mode codec). Returns the samples sent.
  template <typename Send>
  int64_t evaluate(int64_t first, int64_t end, Send&& send);

  StateStore& store() { return store_; }

 private:
  void swap_out();
  StepHeader eval_header(const data::Batch& b, double forward_s, double encode_s) const;
  codec::CodecOptions codec_options(int64_t client) const;

  const RunContext& ctx_;
  RoundKind kind_;
  std::unique_ptr<data::Split> train_;  // the hosted clients' shards, in memory (or the streaming split itself)
  const data::Split& train_source_;
  const data::Split& test_split_;
  BottomHalf bottom_;
  std::vector<uint8_t> initial_;  // the run's initial bottom (parallel rounds start from it before any FedAvg)
  StateStore& store_;
  codec::Codec eval_codec_;       // evaluation mode: no stream to advance

  // The active client.
  int64_t active_ = 0;
  bool own_bottom_ = false;  // its own bottom is in the module (parallel round in progress)
  std::optional<data::Loader> loader_;
  std::optional<codec::Codec> codec_;
  int64_t data_epoch_ = 0, batch_index_ = 0;
};

template <typename Send>
int64_t ClientHost::evaluate(int64_t first, int64_t end, Send&& send) {
  const int64_t bs = ctx_.config.eval_batch_size;
  const int64_t b = std::min(first * bs, ctx_.test_size), e = std::min(end * bs, ctx_.test_size);
  if (e <= b) return 0;
  data::Loader loader = test_loader(ctx_, test_split_, b, e);
  int64_t samples = 0;
  for (int64_t i = 0; i < loader.num_batches(); ++i) {
    const data::Batch batch = loader.batch(0, i);
    const auto t0 = std::chrono::steady_clock::now();
    const at::Tensor act = bottom_.infer(batch.images);
    const auto t1 = std::chrono::steady_clock::now();
    std::vector<uint8_t> payload = eval_codec_.encode(act);
    const double encode_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
    send(eval_header(batch, std::chrono::duration<double>(t1 - t0).count(), encode_s), payload);
    samples += batch.labels.size(0);
  }
  return samples;
}

}  // namespace mesl::train
