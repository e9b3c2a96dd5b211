#pragma once
// Everything a training run is configured with. Options the user leaves unset take the model's defaults from
// the seed paper's code (docs/results.md): resolve_defaults() fills them in, validate() refuses what cannot work.
// The whole resolved configuration is stored as JSON in the metrics file (root attribute `config`).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mesl/codec/options.h"

namespace mesl::train {

enum class LrSchedule { constant, cosine, multistep, step };
enum class ServeOrder { arrival, round_robin };

// The topology names: those of the schedule registry (schedule.h: sequential, sflv1, sflv2, ...) and "local", the
// sequential schedule in one process without MPI. Throws ConfigError listing them for an unknown name.
std::string parse_topology(const std::string& name);
std::vector<std::string> topology_names();  // the registered schedules, then "local"
inline bool is_local(const std::string& topology) { return topology == "local"; }
LrSchedule parse_schedule(const std::string& name);
std::string to_string(LrSchedule s);
ServeOrder parse_serve_order(const std::string& name);
std::string to_string(ServeOrder o);

struct TrainConfig {
  // Roles and layout
  std::string topology = "sequential";
  int64_t clients = 0;               // N; 0: one per client rank (world size - 1), or 1 (local)
  ServeOrder serve_order = ServeOrder::arrival;  // sflv2 only
  double participation = 0;          // fraction of the clients sampled per epoch or round (0: unset, all)
  int64_t clients_per_round = 0;     // or a fixed count (0: unset)
  int64_t client_state_memory = int64_t{1} << 30;  // bytes of idle client states a rank keeps in memory
  std::string state_dir;             // where states beyond that spill (empty: beside --output)
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
  std::optional<LrSchedule> schedule;
  std::vector<int64_t> milestones;   // multistep
  std::optional<double> gamma;       // multistep, step
  std::optional<int64_t> step_size;  // step
  int64_t local_steps = 0;           // 0: a round is one local epoch per client
  int64_t eval_batch_size = 500;
  uint64_t seed = 0;

  // Output
  std::string output = "mesl-train.h5";
  bool overwrite = false;            // replace an existing --output (otherwise refused, unless resumed)
  double link_mbps = 100;
  double link_latency_ms = 0;
  bool quiet = false;                // no per-epoch progress lines

  // Checkpoints
  std::string checkpoint_dir;
  int64_t checkpoint_every = 1;      // rounds between checkpoints (with --checkpoint-dir)
  bool resume = false;
  bool resume_force = false;         // resume even if the configuration differs from the checkpoint's
};

// The number of client ranks R of an MPI world (every rank but the server), 0 for local runs.
int client_ranks(const TrainConfig& config, int world_size);
// The participants of each epoch or round, K (all clients N when neither --participation nor --clients-per-round).
int64_t participants_per_round(const TrainConfig& config);
// The folder spilled client states go to: --state-dir, or "<output>.states" beside the metrics file.
std::string state_dir(const TrainConfig& config);

// Fills every unset option with the model's default (docs/cli.md). `world_size` is the MPI world (1 for local).
TrainConfig resolve_defaults(TrainConfig config, int world_size);
// Throws ConfigError naming the option and the fix.
void validate(const TrainConfig& config, int world_size);
// The resolved configuration as one JSON object (every field, codecs as spec strings).
std::string to_json(const TrainConfig& config);
// The part of the configuration a resumed run must share with its checkpoint (everything that changes results).
std::string identity_json(const TrainConfig& config);

}  // namespace mesl::train
