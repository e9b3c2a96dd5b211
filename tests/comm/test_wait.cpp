// How the MPI backend plans its waits (src/comm/wait.h): from the history of similar waits, and within deadlines.
#include <doctest/doctest.h>

#include <chrono>
#include <thread>

#include "wait.h"

using namespace mesl::comm;
using namespace mesl::comm::detail;
using std::chrono::microseconds;
using std::chrono::milliseconds;

namespace {

const std::vector<int> kGradient{0, 0, 4};               // comm 0, from rank 0, tag 4
const std::vector<int> kAnyClient{0, kAnySource, kAnyTag};

}  // namespace

TEST_CASE("a wait is planned only after as many similar waits as the history keeps") {
  WaitHistory history;
  // The first wait of a key followed no message of it, so it does not count as similar to the later ones.
  for (int i = 0; i < WaitHistory::kKept + 1; ++i) {
    CHECK(history.plan(kGradient).head == microseconds{0});
    history.record(kGradient, 0, 4, milliseconds{10});
  }
  const WaitPlan plan = history.plan(kGradient);
  CHECK(plan.head == microseconds{9000});                  // 0.9 of 10 ms
  CHECK(plan.fine == microseconds{1000 * 3 / 2 / WaitHistory::kFinePolls});
  CHECK(plan.fine_polls == WaitHistory::kFinePolls);
  CHECK(history.plan(kAnyClient).head == microseconds{0});  // another key has no history
}

TEST_CASE("the shortest recent wait sets the plan, and old waits drop out") {
  WaitHistory history;
  history.record(kGradient, 0, 4, milliseconds{1});  // the first wait: no message before it
  for (int ms : {40, 10, 30, 20}) history.record(kGradient, 0, 4, milliseconds{ms});
  CHECK(history.plan(kGradient).head == microseconds{9000});
  // Four longer waits push the 10 ms one out.
  for (int ms : {50, 60, 70, 80}) history.record(kGradient, 0, 4, milliseconds{ms});
  CHECK(history.plan(kGradient).head == microseconds{45000});
}

TEST_CASE("short waits poll from the start, and long ones sleep at most kMaxHead first") {
  WaitHistory history;
  for (int i = 0; i < WaitHistory::kKept + 1; ++i) history.record(kGradient, 0, 4, microseconds{400});
  CHECK(history.plan(kGradient).head == microseconds{0});
  CHECK(history.plan(kGradient).fine_polls == 0);
  for (int i = 0; i < WaitHistory::kKept; ++i) history.record(kGradient, 0, 4, std::chrono::seconds{10});
  CHECK(history.plan(kGradient).head == WaitHistory::kMaxHead);
}

TEST_CASE("a key that alternates between two messages plans each wait by the message before it") {
  // The server's "anything from a client": a step's end arrives at once, the next step's start after a forward.
  WaitHistory history;
  for (int i = 0; i < WaitHistory::kKept + 1; ++i) {
    history.record(kAnyClient, 1, 6, microseconds{5});   // step done: at once
    history.record(kAnyClient, 1, 2, milliseconds{5});   // next step: 5 ms later
  }
  // The last message was a step start (tag 2), so the next wait is the short one.
  CHECK(history.plan(kAnyClient).head == microseconds{0});
  history.record(kAnyClient, 1, 6, microseconds{5});
  CHECK(history.plan(kAnyClient).head == microseconds{4500});
}

TEST_CASE("a planned sleep ends at the deadline") {
  WaitPlan plan;
  plan.head = std::chrono::seconds{5};
  Backoff backoff(plan);
  const Deadline deadline(Timeout{std::chrono::duration<double>(0.01)});
  const auto began = Clock::now();
  backoff.sleep(deadline);
  CHECK(Clock::now() - began < std::chrono::seconds{2});  // not the 5 s of the head
  CHECK(deadline.passed());
}

// Bells (src/comm/bell.h) end a sleep early when rung. Every sleep here is given 10 s, so a ring that does not
// wake the sleeper fails the test by its time (the 5 s bound), not by a flaky margin.
namespace {

// A thread that rings `bell` once someone sleeps on it, so that the futex wake itself is what is tested.
std::thread ring_once_asleep(Bell& bell) {
  return std::thread([&bell] {
    while (bell.sleepers.load() == 0) std::this_thread::sleep_for(microseconds{100});
    ring(bell);
  });
}

}  // namespace

TEST_CASE("a ring wakes a rank sleeping on its bell, and a ring before the sleep ends it at once") {
  const auto elapsed_s = [](Clock::time_point since) {
    return std::chrono::duration<double>(Clock::now() - since).count();
  };
  Bell bell;

  SUBCASE("rung while asleep") {
    const uint32_t before = seen(bell);
    const auto t0 = Clock::now();
    std::thread ringer = ring_once_asleep(bell);
    sleep_on(bell, before, t0 + std::chrono::seconds{10});
    ringer.join();
    CHECK(elapsed_s(t0) < 5.0);
    CHECK(seen(bell) == before + 1);
    CHECK(bell.sleepers.load() == 0);
  }
  SUBCASE("rung between the poll and the sleep") {
    const uint32_t before = seen(bell);
    ring(bell);  // nobody sleeps: no system call, only the count moves
    const auto t0 = Clock::now();
    sleep_on(bell, before, t0 + std::chrono::seconds{10});
    CHECK(elapsed_s(t0) < 5.0);
  }
  SUBCASE("not rung: the sleep lasts until its time") {
    const auto t0 = Clock::now();
    sleep_on(bell, seen(bell), t0 + milliseconds{50});
    CHECK(elapsed_s(t0) >= 0.050);
  }
  SUBCASE("a Backoff with a bell wakes from a planned long sleep") {
    WaitPlan plan;
    plan.head = std::chrono::duration_cast<microseconds>(std::chrono::seconds{10});
    Backoff backoff(plan, &bell);
    backoff.arm();
    std::thread ringer = ring_once_asleep(bell);
    const auto t0 = Clock::now();
    backoff.sleep(Deadline{std::nullopt});
    ringer.join();
    CHECK(elapsed_s(t0) < 5.0);
  }
}
