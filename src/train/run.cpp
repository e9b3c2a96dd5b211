// run_training: start-up shared by every topology (context, threads, the start line), then the role.
#include "mesl/train/run.h"

#include <algorithm>
#include <cstdio>
#include <thread>

#include <unistd.h>

#include "context.h"
#include "recorder.h"
#include "mesl/codec/codec.h"

namespace mesl::train {
namespace {

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s;
  for (auto d : shape) s += (s.empty() ? "" : "x") + std::to_string(d);
  return s;
}

void print_start(const RunContext& ctx) {
  const TrainConfig& c = ctx.config;
  std::string preset;
  for (const auto& [name, layer] : models::model_info(c.model).presets)
    if (layer == ctx.cut) preset = " (" + name + ")";
  std::vector<int64_t> batch{*c.batch_size};
  batch.insert(batch.end(), ctx.cut_shape.begin(), ctx.cut_shape.end());
  std::printf("mesl: %s on %s, cut after layer %lld%s: activation %s per sample\n", c.model.c_str(),
              c.dataset.c_str(), static_cast<long long>(ctx.cut), preset.c_str(), shape_text(ctx.cut_shape).c_str());
  std::printf("mesl: %s with %lld client(s), %lld epochs, batch %lld, codec %s (%.3f bits/element), results to %s\n",
              to_string(c.topology).c_str(), static_cast<long long>(c.clients), static_cast<long long>(*c.epochs),
              static_cast<long long>(*c.batch_size), codec::to_spec(c.codec).c_str(),
              codec::nominal_bpe(c.codec, batch), c.output.c_str());
  std::fflush(stdout);
}

std::vector<std::string> host_names(comm::Transport* transport) {
  if (transport) return transport->host_names();
  char host[256] = "localhost";
  gethostname(host, sizeof host - 1);
  return {host};
}

}  // namespace

int run_training(const TrainConfig& config, comm::Transport* transport) {
  const int world = transport ? transport->size() : 1;
  const int rank = transport ? transport->rank() : 0;
  const int local_ranks = transport ? std::max(1, transport->local_size()) : 1;
  // Intra-op threads: the node's cores shared among the ranks on it, unless --threads says otherwise.
  const int cores = std::max(1u, std::thread::hardware_concurrency());
  at::set_num_threads(config.threads > 0 ? config.threads : std::max(1, cores / local_ranks));

  RunContext ctx;
  std::unique_ptr<Recorder> recorder;
  int code = 0;
  std::exception_ptr error;
  try {
    ctx = make_context(config, world);
    // The metrics file is created during start-up, so that an unwritable --output stops every rank before any
    // training.
    if (rank == 0) recorder = std::make_unique<Recorder>(ctx, host_names(transport));
  } catch (const ConfigError&) {
    code = 2;
    error = std::current_exception();
  } catch (const Error&) {
    code = 1;
    error = std::current_exception();
  }
  if (transport && world > 1) {
    const int64_t agreed = transport->all_max(code);
    const int64_t server_failed = transport->all_max(rank == 0 ? code : 0);
    if (agreed != 0) {
      if (error && (rank == 0 || server_failed == 0)) {
        try {
          std::rethrow_exception(error);
        } catch (const Error& e) {
          throw StartupFailed(rank == 0 ? e.what() : "rank " + std::to_string(rank) + ": " + e.what(),
                              static_cast<int>(agreed));
        }
      }
      throw PeerFailed(static_cast<int>(agreed));
    }
  } else if (error) {
    std::rethrow_exception(error);
  }
  if (rank == 0 && !ctx.config.quiet) print_start(ctx);
  if (ctx.config.topology == Topology::local) return run_local(ctx, *recorder);
  MESL_CHECK(transport != nullptr, ConfigError, "topology ", to_string(ctx.config.topology), " needs MPI");
  return rank == 0 ? run_server(ctx, *transport, *recorder) : run_client(ctx, *transport);
}

}  // namespace mesl::train
