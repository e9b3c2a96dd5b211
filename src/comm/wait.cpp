#include "wait.h"

#include <sstream>

#if defined(__linux__)
#include <sys/prctl.h>
#endif

namespace mesl::comm::detail {
namespace {

constexpr unsigned long kTimerSlackNs = 1000;  // 1 µs: below the shortest poll step (20 µs) by far

std::string pattern_text(const std::pair<int, int>& p) {
  std::string text = p.second == kAnyTag ? "any tag" : "tag " + std::to_string(p.second);
  text += p.first == kAnySource ? " from any rank" : " from rank " + std::to_string(p.first);
  return text;
}

}  // namespace

std::vector<int> WaitHistory::history_key(const std::vector<int>& key) const {
  std::vector<int> full = key;
  const auto last = last_.find(key);
  if (last == last_.end()) full.insert(full.end(), {-1, -1});
  else full.insert(full.end(), {last->second.first, last->second.second});
  return full;
}

WaitPlan WaitHistory::plan(const std::vector<int>& key) const {
  const auto it = recent_.find(history_key(key));
  if (it == recent_.end() || it->second.filled < kKept) return {};
  const auto shortest = *std::min_element(std::begin(it->second.waits), std::end(it->second.waits));
  const auto head = std::chrono::microseconds{static_cast<int64_t>(static_cast<double>(shortest.count()) * kHeadFraction)};
  if (head < kMinHead) return {};
  WaitPlan plan;
  plan.head = std::min(head, kMaxHead);
  plan.fine = std::max(Backoff::kFirst, (shortest - head) * 3 / (2 * kFinePolls));
  plan.fine_polls = kFinePolls;
  return plan;
}

void WaitHistory::record(const std::vector<int>& key, int source, int tag, Clock::duration waited) {
  Recent& r = recent_[history_key(key)];
  r.waits[r.next] = std::chrono::duration_cast<std::chrono::microseconds>(waited);
  r.next = (r.next + 1) % kKept;
  r.filled = std::min(r.filled + 1, kKept);
  last_[key] = {source, tag};
}

void precise_sleeps() {
#if defined(__linux__)
  static thread_local const bool set = prctl(PR_SET_TIMERSLACK, kTimerSlackNs, 0, 0, 0) == 0;
  (void)set;
#endif
}

void check_send(int dest, int tag, int self, int size) {
  MESL_CHECK(dest != self, CommError, "rank ", self, " cannot send a message to itself");
  MESL_CHECK(dest >= 0 && dest < size, CommError, "cannot send to rank ", dest, ": the job has ranks 0..", size - 1);
  MESL_CHECK(tag >= 0 && tag < kAbortTag, CommError, "cannot send with tag ", tag, ": user tags are 0..",
             kAbortTag - 1, " (", kAbortTag, " is reserved for aborts)");
}

void check_patterns(const std::vector<std::pair<int, int>>& patterns, int self, int size) {
  MESL_CHECK(!patterns.empty(), CommError, "recv_any_of needs at least one (source, tag) pattern");
  for (const auto& [source, tag] : patterns) {
    MESL_CHECK(source != self, CommError, "rank ", self, " cannot receive a message from itself");
    MESL_CHECK(source == kAnySource || (source >= 0 && source < size), CommError, "cannot receive from rank ",
               source, ": the job has ranks 0..", size - 1, " (or use kAnySource)");
    MESL_CHECK(tag == kAnyTag || (tag >= 0 && tag < kAbortTag), CommError, "cannot receive tag ", tag,
               ": user tags are 0..", kAbortTag - 1, " (or use kAnyTag; aborts arrive as AbortedError)");
  }
}

bool matches(const std::pair<int, int>& pattern, int source, int tag) {
  return (pattern.first == kAnySource || pattern.first == source) && (pattern.second == kAnyTag || pattern.second == tag);
}

std::string seconds_text(double seconds) {
  std::ostringstream out;
  out.precision(3);
  out << seconds << " s";
  return out.str();
}

std::string abort_text(int from_rank, const std::string& reason) {
  return "rank " + std::to_string(from_rank) + " stopped the job: " + reason;
}

std::string ranks_text(const std::vector<int>& ranks) {
  std::string text = ranks.size() == 1 ? "rank " : "ranks ";
  for (size_t i = 0; i < ranks.size(); ++i) text += (i ? ", " : "") + std::to_string(ranks[i]);
  return text;
}

std::string no_answer_text(const std::vector<std::pair<int, int>>& patterns, double seconds, int self) {
  std::vector<int> sources;
  bool any_source = false;
  std::string waiting;
  for (const auto& p : patterns) {
    if (p.first == kAnySource) any_source = true;
    else if (std::find(sources.begin(), sources.end(), p.first) == sources.end()) sources.push_back(p.first);
    waiting += (waiting.empty() ? "" : " or ") + pattern_text(p);
  }
  std::string who = any_source || sources.empty() ? "no rank answered" : ranks_text(sources) + " did not answer";
  return who + " within " + seconds_text(seconds) + " (rank " + std::to_string(self) + " was waiting for " + waiting +
         ")";
}

std::string not_taken_text(int dest, int tag, size_t bytes, double seconds, int self) {
  return "rank " + std::to_string(dest) + " did not take a message within " + seconds_text(seconds) + " (rank " +
         std::to_string(self) + " was sending " + std::to_string(bytes) + " bytes with tag " + std::to_string(tag) +
         ")";
}

std::string missing_ranks_text(const std::vector<int>& missing, const std::string& collective, double seconds) {
  return ranks_text(missing) + " did not reach " + collective + " within " + seconds_text(seconds);
}

}  // namespace mesl::comm::detail
