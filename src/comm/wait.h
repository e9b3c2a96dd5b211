#pragma once
// Pieces shared by the two backends so that they wait, validate and word their errors the same way.
#include <algorithm>
#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "bell.h"
#include "mesl/comm/transport.h"

namespace mesl::comm::detail {

using Clock = std::chrono::steady_clock;

// When a wait with a Timeout gives up; a wait without one never does. Negative timeouts count as 0 (one look,
// no wait); timeouts beyond kForever (and infinity) as none, where a deadline would overflow the clock.
class Deadline {
 public:
  static constexpr double kForever = 1e9;  // seconds: about 32 years
  explicit Deadline(const Timeout& timeout)
      : seconds_(timeout ? std::max(0.0, timeout->count()) : 0.0), bounded_(timeout && seconds_ < kForever) {
    if (bounded_) at_ = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds_));
  }
  // This deadline, moved to at least `seconds` from now (for the rest of a transfer that has begun).
  Deadline at_least(double seconds) const {
    Deadline d = *this;
    if (d.bounded_) d.at_ = std::max(d.at_, Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                                               std::chrono::duration<double>(seconds)));
    return d;
  }
  bool bounded() const { return bounded_; }
  bool passed() const { return bounded_ && Clock::now() >= at_; }
  Clock::time_point at() const { return at_; }
  double seconds() const { return seconds_; }  // the timeout as given, for messages

 private:
  double seconds_;
  bool bounded_;
  Clock::time_point at_{};
};

// Makes this thread's sleeps end when asked. Linux lets a sleep overshoot by the thread's timer slack, 50 µs by
// default, so that the kernel can batch wake-ups: a 20 µs poll step then takes 75 µs, a 200 µs one 260 µs on this
// project's VM, and every message waited for arrives that much late. Once per thread; a no-op elsewhere.
void precise_sleeps();

// How a wait polls. Every wake-up of a waiting rank also costs the rank that computes meanwhile on the same
// cores (its OpenMP region waits for the thread the wake-up displaced), so a wait that history says will be long
// begins with one long sleep (`head`) and then polls `fine_polls` times at a `fine` step around the expected
// arrival; without history the plan is empty and the wait polls at the growing pace of Backoff at once.
struct WaitPlan {
  std::chrono::microseconds head{0};
  std::chrono::microseconds fine{0};
  int fine_polls = 0;
};

// The sleep between two polls: short at first so that a message that is about to arrive costs little latency,
// then growing to a millisecond so that a long wait costs a few hundred wake-ups per second, not a core.
// hurry() is for a transfer under way: both sides are active then, the data moves only while both call MPI, and
// the transfer of a step's message takes well under a millisecond. With a core for every rank on the node
// (`spin`) the wait then polls without sleeping; with more ranks than cores, polling without sleeping would take
// the cores of ranks that compute meanwhile, so it sleeps at most kHurried between polls.
// With a `bell` (bell.h) the sleeps end early when a peer on the node rings it; call arm() before each poll.
class Backoff {
 public:
  static constexpr std::chrono::microseconds kFirst{20};
  static constexpr std::chrono::microseconds kLast{1000};
  static constexpr std::chrono::microseconds kHurried{50};
  explicit Backoff(const WaitPlan& plan = {}, Bell* bell = nullptr) : plan_(plan), bell_(bell) {}
  // Notes the bell's count before a poll, so that a ring after the poll ends the next sleep.
  void arm() {
    if (bell_ != nullptr) seen_ = seen(*bell_);
  }
  void sleep(const Deadline& deadline) {
    precise_sleeps();
    if (spin_) {
      std::this_thread::yield();
      return;
    }
    std::chrono::microseconds step = step_;
    if (plan_.head.count() > 0) {
      step = plan_.head;
      plan_.head = {};
    } else if (plan_.fine_polls > 0) {
      step = plan_.fine;
      --plan_.fine_polls;
    } else {
      step_ = std::min(step_ * 2, cap_);
    }
    auto until = Clock::now() + step;
    if (deadline.bounded()) until = std::min(until, deadline.at());
    if (bell_ != nullptr) sleep_on(*bell_, seen_, until);
    else std::this_thread::sleep_until(until);
  }
  void hurry(bool spin) {
    spin_ = spin;
    plan_ = {};
    cap_ = kHurried;
    step_ = std::min(step_, cap_);
  }

 private:
  WaitPlan plan_;
  std::chrono::microseconds step_ = kFirst;
  std::chrono::microseconds cap_ = kLast;
  bool spin_ = false;
  Bell* bell_ = nullptr;
  uint32_t seen_ = 0;
};

// How long recent waits took, to plan the next one. In a split-learning step the waits repeat: the client waits
// for the gradient about as long as the server computes, the server for the next activations about as long as
// the client does. A wait is known by what it accepts (`key`: the transport's (source, tag) patterns) and by the
// message the previous wait with that key received, because one key can alternate between two messages (the
// server's "any message from a client" gets a step's end at once, then the next step's start after a forward).
// The plan sleeps through most of the shortest of the last kKept such waits, so that an early message is rare
// and costs little, and never longer than kMaxHead, so that a wait that was long once (a client idle while
// others train) does not make a later short one late.
class WaitHistory {
 public:
  static constexpr int kKept = 4;
  static constexpr double kHeadFraction = 0.9;
  static constexpr int kFinePolls = 8;                           // spread over 1.5x the rest of the shortest wait
  static constexpr std::chrono::microseconds kMinHead{500};      // below this, polling from the start costs little
  static constexpr std::chrono::microseconds kMaxHead{50000};
  WaitPlan plan(const std::vector<int>& key) const;
  // A wait for `key` ended after `waited` with a message from `source` with `tag`.
  void record(const std::vector<int>& key, int source, int tag, Clock::duration waited);

 private:
  struct Recent {
    std::chrono::microseconds waits[kKept]{};
    int next = 0;    // where the next wait goes (over the oldest)
    int filled = 0;  // how many of waits[] hold a wait
  };
  std::vector<int> history_key(const std::vector<int>& key) const;
  std::map<std::vector<int>, std::pair<int, int>> last_;  // key -> (source, tag) its last wait received
  std::map<std::vector<int>, Recent> recent_;             // key + the previous (source, tag) -> recent waits
};

// Argument checks (CommError with the fix); `self` is the calling rank, `size` the number of ranks.
void check_send(int dest, int tag, int self, int size);
void check_patterns(const std::vector<std::pair<int, int>>& patterns, int self, int size);
bool matches(const std::pair<int, int>& pattern, int source, int tag);

// "0.2 s", "2 s": a duration as users wrote it.
std::string seconds_text(double seconds);
// The text of an AbortedError: "rank 3 stopped the job: <reason>".
std::string abort_text(int from_rank, const std::string& reason);
// A receive that timed out: "rank 1 did not answer within 2 s (rank 0 was waiting for tag 5 from rank 1)", or
// "no rank answered within ..." when a pattern accepts any source.
std::string no_answer_text(const std::vector<std::pair<int, int>>& patterns, double seconds, int self);
// A send that timed out.
std::string not_taken_text(int dest, int tag, size_t bytes, double seconds, int self);
// A collective that timed out: "ranks 2, 3 did not reach the barrier within 2 s".
std::string missing_ranks_text(const std::vector<int>& missing, const std::string& collective, double seconds);
// "rank 2" or "ranks 1, 2, 3".
std::string ranks_text(const std::vector<int>& ranks);

}  // namespace mesl::comm::detail
