// `mesl errors`: the compression error of every codec at equal budgets on real cut-layer activations (the seed
// paper's Fig. 2). A model is trained briefly, its bottom produces activations of test batches, and every setting
// that meets each budget (mesl codec plan) encodes and decodes the same tensors.
#include <cmath>
#include <cstdio>
#include <iostream>

#include "cli_util.h"
#include "commands.h"
#include "mesl/codec/codec.h"
#include "mesl/codec/plan.h"
#include "mesl/error.h"
#include "mesl/h5/h5.h"
#include "mesl/train/activations.h"
#include "mesl/util/json.h"

namespace mesl::cli {
namespace {

std::vector<double> parse_budgets(const std::string& text) {
  std::vector<double> out;
  size_t at = 0;
  while (at <= text.size()) {
    const size_t comma = std::min(text.find(',', at), text.size());
    const std::string item = text.substr(at, comma - at);
    size_t used = 0;
    double v = 0;
    try {
      v = std::stod(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    MESL_CHECK(used == item.size() && !item.empty() && v > 0, ConfigError, "--bpe '", text,
               "' must be comma-separated positive numbers, e.g. 2.32,3,4,6");
    out.push_back(v);
    at = comma + 1;
  }
  return out;
}

}  // namespace

int errors_command(int argc, char** argv) {
  cxxopts::Options o("mesl errors",
                     "Relative error of every codec at equal bits-per-element budgets on real cut-layer activations");
  o.add_options()
      ("model", "Model", cxxopts::value<std::string>()->default_value("cnn"))
      ("cut", "Cut after layer N, or shallow | medium | deep", cxxopts::value<std::string>()->default_value("shallow"))
      ("dataset", "Dataset", cxxopts::value<std::string>()->default_value("fashion-mnist"))
      ("data-dir", "Dataset directory", cxxopts::value<std::string>()->default_value(""))
      ("synthetic-train", "synthetic: training samples", cxxopts::value<int64_t>()->default_value("2048"))
      ("synthetic-test", "synthetic: test samples", cxxopts::value<int64_t>()->default_value("512"))
      ("bpe", "Budgets in bits per element", cxxopts::value<std::string>()->default_value("2.32,3,4,6"))
      ("bits", "ms mask width", cxxopts::value<int>()->default_value("2"))
      ("scope", "batch | sample", cxxopts::value<std::string>()->default_value("batch"))
      ("train-steps", "Training steps before measuring (0: initial weights)",
       cxxopts::value<int64_t>()->default_value("200"))
      ("batches", "Activation tensors to measure (test batches)", cxxopts::value<int64_t>()->default_value("4"))
      ("batch-size", "Samples per activation tensor", cxxopts::value<int64_t>()->default_value("64"))
      ("lr", "Learning rate of the brief training", cxxopts::value<double>())
      ("seed", "Seed", cxxopts::value<uint64_t>()->default_value("0"))
      ("threads", "Intra-op threads (0: all cores)", cxxopts::value<int>()->default_value("0"))
      ("output", "Output HDF5 file", cxxopts::value<std::string>()->default_value("mesl-errors.h5"));
  auto parsed = parse(o, argc, argv);
  if (!parsed) return 0;
  const auto& a = *parsed;
  train::TrainConfig config;
  config.model = a["model"].as<std::string>();
  config.cut = a["cut"].as<std::string>();
  config.dataset = a["dataset"].as<std::string>();
  config.data_dir = a["data-dir"].as<std::string>();
  config.synthetic_train = a["synthetic-train"].as<int64_t>();
  config.synthetic_test = a["synthetic-test"].as<int64_t>();
  config.seed = a["seed"].as<uint64_t>();
  config.batch_size = a["batch-size"].as<int64_t>();
  config.eval_batch_size = a["batch-size"].as<int64_t>();
  if (a.count("lr")) config.lr = a["lr"].as<double>();
  config.output = a["output"].as<std::string>();
  const auto budgets = parse_budgets(a["bpe"].as<std::string>());
  const int ms_bits = a["bits"].as<int>();
  const int64_t batches = a["batches"].as<int64_t>();
  const int64_t steps = a["train-steps"].as<int64_t>();
  MESL_CHECK(batches >= 1, ConfigError, "--batches must be >= 1");
  MESL_CHECK(steps >= 0, ConfigError, "--train-steps must be >= 0");
  codec::CodecOptions base;
  base.scope(codec::parse_scope(a["scope"].as<std::string>()));
  if (a["threads"].as<int>() > 0) at::set_num_threads(a["threads"].as<int>());

  // Create the output first, so that an unwritable path costs nothing.
  h5::SilenceErrors quiet;
  const h5::File out(config.output, h5::Mode::create_truncate);
  const train::Activations acts = train::sample_activations(config, steps, batches);
  const std::vector<int64_t> shape = acts.tensors.front().sizes().vec();

  std::vector<std::string> methods, specs;
  std::vector<double> budget_col, bpe_col, err_col, err_std_col, bytes_col;
  std::vector<int64_t> k_col;
  std::printf("%-8s %-62s %10s %12s %12s\n", "budget", "setting", "bpe", "rel. error", "std");
  for (double budget : budgets) {
    for (const auto& entry : codec::plan_budget(budget, shape, ms_bits, base)) {
      codec::Codec c(entry.options);
      c.train();  // rt draws as it does in training
      double sum = 0, sum_sq = 0, bytes = 0;
      for (const auto& x : acts.tensors) {
        const auto payload = c.encode(x);
        const at::Tensor x_hat = codec::decode(payload);
        const double e = codec::relative_error(x, x_hat);
        sum += e;
        sum_sq += e * e;
        bytes += static_cast<double>(payload.size());
      }
      const auto n = static_cast<double>(acts.tensors.size());
      const double mean = sum / n, var = std::max(0.0, sum_sq / n - mean * mean);
      methods.push_back(codec::to_string(entry.options.method()));
      specs.push_back(codec::to_spec(entry.options));
      budget_col.push_back(budget);
      bpe_col.push_back(entry.bpe);
      k_col.push_back(entry.k);
      err_col.push_back(mean);
      err_std_col.push_back(std::sqrt(var));
      bytes_col.push_back(bytes / n);
      std::printf("%-8.3g %-62s %10.4f %12.6f %12.6f\n", budget, specs.back().c_str(), entry.bpe, mean,
                  std::sqrt(var));
    }
  }
  const h5::Group g = out.create_group("errors");
  g.write_strings("method", methods);
  g.write_strings("spec", specs);
  g.write_tensor("budget", at::tensor(budget_col, at::kDouble));
  g.write_tensor("bpe", at::tensor(bpe_col, at::kDouble));
  g.write_tensor("k", at::tensor(k_col, at::kLong));
  g.write_tensor("rel_error", at::tensor(err_col, at::kDouble));
  g.write_tensor("rel_error_std", at::tensor(err_std_col, at::kDouble));
  g.write_tensor("payload_bytes", at::tensor(bytes_col, at::kDouble));
  out.set_attribute("model", config.model);
  out.set_attribute("dataset", config.dataset);
  out.set_attribute("cut", acts.cut);
  out.set_attribute("cut_shape", acts.cut_shape);
  out.set_attribute("samples", static_cast<int64_t>(acts.tensors.size()));
  out.set_attribute("train_steps", steps);
  out.set_attribute("train_loss", acts.train_loss);
  Json cfg;
  cfg.add("model", config.model).add("cut", config.cut).add("dataset", config.dataset).add("bpe", budgets.size() ? a["bpe"].as<std::string>() : "");
  cfg.add("bits", ms_bits).add("scope", a["scope"].as<std::string>()).add("train_steps", steps).add("batches", batches);
  cfg.add("batch_size", *config.batch_size).add("seed", static_cast<int64_t>(config.seed));
  out.set_attribute("config", cfg.str());
  out.flush();
  std::printf("results in %s\n", config.output.c_str());
  return 0;
}

}  // namespace mesl::cli
