#include "contract.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstring>
#include <map>
#include <set>
#include <thread>
#include <type_traits>

namespace mesl::comm::contract {
namespace {

using Clock = std::chrono::steady_clock;

// Generous, so that a loaded machine never fails a check that waits for a message that is on its way; only a
// hang runs into them.
const Timeout kPatience = std::chrono::duration<double>(60);

Timeout seconds(double s) { return std::chrono::duration<double>(s); }
double since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }
void sleep_s(double s) { std::this_thread::sleep_for(std::chrono::duration<double>(s)); }
bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::vector<uint8_t> ints(std::initializer_list<int64_t> values) {
  std::vector<uint8_t> out;
  for (int64_t v : values)
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(static_cast<uint64_t>(v) >> (8 * i)));
  return out;
}
int64_t int_at(const Message& m, size_t index) {
  EXPECT(m.data.size() >= 8 * (index + 1), "a message of ", m.data.size(), " bytes has no integer ", index);
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(m.data[8 * index + static_cast<size_t>(i)]) << (8 * i);
  return static_cast<int64_t>(v);
}

// Runs `call`, which must throw E (an AbortedError that was not asked for is passed on: it means another rank
// failed), and returns the error's text.
template <typename E, typename F>
std::string expect_error(F&& call, const std::string& what) {
  if constexpr (std::is_base_of_v<AbortedError, E>) {
    try {
      call();
    } catch (const E& e) {
      return e.what();
    }
  } else {
    try {
      call();
    } catch (const AbortedError&) {
      throw;
    } catch (const E& e) {
      return e.what();
    }
  }
  throw ContractFailure(what + " did not throw");
}

void send_ints(Transport& t, int dest, int tag, std::initializer_list<int64_t> values) {
  t.send(dest, tag, ints(values), kPatience);
}

// ---- the checks --------------------------------------------------------------------------------------------

// Per (source, tag) order, and receives that pick one tag while messages with another tag wait.
void ordering(Transport& t) {
  constexpr int kPerTag = 25;
  const int n = t.size();
  if (t.rank() != 0) {
    for (int i = 0; i < 2 * kPerTag; ++i) send_ints(t, 0, 10 + i % 2, {t.rank(), i});
    for (int i = 0; i < kPerTag; ++i) send_ints(t, 0, 12, {t.rank(), i});
  } else {
    for (int source = 1; source < n; ++source) {
      // Tag 11 first, although a tag-10 message was sent before each of them.
      for (int i = 0; i < kPerTag; ++i) {
        const Message m = t.recv(source, 11, kPatience);
        EXPECT(m.source == source && m.tag == 11 && int_at(m, 1) == 2 * i + 1, "message ", int_at(m, 1), " from rank ",
               m.source, " with tag ", m.tag, " out of order");
      }
      for (int i = 0; i < kPerTag; ++i) {
        const Message m = t.recv(source, 10, kPatience);
        EXPECT(m.source == source && m.tag == 10 && int_at(m, 1) == 2 * i, "message ", int_at(m, 1), " out of order");
      }
    }
    std::vector<int64_t> next(static_cast<size_t>(n), 0);
    for (int k = 0; k < (n - 1) * kPerTag; ++k) {
      const Message m = t.recv(kAnySource, 12, kPatience);
      EXPECT(m.source >= 1 && m.source < n && int_at(m, 0) == m.source, "message from rank ", m.source);
      EXPECT(int_at(m, 1) == next[static_cast<size_t>(m.source)]++, "message ", int_at(m, 1), " from rank ", m.source,
             " out of order");
    }
  }
  t.barrier(kPatience);
}

