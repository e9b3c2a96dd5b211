#include "workers.h"

#include <chrono>
#include <cmath>

#include "mesl/error.h"

namespace mesl::train {
namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::vector<int32_t> labels_of(const at::Tensor& labels) {
  const at::Tensor l = labels.to(at::kInt).contiguous();
  return std::vector<int32_t>(l.data_ptr<int32_t>(), l.data_ptr<int32_t>() + l.numel());
}

at::Tensor labels_tensor(const std::vector<int32_t>& labels) {
  return at::tensor(std::vector<int64_t>(labels.begin(), labels.end()), at::kLong);
}

}  // namespace

void fail_nonfinite(const char* what, int64_t client, int64_t epoch, int64_t step) {
  throw TrainError(::mesl::detail::concat(what, " became NaN or Inf at step ", step, " of epoch ", epoch + 1,
                                          " (client ", client, "); lower --lr or check the data"));
}

ClientWorker::ClientWorker(const RunContext& ctx, int64_t client, const data::Split& train, const data::Split& test,
                           torch::nn::Sequential bottom, at::Device device)
    : ctx_(ctx),
      client_(client),
      train_(train_loader(ctx, train, client)),
      test_split_(test),
      bottom_(std::move(bottom), ctx.config, device),
      // Each client draws its own rt stream.
      codec_(codec::CodecOptions(ctx.config.codec).seed(ctx.config.codec.seed() + static_cast<uint64_t>(client))),
      device_(device) {
  MESL_CHECK(train_.num_batches() > 0, ConfigError, "client ", client,
             " has no training samples: use fewer clients or more data");
}

int64_t ClientWorker::turn_steps() const {
  return ctx_.config.local_steps > 0 ? ctx_.config.local_steps : train_.num_batches();
}

void ClientWorker::begin_round(int64_t round, double lr) {
  set_learning_rate(bottom_.optimizer(), lr);
  if (ctx_.config.local_steps == 0) set_cursor(round, 0);
}

void ClientWorker::begin_turn(int64_t round, int64_t begin, double lr) {
  set_learning_rate(bottom_.optimizer(), lr);
  if (ctx_.config.local_steps == 0) set_cursor(round, begin);
}

namespace {

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

}  // namespace

void ClientWorker::save(torch::serialize::OutputArchive& a) {
  save_half(a, "bottom", *bottom_.net(), bottom_.optimizer());
  put(a, "codec_draws", static_cast<int64_t>(codec_.draws()));
  put(a, "data_epoch", data_epoch_);
  put(a, "batch_index", batch_index_);
}

void ClientWorker::load(torch::serialize::InputArchive& a) {
  load_half(a, "bottom", *bottom_.net(), bottom_.optimizer());
  codec_.set_draws(static_cast<uint64_t>(get_int(a, "codec_draws")));
  set_cursor(get_int(a, "data_epoch"), get_int(a, "batch_index"));
}

void ServerWorker::save(torch::serialize::OutputArchive& a) {
  for (size_t i = 0; i < tops_.size(); ++i) save_half(a, "top" + std::to_string(i), *tops_[i].net(), tops_[i].optimizer());
  put(a, "grad_codec_draws", static_cast<int64_t>(grad_codec_.draws()));
}

void ServerWorker::load(torch::serialize::InputArchive& a) {
  for (size_t i = 0; i < tops_.size(); ++i) load_half(a, "top" + std::to_string(i), *tops_[i].net(), tops_[i].optimizer());
  grad_codec_.set_draws(static_cast<uint64_t>(get_int(a, "grad_codec_draws")));
}

