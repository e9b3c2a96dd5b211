// Schedules (who trains when), client sampling and the placement of clients on ranks.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <set>

#include "mesl/error.h"
#include "schedule.h"

using namespace mesl;
using namespace mesl::train;

namespace {

TrainConfig config_of(const std::string& topology, int64_t clients) {
  TrainConfig c;
  c.topology = topology;
  c.clients = clients;
  c.epochs = 4;
  c.seed = 7;
  return c;
}

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("placement: contiguous, balanced blocks that cover every client once") {
  for (const int64_t n : {1, 2, 3, 7, 100, 10000}) {
    for (const int r : {1, 2, 3, 7, 64}) {
      if (r > n) continue;
      CAPTURE(n);
      CAPTURE(r);
      const Placement p{n, r};
      int64_t smallest = n, largest = 0, next = 1;
      for (int rank = 1; rank <= r; ++rank) {
        REQUIRE(p.first(rank) == next);  // blocks follow each other in rank order
        const int64_t size = p.last(rank) - p.first(rank) + 1;
        smallest = std::min(smallest, size);
        largest = std::max(largest, size);
        for (int64_t c = p.first(rank); c <= p.last(rank); ++c) REQUIRE(p.rank_of(c) == rank);
        next = p.last(rank) + 1;
      }
      CHECK(next == n + 1);
      CHECK(smallest >= 1);
      CHECK(largest - smallest <= 1);
    }
  }
  // One client per rank: client c lives on rank c.
  const Placement one{5, 5};
  for (int64_t c = 1; c <= 5; ++c) CHECK(one.rank_of(c) == c);
}

TEST_CASE("the registry: names, kinds, and an unknown topology") {
  CHECK(schedule_names() == std::vector<std::string>{"sequential", "sflv1", "sflv2"});
  CHECK(schedule_kind("sequential") == RoundKind::turns);
  CHECK(schedule_kind("local") == RoundKind::turns);
  CHECK(schedule_kind("sflv1") == RoundKind::parallel);
  CHECK(message_of([] { schedule_kind("ring"); }) ==
        "unknown topology 'ring'; choose one of sequential, sflv1, sflv2, local");
  const auto sflv1 = make_schedule(config_of("sflv1", 4), {10, 10, 10, 10});
  CHECK(sflv1->top_replicas());
  CHECK(sflv1->order() == StepOrder::by_client);
  TrainConfig c = config_of("sflv2", 4);
  CHECK(make_schedule(c, {1, 1, 1, 1})->order() == StepOrder::arrival);
  c.serve_order = ServeOrder::round_robin;
  CHECK(make_schedule(c, {1, 1, 1, 1})->order() == StepOrder::round_robin);
  CHECK_FALSE(make_schedule(c, {1, 1, 1, 1})->top_replicas());
}

TEST_CASE("without sampling every client with data takes part, in client order") {
  const auto s = make_schedule(config_of("sflv1", 6), {5, 0, 3, 0, 1, 2});
  CHECK(s->eligible() == 4);
  CHECK(s->per_round() == 4);
  for (int64_t round = 0; round < 4; ++round) CHECK(s->participants(round) == std::vector<int64_t>{1, 3, 5, 6});
  const RoundPlan plan = s->plan(2);
  CHECK(plan.round == 2);
  CHECK(plan.kind == RoundKind::parallel);
  CHECK(plan.top_replicas);
  CHECK(message_of([] { make_schedule(config_of("sflv1", 3), {0, 0, 0}); }).find("no client has training data") == 0);
}

TEST_CASE("sampling draws K distinct clients with data per round, from the seed") {
  const std::vector<int64_t> sizes{4, 4, 0, 4, 4, 4, 4, 0, 4, 4};  // 8 clients with data
  for (const double f : {0.01, 0.3, 0.55, 1.0}) {
    CAPTURE(f);
    TrainConfig c = config_of("sequential", 10);
    c.participation = f;
    c.epochs = 200;
    const auto s = make_schedule(c, sizes);
    const int64_t k = std::min<int64_t>(8, std::max<int64_t>(1, std::llround(f * 10)));
    CHECK(s->per_round() == k);
    std::map<int64_t, int> picked;
    for (int64_t round = 0; round < 200; ++round) {
      const auto p = s->participants(round);
      REQUIRE(static_cast<int64_t>(p.size()) == k);
      CHECK(std::is_sorted(p.begin(), p.end()));
      CHECK(std::set<int64_t>(p.begin(), p.end()).size() == p.size());
      for (const int64_t client : p) {
        CHECK(sizes[static_cast<size_t>(client - 1)] > 0);  // never a client without data
        ++picked[client];
      }
      CHECK(p == s->participants(round));  // the same on every call (every rank)
    }
    // Over 200 rounds every client with data is picked, about equally often.
    CHECK(picked.size() == 8);
    for (const auto& [client, n] : picked) CHECK(std::abs(n - 200.0 * static_cast<double>(k) / 8.0) < 50);
  }
  TrainConfig c = config_of("sflv1", 10);
  c.clients_per_round = 3;
  const auto a = make_schedule(c, sizes);
  c.seed = 8;
  const auto b = make_schedule(c, sizes);
  int differ = 0;
  for (int64_t round = 0; round < 4; ++round) differ += a->participants(round) != b->participants(round);
  CHECK(differ > 0);  // another seed, other participants
  CHECK(a->participants(0) != a->participants(1));
}

TEST_CASE("turns: the bottom goes to the next participant, across rounds, and nowhere after the last turn") {
  TrainConfig c = config_of("sequential", 4);
  c.epochs = 2;
  const auto s = make_schedule(c, {3, 3, 3, 3});
  CHECK(s->next_turn(0, 1) == 2);
  CHECK(s->next_turn(0, 4) == 1);  // the last of epoch 0 hands to the first of epoch 1
  CHECK(s->next_turn(1, 3) == 4);
  CHECK(s->next_turn(1, 4) == 0);  // the run's last turn
  const auto one = make_schedule(config_of("sequential", 1), {5});
  CHECK(one->next_turn(0, 1) == 0);  // the same client next: nothing to hand over
  c.clients_per_round = 2;
  c.epochs = 3;
  const auto sampled = make_schedule(c, {3, 3, 3, 3});
  for (int64_t round = 0; round < 3; ++round) {
    const auto p = sampled->participants(round);
    CHECK(sampled->next_turn(round, p[0]) == p[1]);
    const int64_t after = round + 1 < 3 ? sampled->participants(round + 1)[0] : 0;
    CHECK(sampled->next_turn(round, p[1]) == (after == p[1] ? 0 : after));
  }
}

TEST_CASE("bad client and sampling options: one line naming the fix") {
  TrainConfig c = config_of("sflv1", 3);
  c = resolve_defaults(c, 5);
  CHECK(message_of([&] { validate(c, 5); }) ==
        "--clients 3 is fewer than the 4 client ranks of 5 ranks (rank 0 serves): run mpirun -np 4 or give --clients "
        "4 or more");
  c.clients = 8;
  c.participation = 1.5;
  CHECK(message_of([&] { validate(c, 5); }).find("--participation 1.5 is not in (0, 1]") == 0);
  c.participation = 0.5;
  c.clients_per_round = 2;
  CHECK(message_of([&] { validate(c, 5); }).find("--participation and --clients-per-round both") == 0);
  c.participation = 0;
  c.clients_per_round = 9;
  CHECK(message_of([&] { validate(c, 5); }).find("--clients-per-round 9 is more than the 8 clients") == 0);
  c.clients_per_round = 8;
  CHECK_NOTHROW(validate(c, 5));
  c.client_state_memory = 0;
  CHECK(message_of([&] { validate(c, 5); }).find("--client-state-memory must be positive") == 0);
  // Without --clients, one client per client rank.
  CHECK(resolve_defaults(config_of("sflv2", 0), 7).clients == 6);
  CHECK(participants_per_round(c) == 8);
  c.clients_per_round = 0;
  c.participation = 0.26;
  CHECK(participants_per_round(c) == 2);  // max(1, round(0.26 * 8))
  c.participation = 0.01;
  CHECK(participants_per_round(c) == 1);
}
