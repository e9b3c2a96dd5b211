#pragma once
// Everything a training run is configured with. Options the user leaves unset take the model's defaults from
// the seed paper's code (experiments.md): resolve_defaults() fills them in, validate() refuses what cannot work.
// The whole resolved configuration is stored as JSON in the metrics file (root attribute `config`).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mesl/codec/options.h"

namespace mesl::train {

enum class Topology { sequential, sflv1, sflv2, local };
enum class Schedule { constant, cosine, multistep, step };
enum class ServeOrder { arrival, round_robin };

Topology parse_topology(const std::string& name);
std::string to_string(Topology t);
Schedule parse_schedule(const std::string& name);
std::string to_string(Schedule s);
ServeOrder parse_serve_order(const std::string& name);
std::string to_string(ServeOrder o);

struct TrainConfig {
  // Roles and layout
  Topology topology = Topology::sequential;
  int64_t clients = 0;               // 0: world size - 1 (MPI), or 1 (local)
  ServeOrder serve_order = ServeOrder::arrival;  // sflv2 only
  std::string server_device = "cpu";
  std::string client_device = "cpu";
  int threads = 0;                   // intra-op threads per rank; 0: the node's cores shared among its ranks
  double timeout_s = 300;            // a peer that answers nothing for this long ends the job

  // Model and data
  std::string model = "cnn";
  std::string cut = "shallow";       // a preset or a layer number
  std::string dataset = "fashion-mnist";
  std::string data_dir;              // empty: the dataset's default
  int64_t train_limit = 0;           // use only the first N training samples (0: all)
  int64_t test_limit = 0;            // evaluate on the first N test samples (0: all)
  int64_t synthetic_train = 2048, synthetic_test = 512;
  std::string partition = "iid";
  double alpha = 0.5;                // dirichlet concentration
  int64_t shards_per_client = 2;
  std::string augment = "auto";      // auto | none | crop-flip | resized-crop

  // Codecs
  codec::CodecOptions codec{codec::Method::identity};
  codec::CodecOptions grad_codec{codec::Method::identity};

  // Optimisation (unset: the model's defaults)
  std::optional<double> lr, momentum, weight_decay;
  std::optional<int64_t> epochs, batch_size;
  std::optional<Schedule> schedule;
  std::vector<int64_t> milestones;   // multistep
  std::optional<double> gamma;       // multistep, step
  std::optional<int64_t> step_size;  // step
  int64_t local_steps = 0;           // 0: a round is one local epoch per client
  int64_t eval_batch_size = 500;
  uint64_t seed = 0;

  // Output
  std::string output = "mesl-train.h5";
  double link_mbps = 100;
  double link_latency_ms = 0;
  bool quiet = false;                // no per-epoch progress lines

  // Checkpoints
  std::string checkpoint_dir;
  int64_t checkpoint_every = 1;      // rounds between checkpoints (with --checkpoint-dir)
  bool resume = false;
  bool resume_force = false;         // resume even if the configuration differs from the checkpoint's
};

// Fills every unset option with the model's default (experiments.md). `world_size` is the MPI world (1 for local).
TrainConfig resolve_defaults(TrainConfig config, int world_size);
// Throws ConfigError naming the option and the fix.
void validate(const TrainConfig& config, int world_size);
// The resolved configuration as one JSON object (every field, codecs as spec strings).
std::string to_json(const TrainConfig& config);
// The part of the configuration a resumed run must share with its checkpoint (everything that changes results).
std::string identity_json(const TrainConfig& config);

}  // namespace mesl::train
