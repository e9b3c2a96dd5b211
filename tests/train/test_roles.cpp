// The server's liveness messages to idle clients (protocol.h: kTagAlive), with the real roles on the in-process
// transport and a test thread playing the other side. The MPI end of it (a stopped server while every client
// waits) is tests/reliability/test_dying_ranks.py.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>
#include <unistd.h>

#include "context.h"
#include "mesl/comm/inproc_transport.h"
#include "mesl/train/run.h"
#include "protocol.h"
#include "recorder.h"
#include "resume.h"
#include "roles.h"
#include "schedule.h"

using namespace mesl;
using namespace mesl::train;
using Clock = std::chrono::steady_clock;

namespace {

RunContext small_run(int64_t clients, double timeout_s) {
  TrainConfig c;
  c.dataset = "synthetic";
  c.synthetic_train = 64;
  c.synthetic_test = 16;
  c.batch_size = 16;
  c.epochs = 1;
  c.threads = 1;
  c.quiet = true;
  c.clients = clients;
  c.timeout_s = timeout_s;
  c.output = (std::filesystem::temp_directory_path() / ("mesl-test-roles-" + std::to_string(getpid()) + ".h5")).string();
  return make_context(c, static_cast<int>(clients) + 1);
}

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::unique_ptr<Schedule> schedule_of(const RunContext& ctx) { return make_schedule(ctx.config, shard_sizes(ctx)); }

}  // namespace

TEST_CASE("an idle client waits while the server says that it runs, and ends the job when the server falls silent") {
  const RunContext ctx = small_run(1, 0.4);
  const double limit = idle_limit_s(ctx.config.timeout_s);
  REQUIRE(limit == doctest::Approx(2.5));
  const comm::Timeout wait = std::chrono::duration<double>(limit);

  SUBCASE("alive messages for longer than the limit, then stop: the client ends normally") {
    int code = -1;
    comm::run_ranks(2, [&](comm::Transport& t) {
      if (t.rank() == 1) {
        code = make_client(ctx, t, *schedule_of(ctx), std::nullopt)->run();
        return;
      }
      // Further apart than the client's 0.5 s polls, so that it checks the silence between them.
      const auto start = Clock::now();
      while (seconds_since(start) < limit + 1.5) {
        t.send(1, kTagAlive, nullptr, 0, wait);
        usleep(700 * 1000);
      }
      t.send(1, kTagControl, Control(ControlType::stop).serialize(), wait);
    });
    CHECK(code == 0);
  }

  SUBCASE("nothing from the server: the client names it after the limit") {
    const auto start = Clock::now();
    CHECK_THROWS_WITH_AS(comm::run_ranks(2,
                                         [&](comm::Transport& t) {
                                           if (t.rank() == 1)
                                             make_client(ctx, t, *schedule_of(ctx), std::nullopt)->run();
                                           // Rank 0 waits until the client's failure releases it (an abort).
                                           else t.recv(1, kTagControl);
                                         }),
                         doctest::Contains("rank 0 (the server) sent nothing for 2.5 s while rank 1 waited for its turn"),
                         comm::TimeoutError);
    CHECK(seconds_since(start) >= limit);
  }
}

TEST_CASE("while the server waits for a client in its turn, it tells every idle client, and only them, that it runs") {
  const RunContext ctx = small_run(2, 0.8);
  const auto schedule = schedule_of(ctx);
  const double every = alive_every_s(ctx.config.timeout_s);
  std::atomic<int> alive_to_idle{0}, other_to_idle{0}, to_busy{0};
  const auto start = Clock::now();
  // Client 1 takes its first turn and never answers: the server gives up after --timeout-s + 2 s.
  CHECK_THROWS_WITH_AS(
      comm::run_ranks(3,
                      [&](comm::Transport& t) {
                        if (t.rank() == 0) {
                          Recorder recorder(ctx, t.host_names());
                          make_server(ctx, t, recorder, *schedule, std::nullopt)->run();
                          return;
                        }
                        try {
                          if (t.rank() == 1) {
                            CHECK(Control::parse(t.recv(0, kTagControl).data).type == ControlType::start_turn);
                            t.recv(0, comm::kAnyTag);  // nothing should come until the abort
                            ++to_busy;
                          }
                          for (;;) (t.recv(0, comm::kAnyTag).tag == kTagAlive ? alive_to_idle : other_to_idle)++;
                        } catch (const comm::AbortedError&) {
                        }
                      }),
      doctest::Contains("client rank(s) 1 sent nothing for 2.8 s"), comm::TimeoutError);
  const double waited = seconds_since(start);
  std::filesystem::remove(ctx.config.output);
  CHECK(to_busy == 0);
  CHECK(other_to_idle == 0);
  // One at the start of the wait and one per interval after it (a loaded machine may lose an interval or two).
  CHECK(alive_to_idle >= static_cast<int>(2.8 / every) - 2);
  CHECK(alive_to_idle <= static_cast<int>(waited / every) + 2);
}
