// The in-process backend: ranks are threads, a Hub holds one mailbox per rank. A wait blocks on the mailbox's
// condition variable (with the deadline), so it costs no CPU at all; otherwise it keeps the MPI backend's rules:
// per-(source, tag) order, sticky aborts, the same argument checks and the same error texts.
#include "mesl/comm/inproc_transport.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>

#include "wait.h"

namespace mesl::comm {

class Hub {
 public:
  struct Mailbox {
    std::deque<Message> messages;      // in arrival order; recv takes the first that matches
    std::optional<std::string> abort;  // set once by the first abort_all that reaches this rank; never cleared
    std::condition_variable changed;   // a message, an abort or a finished collective
  };
  // One collective in progress per kind (barrier, all_max), as the MPI backend keeps one tag pair per kind.
  struct Collective {
    uint64_t generation = 0;                     // finished rounds
    std::vector<std::optional<int64_t>> values;  // this round's contributions, by rank
    int64_t result = 0;                          // the last finished round's maximum
  };
  enum Kind { kBarrier = 0, kAllMax = 1 };

  Hub(int size, std::vector<std::string> host_names)
      : size_(size), host_names_(std::move(host_names)), boxes_(static_cast<size_t>(size)) {
    for (auto& c : collectives_) c.values.resize(static_cast<size_t>(size));
  }

  int size() const { return size_; }
  const std::vector<std::string>& host_names() const { return host_names_; }

  void send(int source, int dest, int tag, const uint8_t* data, size_t bytes) {
    std::lock_guard lock(mutex_);
    throw_if_aborted(source);
    Mailbox& box = boxes_[static_cast<size_t>(dest)];
    box.messages.push_back(Message{source, tag, std::vector<uint8_t>(data, data + bytes)});
    box.changed.notify_all();
  }

  Message recv(int self, const std::vector<std::pair<int, int>>& patterns, const detail::Deadline& deadline) {
    std::unique_lock lock(mutex_);
    Mailbox& box = boxes_[static_cast<size_t>(self)];
    for (;;) {
      throw_if_aborted(self);
      // Arrival order across sources; per (source, tag) that is send order, which is what the contract promises.
      for (auto it = box.messages.begin(); it != box.messages.end(); ++it) {
        const bool wanted = std::any_of(patterns.begin(), patterns.end(),
                                        [&](const auto& p) { return detail::matches(p, it->source, it->tag); });
        if (wanted) {
          Message m = std::move(*it);
          box.messages.erase(it);
          return m;
        }
      }
      if (deadline.passed()) throw TimeoutError(detail::no_answer_text(patterns, deadline.seconds(), self));
      wait(box, lock, deadline);
    }
  }

  void abort_all(int self, const std::string& reason) {
    std::lock_guard lock(mutex_);
    for (int r = 0; r < size_; ++r) {
      if (r == self) continue;
      Mailbox& box = boxes_[static_cast<size_t>(r)];
      if (!box.abort) box.abort = detail::abort_text(self, reason);
      box.changed.notify_all();
    }
  }

  int64_t collective(Kind kind, int self, int64_t value, const detail::Deadline& deadline) {
    std::unique_lock lock(mutex_);
    throw_if_aborted(self);
    Collective& c = collectives_[kind];
    c.values[static_cast<size_t>(self)] = value;
    const uint64_t round = c.generation;
    if (std::all_of(c.values.begin(), c.values.end(), [](const auto& v) { return v.has_value(); })) {
      int64_t best = *c.values.front();
      for (auto& v : c.values) {
        best = std::max(best, *v);
        v.reset();
      }
      c.result = best;
      ++c.generation;
      for (auto& box : boxes_) box.changed.notify_all();
      return best;
    }
    Mailbox& box = boxes_[static_cast<size_t>(self)];
    for (;;) {
      // Another round cannot finish without this rank, so `result` still holds this round's maximum.
      if (c.generation != round) return c.result;
      if (box.abort || deadline.passed()) {
        c.values[static_cast<size_t>(self)].reset();  // withdraw, so a later round is not fed a stale value
        throw_if_aborted(self);
        std::vector<int> missing;
        for (int r = 0; r < size_; ++r)
          if (r != self && !c.values[static_cast<size_t>(r)]) missing.push_back(r);
        throw TimeoutError(detail::missing_ranks_text(missing, kind == kBarrier ? "the barrier" : "all_max",
                                                   deadline.seconds()));
      }
      wait(box, lock, deadline);
    }
  }

