#include "train_options.h"

#include "cli_util.h"
#include "mesl/data/dataset.h"
#include "mesl/error.h"
#include "mesl/models/model.h"

namespace mesl::cli {
namespace {

std::string joined(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : "|") + n;
  return s;
}

std::vector<std::string> model_names() {
  std::vector<std::string> out;
  for (const auto& m : models::model_infos()) out.push_back(m.name);
  return out;
}

template <typename T>
std::optional<T> optional_value(const cxxopts::ParseResult& args, const std::string& name) {
  if (!args.count(name)) return std::nullopt;
  return args[name].as<T>();
}

}  // namespace

std::optional<train::TrainConfig> parse_train_options(int argc, char** argv) {
  cxxopts::Options o("mesl train",
                     "Split learning over MPI: rank 0 is the server, ranks 1..R host the clients.\n"
                     "  mpirun -np 5 mesl train --codec ms --keep 0.01 --bits 2      (4 clients)\n"
                     "  mpirun -np 3 mesl train --clients 1000 --participation 0.01  (1,000 clients on 2 ranks)\n"
                     "  mesl train --topology local --clients 4                        (one process, no MPI)\n"
                     "Unset optimisation options take the model's defaults (docs/cli.md).");
  o.add_options("Run")
      ("topology", joined(train::topology_names()),
       cxxopts::value<std::string>()->default_value("sequential"))
      ("clients", "Number of clients N (default: one per client rank; under MPI at least ranks - 1)",
       cxxopts::value<int64_t>())
      ("participation", "Fraction F of the clients that train per epoch or round (K = max(1, round(F N)))",
       cxxopts::value<double>())
      ("clients-per-round", "Clients K that train per epoch or round, drawn from the seed", cxxopts::value<int64_t>())
      ("serve-order", "sflv2: serve clients in arrival | round-robin order",
       cxxopts::value<std::string>()->default_value("arrival"))
      ("client-state-memory", "Idle client states a rank keeps in memory, e.g. 256MiB; beyond it they spill to files",
       cxxopts::value<std::string>()->default_value("1GiB"))
      ("state-dir", "Where client states spill (default: beside --output; node-local scratch on a cluster)",
       cxxopts::value<std::string>()->default_value(""))
      ("server-device", "cpu | cuda | cuda:N", cxxopts::value<std::string>()->default_value("cpu"))
      ("client-device", "cpu | cuda | cuda:N", cxxopts::value<std::string>()->default_value("cpu"))
      ("threads", "Intra-op threads per rank (0: the node's cores shared among its ranks)",
       cxxopts::value<int>()->default_value("0"))
      ("timeout-s", "End the job when a peer sends nothing for this long", cxxopts::value<double>()->default_value("300"))
      ("seed", "Seed of weights, shards, batches and augmentation", cxxopts::value<uint64_t>()->default_value("0"));
  o.add_options("Model and data")
      ("model", "Model: " + joined(model_names()), cxxopts::value<std::string>()->default_value("cnn"))
      ("cut", "Cut after layer N, or shallow | medium | deep", cxxopts::value<std::string>()->default_value("shallow"))
      ("dataset", "Dataset: " + joined(data::dataset_names()), cxxopts::value<std::string>()->default_value("fashion-mnist"))
      ("data-dir", "Dataset directory (default for fashion-mnist: /usr/share/datasets/fashion-mnist)",
       cxxopts::value<std::string>()->default_value(""))
      ("train-limit", "Use only the first N training samples (0: all)", cxxopts::value<int64_t>()->default_value("0"))
      ("test-limit", "Evaluate on the first N test samples (0: all)", cxxopts::value<int64_t>()->default_value("0"))
      ("synthetic-train", "synthetic: training samples", cxxopts::value<int64_t>()->default_value("2048"))
      ("synthetic-test", "synthetic: test samples", cxxopts::value<int64_t>()->default_value("512"))
      ("partition", "iid | dirichlet | shards", cxxopts::value<std::string>()->default_value("iid"))
      ("alpha", "dirichlet: concentration (small = skewed)", cxxopts::value<double>()->default_value("0.5"))
      ("shards-per-client", "shards: label-sorted shards per client", cxxopts::value<int64_t>()->default_value("2"))
      ("augment", "auto | none | crop-flip | resized-crop", cxxopts::value<std::string>()->default_value("auto"));
  add_codec_options(o, CodecOptionNames{"codec", "rt-alpha", "codec-seed", "codec-threads"}, "identity",
                    "Forward codec");
  o.add_options("Gradient codec")
      ("grad-codec", "Backward codec spec, e.g. identity, fp16, ms:keep=0.1,bits=3,sign=signed",
       cxxopts::value<std::string>()->default_value("identity"));
  o.add_options("Optimisation (defaults per model: docs/cli.md)")
      ("lr", "Learning rate", cxxopts::value<double>())
      ("momentum", "SGD momentum", cxxopts::value<double>())
      ("weight-decay", "SGD weight decay", cxxopts::value<double>())
      ("epochs", "Epochs (rounds for sflv1/sflv2)", cxxopts::value<int64_t>())
      ("batch-size", "Training batch size per client", cxxopts::value<int64_t>())
      ("schedule", "constant | cosine | multistep | step", cxxopts::value<std::string>())
      ("milestones", "multistep: epochs, e.g. 60,120,160", cxxopts::value<std::string>())
      ("gamma", "multistep/step: factor", cxxopts::value<double>())
      ("step-size", "step: epochs between decays", cxxopts::value<int64_t>())
      ("local-steps", "Batches per client per round (0: a local epoch)", cxxopts::value<int64_t>()->default_value("0"))
      ("eval-batch-size", "Evaluation batch size", cxxopts::value<int64_t>()->default_value("500"));
  o.add_options("Output")
      ("output", "Metrics file (HDF5); an existing one is kept unless --overwrite or --resume",
       cxxopts::value<std::string>()->default_value("mesl-train.h5"))
      ("overwrite", "Replace an existing --output file")
      ("link-mbps", "Simulated link bandwidth", cxxopts::value<double>()->default_value("100"))
      ("link-latency-ms", "Simulated per-message latency", cxxopts::value<double>()->default_value("0"))
      ("quiet", "No per-epoch progress lines");
  o.add_options("Checkpoints")
      ("checkpoint-dir", "Directory for checkpoints", cxxopts::value<std::string>()->default_value(""))
      ("checkpoint-every", "Epochs (rounds) between checkpoints", cxxopts::value<int64_t>()->default_value("1"))
      ("resume", "Continue from the last complete checkpoint in --checkpoint-dir")
      ("resume-force", "Resume even if the configuration differs from the checkpoint's");

  auto parsed = parse(o, argc, argv,
                      {"Run", "Model and data", "Forward codec", "Gradient codec",
                       "Optimisation (defaults per model: docs/cli.md)", "Output", "Checkpoints"});
  if (!parsed) return std::nullopt;
  const auto& a = *parsed;
  train::TrainConfig c;
  c.topology = train::parse_topology(a["topology"].as<std::string>());
  if (a.count("clients")) c.clients = a["clients"].as<int64_t>();
  MESL_CHECK(!a.count("clients") || c.clients >= 1, ConfigError, "--clients must be >= 1");
  if (a.count("participation")) {
    c.participation = a["participation"].as<double>();
    MESL_CHECK(c.participation > 0 && c.participation <= 1, ConfigError, "--participation ", c.participation,
               " is not in (0, 1]: give the fraction of the clients per round");
  }
  if (a.count("clients-per-round")) {
    c.clients_per_round = a["clients-per-round"].as<int64_t>();
    MESL_CHECK(c.clients_per_round >= 1, ConfigError, "--clients-per-round must be >= 1");
  }
  c.serve_order = train::parse_serve_order(a["serve-order"].as<std::string>());
  c.client_state_memory = parse_size(a["client-state-memory"].as<std::string>(), "--client-state-memory");
  c.state_dir = a["state-dir"].as<std::string>();
  c.server_device = a["server-device"].as<std::string>();
  c.client_device = a["client-device"].as<std::string>();
  c.threads = a["threads"].as<int>();
  c.timeout_s = a["timeout-s"].as<double>();
  c.seed = a["seed"].as<uint64_t>();
  c.model = a["model"].as<std::string>();
  models::model_info(c.model);  // unknown model: a clear error now
  c.cut = a["cut"].as<std::string>();
  c.dataset = a["dataset"].as<std::string>();
  c.data_dir = a["data-dir"].as<std::string>();
  c.train_limit = a["train-limit"].as<int64_t>();
  c.test_limit = a["test-limit"].as<int64_t>();
  c.synthetic_train = a["synthetic-train"].as<int64_t>();
  c.synthetic_test = a["synthetic-test"].as<int64_t>();
  c.partition = a["partition"].as<std::string>();
  c.alpha = a["alpha"].as<double>();
  c.shards_per_client = a["shards-per-client"].as<int64_t>();
  c.augment = a["augment"].as<std::string>();
  c.codec = codec_options(a, CodecOptionNames{"codec", "rt-alpha", "codec-seed", "codec-threads"});
  if (!a.count("codec-seed")) c.codec.seed(c.seed);
  c.grad_codec = codec::parse_spec(a["grad-codec"].as<std::string>());
  c.lr = optional_value<double>(a, "lr");
  c.momentum = optional_value<double>(a, "momentum");
  c.weight_decay = optional_value<double>(a, "weight-decay");
  c.epochs = optional_value<int64_t>(a, "epochs");
  c.batch_size = optional_value<int64_t>(a, "batch-size");
  if (a.count("schedule")) c.schedule = train::parse_schedule(a["schedule"].as<std::string>());
  if (a.count("milestones")) c.milestones = parse_shape(a["milestones"].as<std::string>());
  c.gamma = optional_value<double>(a, "gamma");
  c.step_size = optional_value<int64_t>(a, "step-size");
  c.local_steps = a["local-steps"].as<int64_t>();
  c.eval_batch_size = a["eval-batch-size"].as<int64_t>();
  c.output = a["output"].as<std::string>();
  c.overwrite = a.count("overwrite") > 0;
  c.link_mbps = a["link-mbps"].as<double>();
  c.link_latency_ms = a["link-latency-ms"].as<double>();
  c.quiet = a.count("quiet") > 0;
  c.checkpoint_dir = a["checkpoint-dir"].as<std::string>();
  c.checkpoint_every = a["checkpoint-every"].as<int64_t>();
  c.resume = a.count("resume") > 0;
  c.resume_force = a.count("resume-force") > 0;
  if (c.resume_force) c.resume = true;
  return c;
}

}  // namespace mesl::cli
