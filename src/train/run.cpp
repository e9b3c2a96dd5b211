// run_training: start-up shared by every topology (context, resume point, metrics file, threads, the start line),
// then the role. Every start-up phase ends with all ranks agreeing on success, so that a failure on one rank
// (a missing file on one node, a corrupt checkpoint part) stops every rank cleanly with one message.
#include "mesl/train/run.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <thread>

#include "context.h"
#include "mesl/codec/codec.h"
#include "recorder.h"
#include "resume.h"
#include "roles.h"
#include "schedule.h"
#include "mesl/train/openmp_waits.h"
#include "mesl/train/signals.h"

namespace mesl::train {
namespace {

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s;
  for (auto d : shape) s += (s.empty() ? "" : "x") + std::to_string(d);
  return s;
}

void print_start(const RunContext& ctx, const Schedule& schedule) {
  const TrainConfig& c = ctx.config;
  std::string preset;
  for (const auto& [name, layer] : models::model_info(c.model).presets)
    if (layer == ctx.cut) preset = " (" + name + ")";
  std::vector<int64_t> batch{*c.batch_size};
  batch.insert(batch.end(), ctx.cut_shape.begin(), ctx.cut_shape.end());
  std::printf("mesl: %s on %s, cut after layer %lld%s: activation %s per sample\n", c.model.c_str(),
              c.dataset.c_str(), static_cast<long long>(ctx.cut), preset.c_str(), shape_text(ctx.cut_shape).c_str());
  std::printf("mesl: %s with %lld client(s), %lld epochs, batch %lld, codec %s (%.3f bits/element), results to %s\n",
              c.topology.c_str(), static_cast<long long>(c.clients), static_cast<long long>(*c.epochs),
              static_cast<long long>(*c.batch_size), codec::to_spec(c.codec).c_str(),
              codec::nominal_bpe(c.codec, batch), c.output.c_str());
  const int ranks = client_ranks(c, ctx.world_size);
  if (ranks > 0 && c.clients > ranks)
    std::printf("mesl: %lld clients on %d client ranks (%lld to %lld per rank, contiguous blocks)\n",
                static_cast<long long>(c.clients), ranks, static_cast<long long>(c.clients / ranks),
                static_cast<long long>((c.clients + ranks - 1) / ranks));
  std::fflush(stdout);
}

// What start-up says about the clients whatever --quiet says: who cannot train, and who trains per round.
void print_clients(const RunContext& ctx, const Schedule& schedule) {
  const TrainConfig& c = ctx.config;
  const int64_t empty = schedule.clients() - schedule.eligible();
  if (empty > 0)
    std::printf("mesl: %lld of %lld clients have no training data (%s partition) and never train\n",
                static_cast<long long>(empty), static_cast<long long>(schedule.clients()), c.partition.c_str());
  if (schedule.per_round() < participants_per_round(c))
    std::printf("mesl: %lld clients per round asked for, but only %lld have data: all of them train\n",
                static_cast<long long>(participants_per_round(c)), static_cast<long long>(schedule.eligible()));
  else if (schedule.per_round() < schedule.eligible())
    std::printf("mesl: %lld of %lld clients per %s, drawn from the seed\n",
                static_cast<long long>(schedule.per_round()), static_cast<long long>(schedule.eligible()),
                schedule.kind() == RoundKind::turns ? "epoch" : "round");
  std::fflush(stdout);
}

std::vector<std::string> host_names(comm::Transport* transport) {
  if (transport) return transport->host_names();
  char host[256] = "localhost";
  gethostname(host, sizeof host - 1);
  return {host};
}

// Runs one start-up phase on every rank and makes them agree: on failure every rank throws, StartupFailed (with
// the message) on the ranks that report it, PeerFailed on the others.
template <typename F>
void phase(comm::Transport* transport, int rank, F&& f) {
  int code = 0;
  std::exception_ptr error;
  try {
    f();
  } catch (const ConfigError&) {
    code = 2;
    error = std::current_exception();
  } catch (const Error&) {
    code = 1;
    error = std::current_exception();
  }
  if (!transport || transport->size() == 1) {
    if (error) std::rethrow_exception(error);
    return;
  }
  const int64_t agreed = transport->all_max(code);
  const int64_t server_failed = transport->all_max(rank == 0 ? code : 0);
  if (agreed == 0) return;
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

}  // namespace

int run_training(const TrainConfig& config, comm::Transport* transport) {
  const int rank = transport ? transport->rank() : 0;
  const int world = transport ? transport->size() : 1;
  const int local_ranks = transport ? std::max(1, transport->local_size()) : 1;
  // Intra-op threads: the node's cores shared among the ranks on it, unless --threads says otherwise.
  const int cores = std::max(1u, std::thread::hardware_concurrency());
  at::set_num_threads(threads_per_rank(config.threads, cores, local_ranks));
  install_stop_handlers();

  RunContext ctx;
  std::unique_ptr<Schedule> schedule;
  phase(transport, rank, [&] {
    ctx = make_context(config, world);
    schedule = make_schedule(ctx.config, shard_sizes(ctx));
  });
  MESL_CHECK(is_local(ctx.config.topology) || transport != nullptr, ConfigError, "topology ", ctx.config.topology,
             " needs MPI");
  // The client states' budget and folder, before anything is written.
  phase(transport, rank, [&] {
    check_client_states(ctx, schedule->kind(), is_local(ctx.config.topology) ? 1 : rank);
  });
  std::optional<ResumePoint> resume;
  if (ctx.config.resume) phase(transport, rank, [&] { resume = find_resume_point(ctx, transport, rank); });
  phase(transport, rank, [&] {
    if (rank == 0) check_existing_output(ctx.config, resume.has_value());
  });
  std::unique_ptr<Recorder> recorder;
  std::unique_ptr<Role> role;
  // The metrics file is created (or reopened) and the roles made during start-up, so that an unwritable --output
  // or --state-dir stops every rank before any training.
  phase(transport, rank, [&] {
    if (rank == 0) {
      if (resume)
        recorder = std::make_unique<Recorder>(ctx, host_names(transport), Recorder::rows_in(*resume->archive));
      else
        recorder = std::make_unique<Recorder>(ctx, host_names(transport));
    }
    if (is_local(ctx.config.topology)) role = make_local(ctx, *recorder, *schedule, resume);
    else if (rank == 0) role = make_server(ctx, *transport, *recorder, *schedule, resume);
    else role = make_client(ctx, *transport, *schedule, resume);
  });
  announce_stop_signals();
  if (rank == 0) {
    if (!ctx.config.quiet) print_start(ctx, *schedule);
    print_clients(ctx, *schedule);
  }
  return role->run();
}

}  // namespace mesl::train