ClientWorker::Forward ClientWorker::forward(int64_t epoch, int64_t round) {
  if (batch_index_ >= train_.num_batches()) set_cursor(data_epoch_ + 1, 0);
  const data::Batch b = train_.batch(data_epoch_, batch_index_++);
  auto t0 = Clock::now();
  const at::Tensor act = bottom_.forward(b.images);
  Forward f;
  f.header.forward_s = since(t0);
  t0 = Clock::now();
  try {
    f.payload = codec_.encode(act.detach());
  } catch (const CodecError& e) {
    if (!torch::isfinite(act).all().item<bool>()) fail_nonfinite("the cut-layer activation", client_, epoch, batch_index_ - 1);
    throw;
  }
  f.header.encode_s = since(t0);
  f.header.kind = StepKind::train;
  f.header.epoch = epoch;
  f.header.round = round;
  f.header.batch_size = b.labels.size(0);
  f.header.labels = labels_of(b.labels);
  // The compression error as the server will see it (0 without decoding for the lossless identity codec).
  const bool lossless = codec_.options().method() == codec::Method::identity;
  f.header.rel_error = lossless ? 0.0 : codec::relative_error(act.detach(), codec::decode(f.payload));
  return f;
}

StepDone ClientWorker::backward(const std::vector<uint8_t>& grad_payload, double blocked_s) {
  StepDone d;
  auto t0 = Clock::now();
  const at::Tensor grad = codec::decode(grad_payload, codec::DecodeOptions().device(device_));
  d.decode_s = since(t0);
  t0 = Clock::now();
  bottom_.backward(grad);
  d.backward_s = since(t0);
  d.blocked_s = blocked_s;
  return d;
}

StepHeader ClientWorker::eval_header(const data::Batch& b, double forward_s, double encode_s) {
  StepHeader h;
  h.kind = StepKind::eval;
  h.batch_size = b.labels.size(0);
  h.forward_s = forward_s;
  h.encode_s = encode_s;
  h.labels = labels_of(b.labels);
  return h;
}

ServerWorker::ServerWorker(const RunContext& ctx, const models::SplitNet& net, at::Device device)
    : ctx_(ctx),
      grad_codec_(codec::CodecOptions(ctx.config.grad_codec)),
      decode_(codec::DecodeOptions().device(device)) {
  const int64_t replicas = ctx.config.topology == Topology::sflv1 ? ctx.config.clients : 1;
  for (int64_t i = 0; i < replicas; ++i) {
    // Every replica starts from the same weights: a deep copy of the run's top.
    tops_.emplace_back(clone_sequential(net.top), ctx.config, device);
  }
}

TopHalf& ServerWorker::top_for(int64_t client) {
  return tops_.size() == 1 ? tops_[0] : tops_.at(static_cast<size_t>(client - 1));
}

void ServerWorker::set_lr(double lr) {
  for (auto& t : tops_) set_learning_rate(t.optimizer(), lr);
}

ServerWorker::Result ServerWorker::train_step(int64_t client, const StepHeader& h,
                                              const std::vector<uint8_t>& payload, int64_t step_number) {
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
  r.grad_payload = grad_codec_.encode(step.grad);
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

EvalCounts ServerWorker::eval_step(const StepHeader& h, const std::vector<uint8_t>& payload) {
  const at::Tensor act = codec::decode(payload, decode_);
  MESL_CHECK(static_cast<int64_t>(h.labels.size()) == h.batch_size && act.dim() >= 1 && act.size(0) == h.batch_size,
             CommError, "an evaluation step's labels and activations disagree");
  return tops_[0].evaluate(act, labels_tensor(h.labels));
}

void ServerWorker::average_replicas(const std::vector<double>& weights) {
  if (tops_.size() <= 1) return;
  std::vector<std::vector<uint8_t>> states;
  for (auto& t : tops_) states.push_back(save_state(*t.net()));
  load_average(*tops_[0].net(), states, weights);
  const auto averaged = save_state(*tops_[0].net());
  for (size_t i = 1; i < tops_.size(); ++i) load_state(*tops_[i].net(), averaged);
}

size_t payload_header_bytes(const std::vector<uint8_t>& payload) {
  return codec::header_bytes(codec::read_header(payload.data(), payload.size()));
}

void complete_row(metrics::StepRow& row, const StepDone& done, double server_s) {
  row.decode_s += done.decode_s;
  row.compute_s += done.backward_s;
  row.comm_s = std::max(0.0, done.blocked_s - server_s);
}

}  // namespace mesl::train