void any_source_any_tag(Transport& t) {
  const int n = t.size();
  const auto seed = [](int rank) { return static_cast<uint32_t>(rank); };
  // Any source, any tag.
  if (t.rank() != 0) {
    t.send(0, 20 + t.rank(), pattern(100 + static_cast<size_t>(t.rank()), seed(t.rank())), kPatience);
  } else {
    std::set<int> seen;
    for (int k = 1; k < n; ++k) {
      const Message m = t.recv(kAnySource, kAnyTag, kPatience);
      EXPECT(m.source >= 1 && m.source < n && seen.insert(m.source).second, "unexpected or repeated rank ", m.source);
      EXPECT(m.tag == 20 + m.source, "rank ", m.source, "'s message arrived with tag ", m.tag);
      EXPECT(m.data == pattern(100 + static_cast<size_t>(m.source), seed(m.source)), "rank ", m.source,
             "'s message arrived changed");
    }
  }
  t.barrier(kPatience);
  // A given source, any tag: both of its messages, whatever their order across tags.
  if (t.rank() != 0) {
    t.send(0, 30, pattern(7, 30), kPatience);
    t.send(0, 31, pattern(9, 31), kPatience);
  } else {
    for (int source = 1; source < n; ++source) {
      std::set<int> tags;
      for (int k = 0; k < 2; ++k) {
        const Message m = t.recv(source, kAnyTag, kPatience);
        EXPECT(m.source == source && (m.tag == 30 || m.tag == 31) && tags.insert(m.tag).second, "tag ", m.tag,
               " from rank ", m.source);
        EXPECT(m.data == pattern(m.tag == 30 ? 7 : 9, static_cast<uint32_t>(m.tag)), "tag ", m.tag, " arrived changed");
      }
    }
  }
  t.barrier(kPatience);
  // Any source, a given tag, while messages with another tag wait.
  if (t.rank() != 0) {
    t.send(0, 33, pattern(3, 33), kPatience);
    t.send(0, 32, pattern(5, seed(t.rank())), kPatience);
  } else {
    std::set<int> seen;
    for (int k = 1; k < n; ++k) {
      const Message m = t.recv(kAnySource, 32, kPatience);
      EXPECT(m.tag == 32 && seen.insert(m.source).second && m.data == pattern(5, seed(m.source)), "tag ", m.tag,
             " from rank ", m.source);
    }
    for (int k = 1; k < n; ++k) EXPECT(t.recv(kAnySource, 33, kPatience).data == pattern(3, 33), "tag 33 changed");
  }
  t.barrier(kPatience);
}

void recv_any_of(Transport& t) {
  const int last = t.size() - 1;  // rank 1 when there are 2 ranks
  if (t.rank() == 1) {
    t.send(0, 40, pattern(40, 40), kPatience);  // arrives first, matches no pattern below
    t.send(0, 41, pattern(41, 41), kPatience);
  }
  if (t.rank() == last) t.send(0, 42, pattern(42, 42), kPatience);
  if (t.rank() == 0) {
    const std::vector<std::pair<int, int>> wanted{{1, 41}, {last, 42}};
    std::set<int> tags;
    for (int k = 0; k < 2; ++k) {
      const Message m = t.recv_any_of(wanted, kPatience);
      EXPECT((m.tag == 41 && m.source == 1) || (m.tag == 42 && m.source == last), "recv_any_of returned tag ", m.tag,
             " from rank ", m.source);
      EXPECT(tags.insert(m.tag).second && m.data == pattern(static_cast<size_t>(m.tag), static_cast<uint32_t>(m.tag)),
             "tag ", m.tag, " twice or changed");
    }
    const Message skipped = t.recv_any_of({{kAnySource, 40}}, kPatience);
    EXPECT(skipped.source == 1 && skipped.data == pattern(40, 40), "the message no pattern matched was lost");
    const std::string text = expect_error<TimeoutError>(
        [&] { t.recv_any_of({{1, 43}, {last, 44}}, seconds(0.2)); }, "recv_any_of with nothing to receive");
    const std::string who = last == 1 ? "rank 1" : "ranks 1, " + std::to_string(last);
    EXPECT(text.rfind(who + " did not answer within 0.2 s", 0) == 0, "the timeout text does not name ", who, ": ", text);
  }
  t.barrier(kPatience);
}

