// The Transport contract over the in-process backend (the same checks mpi_contract runs under mpirun), and what
// only the in-process backend promises: run_ranks, hubs, host names given by the test.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "contract.h"
#include "mesl/comm/inproc_transport.h"

using namespace mesl;
using namespace mesl::comm;

namespace {

// Runs one contract check with 2, 3 and 4 ranks (and 1 where the check makes sense alone).
void run_contract(const std::string& name) {
  const auto& check = contract::check_named(name);
  for (int ranks = check.min_ranks; ranks <= 4; ++ranks) {
    CAPTURE(ranks);
    CHECK_NOTHROW(run_ranks(ranks, check.run));
  }
}

Timeout seconds(double s) { return std::chrono::duration<double>(s); }

}  // namespace

TEST_CASE("contract: order per source and tag") { run_contract("ordering"); }
TEST_CASE("contract: any source and any tag") { run_contract("any_source_any_tag"); }
TEST_CASE("contract: recv_any_of takes only what matches") { run_contract("recv_any_of"); }
TEST_CASE("contract: message sizes 0 to 1 MiB arrive intact") { run_contract("sizes"); }
TEST_CASE("contract: timeouts name the rank") { run_contract("timeouts"); }
TEST_CASE("contract: an abort interrupts a receive and is final") { run_contract("abort_interrupts_recv"); }
TEST_CASE("contract: an abort interrupts a barrier") { run_contract("abort_interrupts_barrier"); }
TEST_CASE("contract: barrier") { run_contract("barrier"); }
TEST_CASE("contract: a barrier a rank skips times out naming it") { run_contract("barrier_timeout"); }
TEST_CASE("contract: all_max") { run_contract("all_max"); }
TEST_CASE("contract: misuse is refused") { run_contract("misuse_refused"); }
TEST_CASE("contract: host names and local ranks") { run_contract("host_names"); }

TEST_CASE("contract: a waiting receive does not use the CPU") {
  double used = -1;
  run_ranks(2, [&](Transport& t) {
    const double cpu = contract::measure_recv_wait_cpu(t, 0.5, contract::CpuScope::thread);
    if (t.rank() == 0) used = cpu;
  });
  MESSAGE("rank 0 used " << used << " s of CPU while waiting 0.5 s");
  CHECK(used >= 0);
  CHECK(used < 0.15);
}

TEST_CASE("run_ranks rethrows the first failure and releases the waiting ranks") {
  std::atomic<int> aborted{0};
  std::atomic<int> finished{0};
  const auto body = [&](Transport& t) {
    if (t.rank() == 2) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      throw DataError("shard 2 is missing");
    }
    try {
      t.recv(kAnySource, kAnyTag);  // no timeout: only the abort can end this wait
    } catch (const AbortedError& e) {
      if (std::string(e.what()) == "rank 2 stopped the job: shard 2 is missing") ++aborted;
      throw;
    }
    ++finished;
  };
  CHECK_THROWS_WITH_AS(run_ranks(4, body), "shard 2 is missing", DataError);
  CHECK(aborted == 3);
  CHECK(finished == 0);

  // An exception that is not a std::exception is carried through as well.
  CHECK_THROWS_AS(run_ranks(2, [](Transport& t) {
                    if (t.rank() == 1) throw 42;
                    t.barrier();
                  }),
                  int);
}

TEST_CASE("run_ranks with one rank: collectives return at once") {
  int calls = 0;
  run_ranks(1, [&](Transport& t) {
    ++calls;
    CHECK(t.size() == 1);
    CHECK(t.rank() == 0);
    t.barrier(seconds(1));
    CHECK(t.all_max(-5, seconds(1)) == -5);
    CHECK_THROWS_AS(t.recv(kAnySource, kAnyTag, seconds(0.05)), CommError);
  });
  CHECK(calls == 1);
}

TEST_CASE("hubs: sizes and host names are checked") {
  CHECK_THROWS_WITH_AS(make_hub(0), "an in-process hub needs at least 1 rank; got 0", CommError);
  CHECK_THROWS_AS(make_hub(3, {"a", "b"}), CommError);
  auto hub = make_hub(2);
  CHECK_THROWS_AS(make_inproc_transport(hub, 2), CommError);
  CHECK_THROWS_AS(make_inproc_transport(hub, -1), CommError);
  CHECK_THROWS_AS(make_inproc_transport(nullptr, 0), CommError);
}

TEST_CASE("hubs: local ranks follow the host names given") {
  const std::vector<std::string> hosts{"node-a", "node-b", "node-a", "node-a", "node-b"};
  auto hub = make_hub(5, hosts);
  const std::vector<int> local_rank{0, 0, 1, 2, 1};
  const std::vector<int> local_size{3, 2, 3, 3, 2};
  for (int r = 0; r < 5; ++r) {
    CAPTURE(r);
    auto t = make_inproc_transport(hub, r);
    CHECK(t->host_names() == hosts);
    CHECK(t->local_rank() == local_rank[static_cast<size_t>(r)]);
    CHECK(t->local_size() == local_size[static_cast<size_t>(r)]);
  }
}

TEST_CASE("in-process sends never wait, with or without a receiver") {
  auto hub = make_hub(2);
  auto sender = make_inproc_transport(hub, 0);
  auto receiver = make_inproc_transport(hub, 1);
  for (size_t size : contract::message_sizes()) {
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 3; ++i) sender->send(1, 5, contract::pattern(size, static_cast<uint32_t>(i)), seconds(0));
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
  }
  for (size_t size : contract::message_sizes())
    for (int i = 0; i < 3; ++i) {
      const Message m = receiver->recv(0, 5, seconds(0));
      CHECK(m.data == contract::pattern(size, static_cast<uint32_t>(i)));
    }
}

TEST_CASE("timeouts: negative means one look, huge means no deadline") {
  run_ranks(2, [](Transport& t) {
    if (t.rank() == 1) {
      t.recv(0, 2);  // rank 0 has checked the negative timeout
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      t.send(0, 3, std::vector<uint8_t>{1, 2, 3});
      return;
    }
    CHECK_THROWS_WITH_AS(t.recv(1, 3, seconds(-5)), doctest::Contains("rank 1 did not answer within 0 s"), CommError);
    t.send(1, 2, std::vector<uint8_t>{});
    // 1e12 s would overflow the clock's deadline arithmetic; it must wait like no timeout at all.
    const Message m = t.recv(1, 3, seconds(1e12));
    CHECK(m.data == std::vector<uint8_t>{1, 2, 3});
  });
}
