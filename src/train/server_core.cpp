#include "server_core.h"

#include <chrono>
#include <cmath>

#include "checkpoint.h"
#include "mesl/error.h"
#include "steps.h"

namespace mesl::train {
namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

}  // namespace

void save_half(torch::serialize::OutputArchive& a, const std::string& key, torch::nn::Module& net,
               torch::optim::Optimizer& opt) {
  torch::serialize::OutputArchive m, o;
  net.save(m);
  opt.save(o);
  a.write(key + ".model", m);
  a.write(key + ".optimizer", o);
}

void load_half(torch::serialize::InputArchive& a, const std::string& key, torch::nn::Module& net,
               torch::optim::Optimizer& opt) {
  torch::serialize::InputArchive m, o;
  try {
    a.read(key + ".model", m);
    a.read(key + ".optimizer", o);
    net.load(m);
    opt.load(o);
  } catch (const c10::Error& e) {
    const std::string what = e.what_without_backtrace();
    throw CheckpointError("a checkpoint's " + key + " does not fit this model: " + what.substr(0, what.find('\n')));
  }
}

ServerCore::ServerCore(const RunContext& ctx, at::Device device)
    : ctx_(ctx),
      device_(device),
      top_(clone_sequential(ctx.net.top), ctx.config, device),
      grad_draws_(static_cast<size_t>(ctx.config.clients) + 1, 0),
      decode_(codec::DecodeOptions().device(device)) {}

void ServerCore::begin_round(const std::vector<int64_t>& participants) {
  with_replicas_ = true;
  round_clients_ = std::set<int64_t>(participants.begin(), participants.end());
  for (auto it = replicas_.begin(); it != replicas_.end();) {
    if (round_clients_.count(it->first)) {
      stale_.insert(it->first);
      ++it;
    } else {
      stale_.erase(it->first);
      it = replicas_.erase(it);
    }
  }
}

TopHalf& ServerCore::top_for(int64_t client) {
  if (!with_replicas_) return top_;
  MESL_CHECK(round_clients_.count(client), CommError, "client ", client,
             " sent a step but takes no part in this round");
  auto it = replicas_.find(client);
  if (it == replicas_.end()) {
    it = replicas_.emplace(client, TopHalf(clone_sequential(top_.net()), ctx_.config, device_)).first;
    set_learning_rate(it->second.optimizer(), lr_);
  } else if (stale_.erase(client)) {
    load_state(*it->second.net(), save_state(*top_.net()));
  }
  return it->second;
}

void ServerCore::set_lr(double lr) {
  lr_ = lr;
  set_learning_rate(top_.optimizer(), lr);
  for (auto& [client, t] : replicas_) set_learning_rate(t.optimizer(), lr);
}

ServerCore::Result ServerCore::train_step(int64_t client, const StepHeader& h, const std::vector<uint8_t>& payload,
                                          int64_t step_number) {
  MESL_CHECK(client >= 1 && client <= ctx_.config.clients, CommError, "a step names client ", client, " of ",
             ctx_.config.clients);
  Result r;
  auto t0 = Clock::now();
  const at::Tensor act = codec::decode(payload, decode_);
  const double decode_s = since(t0);
  MESL_CHECK(static_cast<int64_t>(h.labels.size()) == h.batch_size && act.dim() >= 1 && act.size(0) == h.batch_size,
             CommError, "client ", client, " sent a step whose labels and activations disagree");
  t0 = Clock::now();
  TopStep step = top_for(client).train_step(act, labels_tensor(h.labels));
  const double top_s = since(t0);
  if (!std::isfinite(step.loss)) fail_nonfinite("the training loss", client, h.epoch, step_number);
  t0 = Clock::now();
  // The client's own gradient stream (rt draws), whichever clients came before it.
  codec::Codec grad(codec::CodecOptions(ctx_.config.grad_codec)
                        .seed(ctx_.config.grad_codec.seed() + static_cast<uint64_t>(client)));
  uint64_t& draws = grad_draws_[static_cast<size_t>(client)];
  grad.set_draws(draws);
  r.grad_payload = grad.encode(step.grad);
  draws = grad.draws();
  const double encode_s = since(t0);
  r.server_s = decode_s + top_s + encode_s;
  metrics::StepRow& row = r.row;
  row.epoch = h.epoch;
  row.round = h.round;
  row.client = client;
  row.batch_size = h.batch_size;
  row.loss = step.loss;
  row.fwd_bytes = static_cast<int64_t>(payload.size());
  row.bwd_bytes = static_cast<int64_t>(r.grad_payload.size());
  row.encode_s = h.encode_s + encode_s;
  row.decode_s = decode_s;
  row.compute_s = h.forward_s + top_s;
  row.rel_error = h.rel_error;
  return r;
}

EvalCounts ServerCore::eval_step(const StepHeader& h, const std::vector<uint8_t>& payload) {
  const at::Tensor act = codec::decode(payload, decode_);
  MESL_CHECK(static_cast<int64_t>(h.labels.size()) == h.batch_size && act.dim() >= 1 && act.size(0) == h.batch_size,
             CommError, "an evaluation step's labels and activations disagree");
  return top_.evaluate(act, labels_tensor(h.labels));
}

void ServerCore::average_replicas(const std::vector<int64_t>& participants, const std::vector<double>& weights) {
  if (!with_replicas_) return;
  std::vector<std::vector<uint8_t>> states;
  for (const int64_t c : participants) states.push_back(save_state(*top_for(c).net()));
  load_average(*top_.net(), states, weights);
}

void ServerCore::save(torch::serialize::OutputArchive& a) {
  save_half(a, "top", *top_.net(), top_.optimizer());
  std::vector<int64_t> clients;
  for (auto& [c, t] : replicas_) {
    save_half(a, "replica." + std::to_string(c), *t.net(), t.optimizer());
    clients.push_back(c);
  }
  put(a, "replica_clients", clients);
  put(a, "with_replicas", static_cast<int64_t>(with_replicas_));
  put(a, "round_clients", std::vector<int64_t>(round_clients_.begin(), round_clients_.end()));
  put(a, "stale_replicas", std::vector<int64_t>(stale_.begin(), stale_.end()));
  put(a, "grad_codec_draws", std::vector<int64_t>(grad_draws_.begin(), grad_draws_.end()));
}

void ServerCore::load(torch::serialize::InputArchive& a) {
  load_half(a, "top", *top_.net(), top_.optimizer());
  replicas_.clear();
  for (const int64_t c : get_ints(a, "replica_clients")) {
    TopHalf t(clone_sequential(top_.net()), ctx_.config, device_);
    load_half(a, "replica." + std::to_string(c), *t.net(), t.optimizer());
    replicas_.emplace(c, std::move(t));
  }
  with_replicas_ = get_int(a, "with_replicas") != 0;
  const auto round = get_ints(a, "round_clients"), stale = get_ints(a, "stale_replicas");
  round_clients_ = std::set<int64_t>(round.begin(), round.end());
  stale_ = std::set<int64_t>(stale.begin(), stale.end());
  const auto draws = get_ints(a, "grad_codec_draws");
  MESL_CHECK(draws.size() == grad_draws_.size(), CheckpointError, "the checkpoint has ", draws.size() - 1,
             " clients' gradient streams and this run ", grad_draws_.size() - 1, " clients");
  grad_draws_.assign(draws.begin(), draws.end());
}

}  // namespace mesl::train