void sizes(Transport& t) {
  for (const size_t size : message_sizes()) {
    if (t.rank() == 0) {
      for (int r = 1; r < t.size(); ++r) {
        const auto seed = static_cast<uint32_t>(r * 1000 + static_cast<int>(size % 997));
        t.send(r, 50, pattern(size, seed), kPatience);
        const Message back = t.recv(r, 51, kPatience);
        EXPECT(back.source == r && back.tag == 51 && back.data == pattern(size, seed + 1), "the echo of ", size,
               " bytes from rank ", r, " came back with ", back.data.size(), " bytes or changed");
      }
    } else {
      const auto seed = static_cast<uint32_t>(t.rank() * 1000 + static_cast<int>(size % 997));
      const Message m = t.recv(0, 50, kPatience);
      EXPECT(m.source == 0 && m.tag == 50 && m.data == pattern(size, seed), "a message of ", size, " bytes arrived as ",
             m.data.size(), " bytes or changed");
      t.send(0, 51, pattern(size, seed + 1), kPatience);
    }
  }
  t.barrier(kPatience);
}

void timeouts(Transport& t) {
  if (t.rank() == 0) {
    auto start = Clock::now();
    std::string text =
        expect_error<TimeoutError>([&] { t.recv(1, 60, seconds(0.2)); }, "a receive from a rank that sends nothing");
    double waited = since(start);
    EXPECT(waited >= 0.19 && waited < 5, "a 0.2 s timeout took ", waited, " s");
    EXPECT(contains(text, "rank 1 did not answer within 0.2 s"), "the timeout text does not name rank 1: ", text);

    start = Clock::now();
    text = expect_error<TimeoutError>([&] { t.recv(kAnySource, kAnyTag, seconds(0.2)); }, "a receive from any rank");
    waited = since(start);
    EXPECT(waited >= 0.19 && waited < 5, "a 0.2 s timeout took ", waited, " s");
    EXPECT(contains(text, "no rank answered within 0.2 s"), "the timeout text is wrong: ", text);

    text = expect_error<TimeoutError>([&] { t.recv(1, 61, seconds(0)); }, "a receive with a zero timeout");
    EXPECT(contains(text, "rank 1 did not answer"), "the timeout text does not name rank 1: ", text);
  }
  t.barrier(kPatience);
  // A timeout leaves the transport usable.
  if (t.rank() == 1) t.send(0, 60, pattern(60, 60), kPatience);
  if (t.rank() == 0) {
    const Message m = t.recv(1, 60, kPatience);
    EXPECT(m.data == pattern(60, 60), "the message after a timeout arrived changed");
  }
  t.barrier(kPatience);
}

const char* const kAbortReason = "the contract check stops the job";

void expect_aborted_everywhere(Transport& t, const std::string& text) {
  EXPECT(contains(text, "rank 1 stopped the job") && contains(text, kAbortReason), "the abort text is ", text);
  // An abort is final: every later call on this rank's transport reports it too.
  const int other = t.rank() == 0 ? 1 : 0;
  expect_error<AbortedError>([&] { t.send(other, 1, pattern(10, 1), kPatience); }, "a send after an abort");
  expect_error<AbortedError>([&] { t.recv(other, 1, seconds(5)); }, "a receive after an abort");
  expect_error<AbortedError>([&] { t.barrier(seconds(5)); }, "a barrier after an abort");
  expect_error<AbortedError>([&] { t.all_max(1, seconds(5)); }, "all_max after an abort");
}

void abort_interrupts_recv(Transport& t) {
  if (t.rank() == 1) {
    sleep_s(0.1);
    t.abort_all(kAbortReason);
    return;
  }
  const auto start = Clock::now();
  // kAnyTag must not hand the abort message out as an ordinary message.
  const std::string text =
      expect_error<AbortedError>([&] { t.recv(kAnySource, kAnyTag, seconds(30)); }, "a receive during an abort");
  EXPECT(since(start) < 10, "the abort took ", since(start), " s to arrive");
  expect_aborted_everywhere(t, text);
}

void abort_interrupts_barrier(Transport& t) {
  if (t.rank() == 1) {
    sleep_s(0.1);
    t.abort_all(kAbortReason);
    return;
  }
  const auto start = Clock::now();
  const std::string text = expect_error<AbortedError>([&] { t.barrier(seconds(30)); }, "a barrier during an abort");
  EXPECT(since(start) < 10, "the abort took ", since(start), " s to arrive");
  expect_aborted_everywhere(t, text);
}

