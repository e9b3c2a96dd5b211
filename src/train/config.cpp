// Defaults, validation and the JSON form of the training configuration.
#include "mesl/train/config.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "mesl/error.h"
#include "mesl/util/json.h"
#include "schedule.h"

namespace mesl::train {
namespace {

template <typename Enum>
Enum parse_name(const std::string& what, const std::string& name,
                const std::vector<std::pair<std::string, Enum>>& entries) {
  for (const auto& [n, e] : entries)
    if (n == name) return e;
  std::string names;
  for (const auto& [n, e] : entries) names += (names.empty() ? "" : ", ") + n;
  throw ConfigError("unknown " + what + " '" + name + "'; choose one of " + names);
}

const std::vector<std::pair<std::string, LrSchedule>> kLrSchedules = {
    {"constant", LrSchedule::constant}, {"cosine", LrSchedule::cosine}, {"multistep", LrSchedule::multistep},
    {"step", LrSchedule::step}};
const std::vector<std::pair<std::string, ServeOrder>> kServeOrders = {{"arrival", ServeOrder::arrival},
                                                                      {"round-robin", ServeOrder::round_robin}};

template <typename Enum>
std::string name_of(Enum value, const std::vector<std::pair<std::string, Enum>>& entries) {
  for (const auto& [n, e] : entries)
    if (e == value) return n;
  return "?";
}

}  // namespace

std::vector<std::string> topology_names() {
  std::vector<std::string> names = schedule_names();
  names.emplace_back("local");
  return names;
}

std::string parse_topology(const std::string& n) {
  schedule_kind(n);  // throws, naming the registered topologies, when unknown
  return n;
}
LrSchedule parse_schedule(const std::string& n) { return parse_name("schedule", n, kLrSchedules); }
std::string to_string(LrSchedule s) { return name_of(s, kLrSchedules); }
ServeOrder parse_serve_order(const std::string& n) { return parse_name("serve order", n, kServeOrders); }
std::string to_string(ServeOrder o) { return name_of(o, kServeOrders); }

int client_ranks(const TrainConfig& c, int world_size) { return is_local(c.topology) ? 0 : world_size - 1; }

int64_t participants_per_round(const TrainConfig& c) {
  if (c.clients_per_round > 0) return c.clients_per_round;
  if (c.participation > 0)
    return std::max<int64_t>(1, std::llround(c.participation * static_cast<double>(c.clients)));
  return c.clients;
}

std::string state_dir(const TrainConfig& c) { return c.state_dir.empty() ? c.output + ".states" : c.state_dir; }

TrainConfig resolve_defaults(TrainConfig c, int world_size) {
  if (c.clients == 0) c.clients = is_local(c.topology) ? 1 : std::max(1, client_ranks(c, world_size));
  // The seed paper's settings (docs/results.md) per model; the small CNN's are ours (about 90% on Fashion-MNIST
  // in a couple of CPU epochs).
  struct Defaults {
    double lr, weight_decay;
    int64_t epochs, batch;
    LrSchedule schedule;
    std::vector<int64_t> milestones;
    double gamma;
    int64_t step_size;
  };
  Defaults d{0.05, 5e-4, 3, 64, LrSchedule::cosine, {}, 0.1, 30};
  if (c.model == "vgg19") d = {0.1, 5e-4, 200, 256, LrSchedule::cosine, {}, 0.1, 30};
  if (c.model == "resnet18") d = {0.1, 5e-4, 200, 256, LrSchedule::multistep, {60, 120, 160}, 0.2, 30};
  if (c.model == "resnet34") d = {0.1, 1e-4, 90, 256, LrSchedule::step, {}, 0.1, 30};
  if (!c.lr) c.lr = d.lr;
  if (!c.momentum) c.momentum = 0.9;
  if (!c.weight_decay) c.weight_decay = d.weight_decay;
  if (!c.epochs) c.epochs = d.epochs;
  if (!c.batch_size) c.batch_size = d.batch;
  if (!c.schedule) c.schedule = d.schedule;
  if (c.milestones.empty() && *c.schedule == LrSchedule::multistep) c.milestones = d.milestones;
  if (!c.gamma) c.gamma = d.gamma;
  if (!c.step_size) c.step_size = d.step_size;
  return c;
}

void validate(const TrainConfig& c, int world_size) {
  parse_topology(c.topology);
  if (is_local(c.topology)) {
    MESL_CHECK(world_size == 1, ConfigError, "--topology local runs in one process; start it without mpirun (got ",
               world_size, " ranks)");
    MESL_CHECK(c.clients >= 1, ConfigError, "--clients must be >= 1");
  } else {
    MESL_CHECK(world_size >= 2, ConfigError, "--topology ", c.topology,
               " needs a server and at least one client rank: run it with mpirun -np R+1 (R >= 1 client ranks), "
               "or use --topology local");
    const int ranks = client_ranks(c, world_size);
    MESL_CHECK(c.clients >= ranks, ConfigError, "--clients ", c.clients, " is fewer than the ", ranks,
               " client ranks of ", world_size, " ranks (rank 0 serves): run mpirun -np ", c.clients + 1,
               " or give --clients ", ranks, " or more");
  }
  MESL_CHECK(c.participation == 0 || c.clients_per_round == 0, ConfigError,
             "--participation and --clients-per-round both choose how many clients train per round: give one");
  MESL_CHECK(c.participation == 0 || (c.participation > 0 && c.participation <= 1), ConfigError,
             "--participation ", c.participation, " is not in (0, 1]: give the fraction of the clients per round");
  MESL_CHECK(c.clients_per_round >= 0, ConfigError, "--clients-per-round must be >= 1");
  MESL_CHECK(c.clients_per_round <= c.clients, ConfigError, "--clients-per-round ", c.clients_per_round,
             " is more than the ", c.clients, " clients: give at most --clients");
  MESL_CHECK(c.client_state_memory > 0, ConfigError,
             "--client-state-memory must be positive (bytes, or a size such as 256MiB)");
  MESL_CHECK(*c.lr > 0 && std::isfinite(*c.lr), ConfigError, "--lr must be positive");
  // The optimizer applies the rate to float32 weights: a larger one fails inside LibTorch with an unclear message.
  MESL_CHECK(*c.lr <= std::numeric_limits<float>::max(), ConfigError, "--lr ", *c.lr,
             " does not fit in float32 (the weights' type); use a smaller --lr");
  MESL_CHECK(*c.momentum >= 0 && *c.momentum < 1, ConfigError, "--momentum must be in [0, 1)");
  MESL_CHECK(*c.weight_decay >= 0, ConfigError, "--weight-decay must be >= 0");
  MESL_CHECK(*c.epochs >= 1, ConfigError, "--epochs must be >= 1");
  MESL_CHECK(*c.batch_size >= 1, ConfigError, "--batch-size must be >= 1");
  MESL_CHECK(c.eval_batch_size >= 1, ConfigError, "--eval-batch-size must be >= 1");
  MESL_CHECK(c.local_steps >= 0, ConfigError, "--local-steps must be >= 0 (0: one local epoch per round)");
  MESL_CHECK(*c.gamma > 0, ConfigError, "--gamma must be positive");
  MESL_CHECK(*c.step_size >= 1, ConfigError, "--step-size must be >= 1");
  for (size_t i = 1; i < c.milestones.size(); ++i)
    MESL_CHECK(c.milestones[i] > c.milestones[i - 1], ConfigError, "--milestones must increase");
  MESL_CHECK(c.train_limit >= 0 && c.test_limit >= 0, ConfigError, "--train-limit and --test-limit must be >= 0");
  MESL_CHECK(c.synthetic_train >= 1 && c.synthetic_test >= 1, ConfigError,
             "--synthetic-train and --synthetic-test must be >= 1");
  MESL_CHECK(c.timeout_s > 0, ConfigError, "--timeout-s must be positive");
  MESL_CHECK(c.link_mbps > 0 && c.link_latency_ms >= 0, ConfigError,
             "--link-mbps must be positive and --link-latency-ms >= 0");
  MESL_CHECK(c.threads >= 0, ConfigError, "--threads must be >= 0");
  MESL_CHECK(!c.output.empty(), ConfigError, "--output must name an HDF5 file");
  MESL_CHECK(c.checkpoint_every >= 1, ConfigError, "--checkpoint-every must be >= 1");
  MESL_CHECK(!c.resume || !c.checkpoint_dir.empty(), ConfigError, "--resume needs --checkpoint-dir");
  MESL_CHECK(c.augment == "auto" || c.augment == "none" || c.augment == "crop-flip" || c.augment == "resized-crop",
             ConfigError, "--augment must be auto, none, crop-flip or resized-crop");
  MESL_CHECK(!(c.grad_codec.method() == codec::Method::ms && c.grad_codec.sign() == codec::Sign::nonneg),
             ConfigError, "gradients are signed: give --grad-codec ms:...,sign=signed (or sign=auto)");
  codec::validate(c.codec);
  codec::validate(c.grad_codec);
}

namespace {

Json config_fields(const TrainConfig& c, bool identity_only) {
  Json j;
  j.add("topology", c.topology).add("clients", c.clients);
  if (c.topology == "sflv2") j.add("serve_order", to_string(c.serve_order));
  j.add("participation", c.participation).add("clients_per_round", c.clients_per_round);
  j.add("model", c.model).add("cut", c.cut).add("dataset", c.dataset).add("data_dir", c.data_dir);
  j.add("train_limit", c.train_limit).add("test_limit", c.test_limit);
  if (c.dataset == "synthetic") j.add("synthetic_train", c.synthetic_train).add("synthetic_test", c.synthetic_test);
  j.add("partition", c.partition).add("alpha", c.alpha).add("shards_per_client", c.shards_per_client);
  j.add("augment", c.augment);
  j.add("codec", codec::to_spec(c.codec)).add("grad_codec", codec::to_spec(c.grad_codec));
  j.add("lr", *c.lr).add("momentum", *c.momentum).add("weight_decay", *c.weight_decay);
  j.add("epochs", *c.epochs).add("batch_size", *c.batch_size).add("schedule", to_string(*c.schedule));
  j.add("milestones", c.milestones).add("gamma", *c.gamma).add("step_size", *c.step_size);
  j.add("local_steps", c.local_steps).add("eval_batch_size", c.eval_batch_size);
  j.add("seed", static_cast<int64_t>(c.seed));
  j.add("link_mbps", c.link_mbps).add("link_latency_ms", c.link_latency_ms);
  if (identity_only) return j;
  j.add("server_device", c.server_device).add("client_device", c.client_device).add("threads", c.threads);
  j.add("timeout_s", c.timeout_s).add("output", c.output).add("overwrite", c.overwrite);
  j.add("client_state_memory", c.client_state_memory).add("state_dir", c.state_dir);
  j.add("checkpoint_dir", c.checkpoint_dir).add("checkpoint_every", c.checkpoint_every);
  j.add("resume", c.resume);
  return j;
}

}  // namespace

std::string to_json(const TrainConfig& c) { return config_fields(c, false).str(); }
std::string identity_json(const TrainConfig& c) { return config_fields(c, true).str(); }

}  // namespace mesl::train
