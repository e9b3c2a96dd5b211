#include "recorder.h"

#include <cstdio>
#include <cstdlib>
#include <utility>

#include "mesl/codec/codec.h"
#include "mesl/error.h"
#include "mesl/version.h"
#include "resources.h"

namespace mesl::train {
namespace {

metrics::RunAttributes attributes(const RunContext& ctx, const std::vector<std::string>& hosts) {
  const TrainConfig& c = ctx.config;
  metrics::RunAttributes a;
  a.config_json = to_json(c);
  a.cut_shape = ctx.cut_shape;
  a.world_size = ctx.world_size;
  a.hosts = hosts;
  a.strings["method"] = codec::to_string(c.codec.method());
  a.strings["codec"] = codec::to_spec(c.codec);
  a.strings["grad_codec"] = codec::to_spec(c.grad_codec);
  a.strings["model"] = c.model;
  a.strings["dataset"] = c.dataset;
  a.strings["topology"] = c.topology;
  a.strings["partition"] = c.partition;
  // How OpenMP's idle threads waited (openmp_waits.h): part of what a timing measured.
  for (const auto& [attribute, variable] : {std::pair{"omp_wait_policy", "OMP_WAIT_POLICY"},
                                            std::pair{"gomp_spincount", "GOMP_SPINCOUNT"}}) {
    const char* value = std::getenv(variable);
    a.strings[attribute] = value != nullptr ? value : "";
  }
  const auto& presets = models::model_info(c.model).presets;
  std::string preset;
  for (const auto& [name, layer] : presets)
    if (layer == ctx.cut) preset = name;
  a.strings["cut_preset"] = preset;
  a.ints["cut"] = ctx.cut;
  a.ints["clients"] = c.clients;
  a.ints["client_ranks"] = client_ranks(c, ctx.world_size);
  a.ints["participants_per_round"] = participants_per_round(c);
  a.ints["bottom_bytes"] = static_cast<int64_t>(state_bytes(*ctx.net.bottom.ptr()));
  a.ints["top_bytes"] = static_cast<int64_t>(state_bytes(*ctx.net.top.ptr()));
  a.ints["seed"] = static_cast<int64_t>(c.seed);
  a.ints["epochs"] = *c.epochs;
  a.ints["batch_size"] = *c.batch_size;
  std::vector<int64_t> batch_shape{*c.batch_size};
  batch_shape.insert(batch_shape.end(), ctx.cut_shape.begin(), ctx.cut_shape.end());
  a.doubles["bpe"] = codec::nominal_bpe(c.codec, batch_shape);
  a.doubles["lr"] = *c.lr;
  return a;
}

std::string clock_text(double s) {
  char buf[32];
  const auto total = static_cast<long>(s + 0.5);
  if (total >= 3600)
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", total / 3600, (total / 60) % 60);
  else if (total >= 60)
    std::snprintf(buf, sizeof buf, "%ldm%02lds", total / 60, total % 60);
  else
    std::snprintf(buf, sizeof buf, "%.1fs", s);
  return buf;
}

std::string megabytes(int64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f MB", static_cast<double>(bytes) / 1e6);
  return buf;
}

}  // namespace

Recorder::Recorder(const RunContext& ctx, const std::vector<std::string>& hosts, std::optional<Rows> kept)
    : ctx_(ctx),
      writer_(!kept ? metrics::RunWriter::create(ctx.config.output, attributes(ctx, hosts))
                    : metrics::RunWriter::resume(ctx.config.output, kept->steps, kept->epochs, kept->participants)),
      traffic_(comm::LinkModel{ctx.config.link_mbps, ctx.config.link_latency_ms}),
      start_(std::chrono::steady_clock::now()),
      clients_(static_cast<size_t>(ctx.config.clients)) {
  for (size_t i = 0; i < clients_.size(); ++i) {
    clients_[i].client = static_cast<int64_t>(i) + 1;
    clients_[i].shard_size = static_cast<int64_t>(ctx.shards[i].size());
  }
}

void Recorder::count(comm::Direction d, uint64_t bytes, uint64_t header_bytes, int64_t client) {
  traffic_.count(d, bytes, header_bytes);
  if (client <= 0) return;
  metrics::ClientRow& c = clients_.at(static_cast<size_t>(client - 1));
  const auto b = static_cast<int64_t>(bytes);
  switch (d) {
    case comm::Direction::fwd: c.fwd_bytes += b; break;
    case comm::Direction::bwd: c.bwd_bytes += b; break;
    case comm::Direction::model: c.model_bytes += b; break;
    case comm::Direction::control: c.control_bytes += b; break;
    default: break;  // evaluation traffic is nobody's training traffic
  }
}

void Recorder::add_round(int64_t client) { ++clients_.at(static_cast<size_t>(client - 1)).rounds; }

void Recorder::set_participants(int64_t round, const std::vector<int64_t>& clients) {
  writer_.append_participants(round, clients);
  participants_ = static_cast<int64_t>(clients.size());
}

double Recorder::elapsed() const {
  return elapsed_offset_ + std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void Recorder::start_training() {
  train_start_ = last_step_ = std::chrono::steady_clock::now();
  training_ = true;
}

void Recorder::add_step(const metrics::StepRow& row) {
  if (!first_step_reported_) {
    // Printed even with --quiet: the start-up cost of a run, and the mark by which the job scripts tell a launch
    // that failed before training from one that failed during it (jobs/slurm/mesl-job.sh).
    first_step_reported_ = true;
    first_step_s_ = seconds_since_process_start();
    std::printf("mesl: first training step done %.2f s after start-up\n", first_step_s_);
    std::fflush(stdout);
  }
  writer_.append_step(row);
  ++clients_.at(static_cast<size_t>(row.client - 1)).steps;
  last_step_ = std::chrono::steady_clock::now();
  loss_sum_ += row.loss * static_cast<double>(row.batch_size);
  loss_samples_ += row.batch_size;
}

void Recorder::end_epoch(int64_t epoch, const EvalCounts& test, double lr) {
  metrics::EpochRow e;
  e.epoch = epoch;
  e.train_loss = loss_samples_ > 0 ? loss_sum_ / static_cast<double>(loss_samples_) : 0.0;
  e.test_acc1 = test.samples > 0 ? static_cast<double>(test.correct1) / static_cast<double>(test.samples) : 0.0;
  e.test_acc5 = test.samples > 0 ? static_cast<double>(test.correct5) / static_cast<double>(test.samples) : 0.0;
  e.fwd_bytes = traffic_.bytes(comm::Direction::fwd);
  e.bwd_bytes = traffic_.bytes(comm::Direction::bwd);
  e.model_bytes = traffic_.bytes(comm::Direction::model);
  e.control_bytes = traffic_.bytes(comm::Direction::control);
  e.wall_s = elapsed();
  e.link_s = traffic_.link_s();
  e.lr = lr;
  e.samples = loss_samples_;
  e.train_s = train_s_ + (training_ ? std::chrono::duration<double>(last_step_ - train_start_).count() : 0.0);
  e.participants = participants_;
  train_s_ = 0;
  training_ = false;
  std::vector<metrics::MessageTotal> totals;
  for (int d = 0; d < comm::kDirections; ++d) {
    const auto dir = static_cast<comm::Direction>(d);
    totals.push_back(metrics::MessageTotal{comm::to_string(dir), traffic_[dir].messages, traffic_[dir].bytes,
                                           traffic_[dir].header_bytes});
  }
  writer_.set_message_totals(totals);
  write_clients();
  writer_.append_epoch(e);
  last_acc1_ = e.test_acc1;
  loss_sum_ = 0;
  loss_samples_ = 0;
  if (ctx_.config.quiet) return;
  const int64_t epochs = *ctx_.config.epochs;
  const double per_epoch = e.wall_s / static_cast<double>(epoch + 1);
  std::printf("epoch %lld/%lld  loss %.4f  test %.2f%% (top-5 %.2f%%)  sent %s fwd, %s bwd, %s model  elapsed %s  ETA %s\n",
              static_cast<long long>(epoch + 1), static_cast<long long>(epochs), e.train_loss, 100 * e.test_acc1,
              100 * e.test_acc5, megabytes(e.fwd_bytes).c_str(), megabytes(e.bwd_bytes).c_str(),
              megabytes(e.model_bytes).c_str(), clock_text(e.wall_s).c_str(),
              clock_text(per_epoch * static_cast<double>(epochs - epoch - 1)).c_str());
  std::fflush(stdout);
}

void Recorder::write_clients() {
  for (size_t i = 0; i < clients_.size() && i < ranks_.size(); ++i) clients_[i].rank = ranks_[i];
  writer_.set_clients(clients_);
}

void Recorder::save(torch::serialize::OutputArchive& a) const {
  put(a, "steps_written", writer_.steps());
  put(a, "epochs_written", writer_.epochs());
  put(a, "participant_rows", writer_.participant_rows());
  put(a, "epoch_participants", participants_);
  std::vector<int64_t> totals;
  for (const metrics::ClientRow& c : clients_)
    totals.insert(totals.end(), {c.steps, c.fwd_bytes, c.bwd_bytes, c.model_bytes, c.control_bytes, c.rounds});
  put(a, "client_totals", totals);
  put(a, "traffic", traffic_.serialize());
  put(a, "elapsed_s", elapsed());
  put(a, "epoch_loss_sum", loss_sum_);
  put(a, "epoch_loss_samples", loss_samples_);
  put(a, "epoch_train_s",
      train_s_ + (training_ ? std::chrono::duration<double>(last_step_ - train_start_).count() : 0.0));
  put(a, "last_acc1", last_acc1_);
}

void Recorder::restore(torch::serialize::InputArchive& a) {
  const auto t = get_bytes(a, "traffic");
  traffic_ = comm::Traffic::deserialize(t.data(), t.size(), traffic_.link());
  elapsed_offset_ = get_double(a, "elapsed_s");
  start_ = std::chrono::steady_clock::now();
  loss_sum_ = get_double(a, "epoch_loss_sum");
  loss_samples_ = get_int(a, "epoch_loss_samples");
  train_s_ = get_double(a, "epoch_train_s");
  last_acc1_ = get_double(a, "last_acc1");
  participants_ = get_int(a, "epoch_participants");
  const std::vector<int64_t> totals = get_ints(a, "client_totals");
  MESL_CHECK(totals.size() == clients_.size() * 6, CheckpointError, "the checkpoint counts ", totals.size() / 6,
             " clients and this run has ", clients_.size());
  for (size_t i = 0; i < clients_.size(); ++i) {
    const int64_t* row = totals.data() + 6 * i;
    metrics::ClientRow& c = clients_[i];
    c.steps = row[0];
    c.fwd_bytes = row[1];
    c.bwd_bytes = row[2];
    c.model_bytes = row[3];
    c.control_bytes = row[4];
    c.rounds = row[5];
  }
}

Recorder::Rows Recorder::rows_in(torch::serialize::InputArchive& a) {
  return {get_int(a, "steps_written"), get_int(a, "epochs_written"), get_int(a, "participant_rows")};
}

void Recorder::set_rank_rows(const std::vector<metrics::RankRow>& rows) { writer_.set_ranks(rows); }

void Recorder::finish() {
  write_clients();
  writer_.flush();
  std::printf("done: %lld epochs in %s, test accuracy %.2f%%, %s forward (%s), %s backward; results in %s\n",
              static_cast<long long>(writer_.epochs()), clock_text(elapsed()).c_str(), 100 * last_acc1_,
              megabytes(traffic_.bytes(comm::Direction::fwd)).c_str(), codec::to_spec(ctx_.config.codec).c_str(),
              megabytes(traffic_.bytes(comm::Direction::bwd)).c_str(), writer_.path().c_str());
  std::fflush(stdout);
}

}  // namespace mesl::train
