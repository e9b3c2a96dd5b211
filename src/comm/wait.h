#pragma once
// Pieces shared by the two backends so that they wait, validate and word their errors the same way.
#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <utility>
#include <vector>

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

// The growing sleep between two polls: short at first so that a message that is about to arrive costs little
// latency, then capped at a millisecond so that a long wait costs a few hundred wake-ups per second, not a core.
// hurry() lowers the cap while a transfer is known to be under way (both sides active), when MPI needs frequent
// progress calls to move the data and the wait is short anyway.
class Backoff {
 public:
  static constexpr std::chrono::microseconds kFirst{20};
  static constexpr std::chrono::microseconds kLast{1000};
  static constexpr std::chrono::microseconds kHurried{50};
  void sleep(const Deadline& deadline) {
    auto until = Clock::now() + step_;
    if (deadline.bounded()) until = std::min(until, deadline.at());
    std::this_thread::sleep_until(until);
    step_ = std::min(step_ * 2, cap_);
  }
  void hurry() {
    cap_ = kHurried;
    step_ = std::min(step_, cap_);
  }

 private:
  std::chrono::microseconds step_ = kFirst;
  std::chrono::microseconds cap_ = kLast;
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
