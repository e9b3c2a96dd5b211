#include "client_host.h"

#include "mesl/error.h"
#include "steps.h"

namespace mesl::train {
namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// The samples of the hosted clients' shards, for keep_in_memory.
std::vector<int64_t> samples_of(const RunContext& ctx, const std::vector<int64_t>& hosted) {
  std::vector<int64_t> out;
  for (const int64_t c : hosted) {
    const auto& shard = ctx.shards.at(static_cast<size_t>(c - 1));
    out.insert(out.end(), shard.begin(), shard.end());
  }
  return out;
}

}  // namespace

ClientHost::ClientHost(const RunContext& ctx, RoundKind kind, const data::Split& train, const data::Split& test,
                       std::vector<int64_t> hosted, at::Device device, StateStore& store)
    : ctx_(ctx),
      kind_(kind),
      train_(train.streaming() ? nullptr : data::keep_in_memory(train, samples_of(ctx, hosted))),
      train_source_(train),
      test_split_(test),
      bottom_(clone_sequential(ctx.net.bottom), ctx.config, device),
      initial_(save_state(*ctx.net.bottom.ptr())),
      store_(store),
      eval_codec_(codec::CodecOptions(ctx.config.codec)) {
  eval_codec_.eval();
}

codec::CodecOptions ClientHost::codec_options(int64_t client) const {
  // Each client draws its own rt stream.
  return codec::CodecOptions(ctx_.config.codec).seed(ctx_.config.codec.seed() + static_cast<uint64_t>(client));
}

void ClientHost::activate(int64_t client) {
  if (client == active_) return;
  swap_out();
  ClientState s = store_.take(client);
  active_ = client;
  data::LoaderOptions o = train_loader_options(ctx_, client);
  o.cache_shard = false;  // batches come from the rank's in-memory copy of its clients' shards
  loader_.emplace(train_ ? *train_ : train_source_, ctx_.info, ctx_.shards.at(static_cast<size_t>(client - 1)), o);
  codec_.emplace(codec_options(client));
  codec_->set_draws(s.codec_draws);
  load_momentum(bottom_.optimizer(), s.optimizer);
  data_epoch_ = s.data_epoch;
  batch_index_ = s.batch_index;
  own_bottom_ = !s.bottom.empty();
  if (own_bottom_) load_state(*bottom_.net(), s.bottom);
}

void ClientHost::swap_out() {
  if (active_ == 0) return;
  ClientState s;
  s.optimizer = save_momentum(bottom_.optimizer());
  s.data_epoch = data_epoch_;
  s.batch_index = batch_index_;
  s.codec_draws = codec_->draws();
  if (own_bottom_) s.bottom = save_state(*bottom_.net());
  store_.put(active_, std::move(s));
  active_ = 0;
  own_bottom_ = false;
  loader_.reset();
  codec_.reset();
}

void ClientHost::deactivate() { swap_out(); }

void ClientHost::start_round(const std::vector<uint8_t>* start) {
  MESL_CHECK(active_ != 0 && kind_ == RoundKind::parallel, TrainError, "internal error: start_round without a client");
  load_state(*bottom_.net(), start != nullptr ? *start : initial_);
  own_bottom_ = true;
}

void ClientHost::finish_round() { own_bottom_ = false; }

int64_t ClientHost::turn_steps() const {
  return ctx_.config.local_steps > 0 ? ctx_.config.local_steps : loader_->num_batches();
}

void ClientHost::begin(int64_t round, int64_t begin, double lr) {
  set_learning_rate(bottom_.optimizer(), lr);
  if (ctx_.config.local_steps == 0) {
    data_epoch_ = round;
    batch_index_ = begin;
  }
}

ClientHost::Forward ClientHost::forward(int64_t epoch, int64_t round) {
  if (batch_index_ >= loader_->num_batches()) {
    ++data_epoch_;
    batch_index_ = 0;
  }
  const data::Batch b = loader_->batch(data_epoch_, batch_index_++);
  auto t0 = Clock::now();
  const at::Tensor act = bottom_.forward(b.images);
  Forward f;
  f.header.forward_s = since(t0);
  t0 = Clock::now();
  try {
    f.payload = codec_->encode(act.detach());
  } catch (const CodecError&) {
    if (!torch::isfinite(act).all().item<bool>())
      fail_nonfinite("the cut-layer activation", active_, epoch, batch_index_ - 1);
    throw;
  }
  f.header.encode_s = since(t0);
  f.header.kind = StepKind::train;
  f.header.client = active_;
  f.header.epoch = epoch;
  f.header.round = round;
  f.header.batch_size = b.labels.size(0);
  f.header.labels = labels_of(b.labels);
  // The compression error as the server will see it (0 without decoding for the lossless identity codec).
  const bool lossless = codec_->options().method() == codec::Method::identity;
  f.header.rel_error = lossless ? 0.0 : codec::relative_error(act.detach(), codec::decode(f.payload));
  return f;
}

StepDone ClientHost::backward(const std::vector<uint8_t>& grad_payload, double blocked_s) {
  StepDone d;
  auto t0 = Clock::now();
  const at::Tensor grad = codec::decode(grad_payload, codec::DecodeOptions().device(bottom_.device()));
  d.decode_s = since(t0);
  t0 = Clock::now();
  bottom_.backward(grad);
  d.backward_s = since(t0);
  d.blocked_s = blocked_s;
  return d;
}

std::vector<uint8_t> ClientHost::bottom_state() { return save_state(*bottom_.net()); }
void ClientHost::load_bottom(const std::vector<uint8_t>& state) { load_state(*bottom_.net(), state); }
size_t ClientHost::bottom_bytes() { return state_bytes(*bottom_.net()); }

StepHeader ClientHost::eval_header(const data::Batch& b, double forward_s, double encode_s) const {
  StepHeader h;
  h.kind = StepKind::eval;
  h.batch_size = b.labels.size(0);
  h.forward_s = forward_s;
  h.encode_s = encode_s;
  h.labels = labels_of(b.labels);
  return h;
}

}  // namespace mesl::train