 private:
  void throw_if_aborted(int self) const {
    const Mailbox& box = boxes_[static_cast<size_t>(self)];
    if (box.abort) throw AbortedError(*box.abort);
  }
  static void wait(Mailbox& box, std::unique_lock<std::mutex>& lock, const detail::Deadline& deadline) {
    if (deadline.bounded()) box.changed.wait_until(lock, deadline.at());
    else box.changed.wait(lock);
  }

  const int size_;
  const std::vector<std::string> host_names_;
  std::mutex mutex_;  // one lock for everything: in-process traffic is light, simplicity wins
  std::vector<Mailbox> boxes_;
  std::array<Collective, 2> collectives_;
};

namespace {

class InprocTransport final : public Transport {
 public:
  InprocTransport(std::shared_ptr<Hub> hub, int rank) : hub_(std::move(hub)), rank_(rank) {
    const auto& names = hub_->host_names();
    for (int r = 0; r < hub_->size(); ++r) {
      if (names[static_cast<size_t>(r)] != names[static_cast<size_t>(rank_)]) continue;
      if (r < rank_) ++local_rank_;
      ++local_size_;
    }
  }

  int rank() const override { return rank_; }
  int size() const override { return hub_->size(); }

  void send(int dest, int tag, const uint8_t* data, size_t bytes, Timeout /*timeout*/) override {
    // Mailboxes are unbounded, so a send never waits and its timeout can never expire.
    detail::check_send(dest, tag, rank_, size());
    hub_->send(rank_, dest, tag, data, bytes);
  }
  Message recv(int source, int tag, Timeout timeout) override { return recv_any_of({{source, tag}}, timeout); }
  Message recv_any_of(const std::vector<std::pair<int, int>>& patterns, Timeout timeout) override {
    detail::check_patterns(patterns, rank_, size());
    return hub_->recv(rank_, patterns, detail::Deadline(timeout));
  }

  void abort_all(const std::string& reason) override { hub_->abort_all(rank_, reason); }
  void barrier(Timeout timeout) override { hub_->collective(Hub::kBarrier, rank_, 0, detail::Deadline(timeout)); }
  int64_t all_max(int64_t value, Timeout timeout) override {
    return hub_->collective(Hub::kAllMax, rank_, value, detail::Deadline(timeout));
  }

  int local_size() const override { return local_size_; }
  int local_rank() const override { return local_rank_; }
  const std::vector<std::string>& host_names() const override { return hub_->host_names(); }

 private:
  std::shared_ptr<Hub> hub_;
  int rank_;
  int local_rank_ = 0;  // ranks before this one with the same host name
  int local_size_ = 0;  // ranks with the same host name
};

std::string this_host() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

}  // namespace

std::shared_ptr<Hub> make_hub(int size, std::vector<std::string> host_names) {
  MESL_CHECK(size >= 1, CommError, "an in-process hub needs at least 1 rank; got ", size);
  if (host_names.empty()) host_names.assign(static_cast<size_t>(size), this_host());
  MESL_CHECK(host_names.size() == static_cast<size_t>(size), CommError, "an in-process hub of ", size,
             " ranks needs ", size, " host names (or none); got ", host_names.size());
  return std::make_shared<Hub>(size, std::move(host_names));
}

std::unique_ptr<Transport> make_inproc_transport(std::shared_ptr<Hub> hub, int rank) {
  MESL_CHECK(hub != nullptr, CommError, "make_inproc_transport needs a hub from make_hub");
  MESL_CHECK(rank >= 0 && rank < hub->size(), CommError, "rank ", rank, " is not in the hub's ranks 0..",
             hub->size() - 1);
  return std::make_unique<InprocTransport>(std::move(hub), rank);
}

void run_ranks(int size, const std::function<void(Transport&)>& body) {
  auto hub = make_hub(size);
  std::mutex first_mutex;
  std::exception_ptr first;  // the first failure in time: the cause, where later ones are mostly its AbortedErrors
  std::vector<std::thread> threads;
  threads.reserve(static_cast<size_t>(size));
  for (int r = 0; r < size; ++r) {
    threads.emplace_back([&, r] {
      auto transport = make_inproc_transport(hub, r);
      try {
        body(*transport);
      } catch (...) {
        const std::exception_ptr error = std::current_exception();
        {
          std::lock_guard lock(first_mutex);
          if (!first) first = error;
        }
        std::string reason = "an exception that is not a std::exception";
        try {
          std::rethrow_exception(error);
        } catch (const std::exception& e) {
          reason = e.what();
        } catch (...) {
        }
        transport->abort_all(reason);  // release the ranks still waiting for this one
      }
    });
  }
  for (auto& t : threads) t.join();
  if (first) std::rethrow_exception(first);
}

}  // namespace mesl::comm