// No rank leaves a barrier before the last one entered it. Ranks are on one host in these tests, where
// steady_clock is one clock for all processes, so the times compare directly.
void barrier(Transport& t) {
  const int n = t.size();
  for (int round = 0; round < 3; ++round) {
    const int delay_steps = round % 2 == 0 ? t.rank() : n - 1 - t.rank();
    sleep_s(0.03 * delay_steps);
    const int64_t entered = Clock::now().time_since_epoch().count();
    t.barrier(kPatience);
    const int64_t left = Clock::now().time_since_epoch().count();
    const int64_t last_entry = t.all_max(entered, kPatience);
    const int64_t first_exit = -t.all_max(-left, kPatience);
    EXPECT(first_exit >= last_entry, "a rank left barrier round ", round, " ", (last_entry - first_exit),
           " ns before the last rank entered it");
  }
}

void barrier_timeout(Transport& t) {
  const int skipper = t.size() - 1;
  if (t.rank() == skipper) return;
  // Rank 0 gives up first, so when it does every other rank is still waiting and only the skipper is missing.
  const double timeout = t.rank() == 0 ? 0.3 : 0.6;
  const auto start = Clock::now();
  const std::string text = expect_error<TimeoutError>([&] { t.barrier(seconds(timeout)); }, "a barrier a rank skips");
  EXPECT(since(start) >= timeout - 0.01 && since(start) < 10, "a ", timeout, " s barrier timeout took ", since(start));
  if (t.rank() == 0) {
    // Normally only the skipper is missing; on a loaded machine a slow rank may be named as well.
    const auto end = text.find(" did not reach the barrier within 0.3 s");
    EXPECT(end != std::string::npos && text.compare(0, 4, "rank") == 0, "the timeout text is ", text);
    EXPECT(contains(text.substr(0, end), std::to_string(skipper)), "the timeout text does not name rank ", skipper,
           ": ", text);
  }
}

void all_max(Transport& t) {
  const int n = t.size();
  const int r = t.rank();
  const auto value_of = [](int rank) { return static_cast<int64_t>(rank * 37 % 5) - 3; };
  int64_t expected = value_of(0);
  for (int k = 1; k < n; ++k) expected = std::max(expected, value_of(k));
  EXPECT(t.all_max(value_of(r), kPatience) == expected, "all_max of small values");
  t.barrier(kPatience);
  EXPECT(t.all_max(r == n - 1 ? INT64_MAX : INT64_MIN + r, kPatience) == INT64_MAX, "all_max at the int64 limits");
  EXPECT(t.all_max(INT64_MIN, kPatience) == INT64_MIN, "all_max of equal minimal values");
  EXPECT(t.all_max(r == 0 ? 7 : -7, kPatience) == 7, "all_max where rank 0 holds the maximum");
  t.barrier(kPatience);
}

void misuse_refused(Transport& t) {
  const int n = t.size();
  const int self = t.rank();
  const std::vector<uint8_t> data = pattern(4, 4);
  for (int dest : {self, -1, n, n + 5})
    expect_error<CommError>([&] { t.send(dest, 1, data); }, "a send to rank " + std::to_string(dest));
  const int peer = self == 0 ? 1 : 0;
  for (int tag : {-1, kAbortTag, kAbortTag + 1, 5000})
    expect_error<CommError>([&] { t.send(peer, tag, data); }, "a send with tag " + std::to_string(tag));
  for (int source : {self, -2, n})
    expect_error<CommError>([&] { t.recv(source, 1, seconds(1)); }, "a receive from rank " + std::to_string(source));
  for (int tag : {-2, kAbortTag, 1000})
    expect_error<CommError>([&] { t.recv(peer, tag, seconds(1)); }, "a receive of tag " + std::to_string(tag));
  expect_error<CommError>([&] { t.recv_any_of({}, seconds(1)); }, "recv_any_of without patterns");
  const std::string text = expect_error<CommError>([&] { t.send(peer, kAbortTag, data); }, "a send with the abort tag");
  EXPECT(contains(text, "reserved"), "the text does not explain the reserved tag: ", text);
  t.barrier(kPatience);
}

void host_names(Transport& t) {
  const int n = t.size();
  const auto& names = t.host_names();
  EXPECT(static_cast<int>(names.size()) == n, names.size(), " host names for ", n, " ranks");
  const auto same_host = std::count(names.begin(), names.end(), names[static_cast<size_t>(t.rank())]);
  EXPECT(t.local_size() == same_host, "local_size ", t.local_size(), " but ", same_host, " ranks on this host");
  EXPECT(t.local_rank() >= 0 && t.local_rank() < t.local_size(), "local_rank ", t.local_rank());
  // Each host's ranks number themselves 0..k-1 without gaps or repeats.
  if (t.rank() != 0) {
    send_ints(t, 0, 70, {t.local_rank()});
  } else {
    std::map<std::string, std::set<int64_t>> local_ranks{{names[0], {t.local_rank()}}};
    for (int k = 1; k < n; ++k) {
      const Message m = t.recv(kAnySource, 70, kPatience);
      EXPECT(local_ranks[names[static_cast<size_t>(m.source)]].insert(int_at(m, 0)).second, "local rank ",
             int_at(m, 0), " repeated on ", names[static_cast<size_t>(m.source)]);
    }
    for (const auto& [host, ranks] : local_ranks)
      EXPECT(*ranks.rbegin() == static_cast<int64_t>(ranks.size()) - 1, "local ranks on ", host, " have gaps");
  }
  t.barrier(kPatience);
}

}  // namespace

std::vector<uint8_t> pattern(size_t size, uint32_t seed) {
  std::vector<uint8_t> out(size);
  uint32_t state = seed * 2654435761u + 12345u;
  for (size_t i = 0; i < size; ++i) {
    state = state * 1664525u + 1013904223u;  // an LCG: cheap, and every byte depends on all before it
    out[i] = static_cast<uint8_t>(state >> 24);
  }
  return out;
}

const std::vector<size_t>& message_sizes() {
  static const std::vector<size_t> sizes{0, 1, 4, 100, 1000, 10000, 1u << 20};
  return sizes;
}

double cpu_seconds(CpuScope scope) {
  rusage usage{};
  getrusage(scope == CpuScope::thread ? RUSAGE_THREAD : RUSAGE_SELF, &usage);
  const auto s = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) * 1e-6; };
  return s(usage.ru_utime) + s(usage.ru_stime);
}

double measure_recv_wait_cpu(Transport& t, double wait_s, CpuScope scope) {
  double used = 0;
  if (t.rank() == 1) {
    sleep_s(wait_s);
    t.send(0, 80, pattern(80, 80), kPatience);
  } else if (t.rank() == 0) {
    const double cpu_before = cpu_seconds(scope);
    const auto start = Clock::now();
    const Message m = t.recv(1, 80, kPatience);
    used = cpu_seconds(scope) - cpu_before;
    EXPECT(m.data == pattern(80, 80), "the awaited message arrived changed");
    EXPECT(since(start) >= 0.8 * wait_s, "the wait ended after ", since(start), " s, before the message was sent");
  }
  t.barrier(kPatience);
  return used;
}

const std::vector<Check>& checks() {
  static const std::vector<Check> all{
      {"ordering", 2, ordering},
      {"any_source_any_tag", 2, any_source_any_tag},
      {"recv_any_of", 2, recv_any_of},
      {"sizes", 2, sizes},
      {"timeouts", 2, timeouts},
      {"abort_interrupts_recv", 2, abort_interrupts_recv},
      {"abort_interrupts_barrier", 2, abort_interrupts_barrier},
      {"barrier", 1, barrier},
      {"barrier_timeout", 2, barrier_timeout},
      {"all_max", 1, all_max},
      {"misuse_refused", 2, misuse_refused},
      {"host_names", 1, host_names},
  };
  return all;
}

const Check& check_named(const std::string& name) {
  for (const auto& c : checks())
    if (name == c.name) return c;
  throw std::invalid_argument("no contract check named " + name);
}

}  // namespace mesl::comm::contract
