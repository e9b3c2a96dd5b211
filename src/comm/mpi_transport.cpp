// The MPI backend. Every wait polls (MPI_Test / MPI_Iprobe, then a sleep planned from similar waits or growing)
// instead of blocking in MPI, because Open MPI's blocking calls busy-poll a core, and because a poll loop can also
// watch for aborts and deadlines. See docs/transport.md for the tags, the framing of large messages, how waits
// are planned and the reasons.
#include "mesl/comm/mpi_transport.h"

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <optional>

#include <sched.h>

#include "bell.h"
#include "mpi_call.h"
#include "wait.h"

namespace mesl::comm {
namespace {

using detail::Deadline;
using detail::mpi_check;
using Patterns = std::vector<std::pair<int, int>>;

// Tags on the control communicator. User messages travel on a communicator of their own, so these never meet
// a user's kAnyTag receive and users keep all of 0..998.
constexpr int kBarrierUpTag = 990;    // rank -> rank 0: "I am at the barrier"
constexpr int kBarrierDownTag = 991;  // rank 0 -> rank: "everyone is"
constexpr int kMaxUpTag = 992;        // rank -> rank 0: this rank's all_max value
constexpr int kMaxDownTag = 993;      // rank 0 -> rank: the maximum
constexpr int kHurryTag = 994;        // receiver -> sender, empty: "I am taking your large message now"
// kAbortTag (999) also travels on the control communicator.

constexpr size_t kMaxAbortReason = 1024;  // small enough to go eagerly, so abort_all never waits for a receiver
constexpr double kAbortGraceSeconds = 2;  // how long abort_all waits for its messages to leave
// From this size on a message goes by MPI's rendezvous protocol with any usual eager limit, so its sender waits
// for the receiver, and the receiver tells it when to poll faster (kHurryTag). Smaller messages move within one
// or two progress calls, where the extra signal would cost more than it saves.
constexpr size_t kHurryBytes = 256 * 1024;
// The least time the rest of a message gets once it has begun arriving (receive()).
constexpr double kTransferSeconds = 60;

// Buffers that MPI may still read or write after their operation was given up (a cancelled receive that had
// already matched, an abort message to a dead peer). They are kept until the process ends rather than freed
// under MPI's feet. Only failure paths put anything here.
std::deque<std::vector<uint8_t>>& buffers_kept_for_mpi() {
  static std::deque<std::vector<uint8_t>> kept;
  return kept;
}

// Gives up requests that did not complete: cancel (where the MPI library can) and free.
void abandon(std::vector<MPI_Request>& requests) {
  for (auto& request : requests) {
    if (request == MPI_REQUEST_NULL) continue;
    MPI_Cancel(&request);
    MPI_Request_free(&request);
  }
}

// The cores this process may run on (its affinity mask: a cpuset or a launcher's binding), at least 1.
int cores_available() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) != 0) return 1;
  return std::max(1, CPU_COUNT(&set));
}

// MPI_COMM_WORLD, after checking that MPI runs and telling it to return errors instead of aborting on them.
MPI_Comm checked_world() {
  MESL_CHECK(detail::mpi_initialized() && !detail::mpi_finalized(), CommError,
             "make_mpi_transport needs MPI: create a comm::MpiSession first and start the program with mpirun");
  mpi_check(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler on MPI_COMM_WORLD");
  return MPI_COMM_WORLD;
}

// A duplicate of a communicator, owned and freed by the transport.
class OwnedComm {
 public:
  explicit OwnedComm(MPI_Comm parent) {
    mpi_check(MPI_Comm_dup(parent, &comm_), "MPI_Comm_dup");
    const int rc = MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
    if (rc != MPI_SUCCESS) MPI_Comm_free(&comm_);
    mpi_check(rc, "MPI_Comm_set_errhandler");
  }
  ~OwnedComm() {
    if (comm_ != MPI_COMM_NULL && !detail::mpi_finalized()) MPI_Comm_free(&comm_);
  }
  OwnedComm(const OwnedComm&) = delete;
  OwnedComm& operator=(const OwnedComm&) = delete;
  MPI_Comm get() const { return comm_; }

 private:
  MPI_Comm comm_ = MPI_COMM_NULL;
};

// The largest piece one MPI message carries. MPI counts are int, so INT_MAX; MESL_MPI_MAX_MESSAGE lowers it
// (tests use it to exercise the framing with small messages). 0 means "the variable is not a valid size".
int max_piece_from_env(std::string& bad_value) {
  const char* text = std::getenv("MESL_MPI_MAX_MESSAGE");
  if (text == nullptr || *text == '\0') return INT_MAX;
  errno = 0;
  char* end = nullptr;
  const long long value = std::strtoll(text, &end, 10);
  if (errno != 0 || *end != '\0' || value < 1 || value > INT_MAX) {
    bad_value = text;
    return 0;
  }
  return static_cast<int>(value);
}

std::vector<uint8_t> encode_i64(int64_t value) {
  std::vector<uint8_t> out(8);
  for (int i = 0; i < 8; ++i) out[static_cast<size_t>(i)] = static_cast<uint8_t>(static_cast<uint64_t>(value) >> (8 * i));
  return out;
}
int64_t decode_i64(const std::vector<uint8_t>& in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(in[static_cast<size_t>(i)]) << (8 * i);
  return static_cast<int64_t>(v);
}

class MpiTransport final : public Transport {
 public:
  MpiTransport();

  int rank() const override { return rank_; }
  int size() const override { return size_; }

  void send(int dest, int tag, const uint8_t* data, size_t bytes, Timeout timeout) override {
    detail::check_send(dest, tag, rank_, size_);
    throw_if_aborted();
    const Deadline deadline(timeout);
    send_framed(data_.get(), dest, tag, data, bytes, deadline,
                [&] { return detail::not_taken_text(dest, tag, bytes, deadline.seconds(), rank_); });
  }
  Message recv(int source, int tag, Timeout timeout) override { return recv_any_of({{source, tag}}, timeout); }
  Message recv_any_of(const Patterns& patterns, Timeout timeout) override {
    detail::check_patterns(patterns, rank_, size_);
    throw_if_aborted();
    const Deadline deadline(timeout);
    return receive(data_.get(), patterns, deadline,
                   [&] { return detail::no_answer_text(patterns, deadline.seconds(), rank_); });
  }

  void abort_all(const std::string& reason) override;
  void barrier(Timeout timeout) override { reduce_max(0, kBarrierUpTag, kBarrierDownTag, "the barrier", timeout); }
  int64_t all_max(int64_t value, Timeout timeout) override {
    return reduce_max(value, kMaxUpTag, kMaxDownTag, "all_max", timeout);
  }

  int local_size() const override { return local_size_; }
  int local_rank() const override { return local_rank_; }
  const std::vector<std::string>& host_names() const override { return host_names_; }

 private:
  // Throws AbortedError if an abort message has arrived, now or before (an abort is final).
  void throw_if_aborted();
  // The one wait loop: until done() says yes, watching for aborts and the deadline, sleeping in between.
  template <typename Done, typename TimeoutText>
  void poll(Done&& done, const Deadline& deadline, TimeoutText&& timeout_text, detail::Backoff& backoff);
  template <typename Done, typename TimeoutText>
  void poll(Done&& done, const Deadline& deadline, TimeoutText&& timeout_text) {
    detail::Backoff backoff({}, bells_->mine());
    poll(std::forward<Done>(done), deadline, std::forward<TimeoutText>(timeout_text), backoff);
  }
  // The hurry signal of a large message: the receiver sends it when it starts taking the message, the sender
  // takes it (returns true) and polls faster from then on.
  void hurry_sender(int sender);
  bool take_hurry(int receiver);
  template <typename TimeoutText>
  void send_framed(MPI_Comm comm, int dest, int tag, const uint8_t* data, size_t bytes, const Deadline& deadline,
                   TimeoutText&& timeout_text);
  template <typename TimeoutText>
  Message receive(MPI_Comm comm, const Patterns& patterns, const Deadline& deadline, TimeoutText&& timeout_text);
  template <typename TimeoutText>
  void receive_piece(MPI_Comm comm, Message& into, int count, const Deadline& deadline, TimeoutText&& timeout_text);
  int64_t reduce_max(int64_t value, int up_tag, int down_tag, const std::string& what, Timeout timeout);

  OwnedComm data_;     // user messages, tags 0..998
  OwnedComm control_;  // aborts, the collectives' messages and hurry signals
  int rank_ = 0;
  int size_ = 1;
  int local_rank_ = 0;
  int local_size_ = 1;
  bool spin_transfers_ = false;  // a core for every rank on this node: poll a transfer under way without sleeping
  std::vector<std::string> host_names_;
  size_t max_piece_ = INT_MAX;
  std::optional<std::string> aborted_;  // the AbortedError text, once an abort has arrived
  detail::WaitHistory wait_history_;    // how long receives of each (source, tag) set waited lately
  std::optional<detail::NodeBells> bells_;  // wake-ups from the ranks on this node (bell.h); set up by the constructor
};

MpiTransport::MpiTransport() : data_(checked_world()), control_(MPI_COMM_WORLD) {
  MPI_Comm comm = data_.get();
  mpi_check(MPI_Comm_rank(comm, &rank_), "MPI_Comm_rank");
  mpi_check(MPI_Comm_size(comm, &size_), "MPI_Comm_size");

  MPI_Comm node = MPI_COMM_NULL;
  mpi_check(MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node), "MPI_Comm_split_type");
  const int rc_rank = MPI_Comm_rank(node, &local_rank_);
  const int rc_size = MPI_Comm_size(node, &local_size_);
  bells_.emplace(comm, node);
  MPI_Comm_free(&node);
  mpi_check(rc_rank, "MPI_Comm_rank on the node communicator");
  mpi_check(rc_size, "MPI_Comm_size on the node communicator");
  spin_transfers_ = local_size_ <= cores_available();

  char name[MPI_MAX_PROCESSOR_NAME] = {};
  int length = 0;
  mpi_check(MPI_Get_processor_name(name, &length), "MPI_Get_processor_name");
  std::vector<char> names(static_cast<size_t>(size_) * MPI_MAX_PROCESSOR_NAME);
  mpi_check(MPI_Allgather(name, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, names.data(), MPI_MAX_PROCESSOR_NAME, MPI_CHAR, comm),
            "MPI_Allgather of host names");
  for (int r = 0; r < size_; ++r) {
    const char* at = names.data() + static_cast<size_t>(r) * MPI_MAX_PROCESSOR_NAME;
    host_names_.emplace_back(at, strnlen(at, MPI_MAX_PROCESSOR_NAME));
  }

  // Sender and receiver must cut messages at the same size, so the ranks agree on one (the smallest), and all
  // refuse together a bad setting on any rank, rather than one rank throwing while the others wait for it.
  std::string bad_value;
  const int local_piece = max_piece_from_env(bad_value);
  int common_piece = 0;
  mpi_check(MPI_Allreduce(&local_piece, &common_piece, 1, MPI_INT, MPI_MIN, comm), "MPI_Allreduce of the piece size");
  MESL_CHECK(bad_value.empty(), ConfigError, "MESL_MPI_MAX_MESSAGE must be a whole number of bytes in [1, ", INT_MAX,
             "]; got '", bad_value, "'");
  MESL_CHECK(common_piece > 0, ConfigError, "MESL_MPI_MAX_MESSAGE is invalid on another rank: set it to a whole number",
             " of bytes in [1, ", INT_MAX, "] or unset it");
  max_piece_ = static_cast<size_t>(common_piece);
}

void MpiTransport::throw_if_aborted() {
  if (!aborted_) {
    int flag = 0;
    MPI_Status status;
    mpi_check(MPI_Iprobe(MPI_ANY_SOURCE, kAbortTag, control_.get(), &flag, &status), "MPI_Iprobe for aborts");
    if (!flag) return;
    int count = 0;
    mpi_check(MPI_Get_count(&status, MPI_CHAR, &count), "MPI_Get_count of an abort");
    std::string reason(static_cast<size_t>(count), '\0');
    // Blocking is fine here: the message has arrived and is small enough to have come eagerly.
    mpi_check(MPI_Recv(reason.data(), count, MPI_CHAR, status.MPI_SOURCE, kAbortTag, control_.get(), MPI_STATUS_IGNORE),
              "MPI_Recv of an abort from rank ", status.MPI_SOURCE);
    aborted_ = detail::abort_text(status.MPI_SOURCE, reason);
  }
  throw AbortedError(*aborted_);
}

template <typename Done, typename TimeoutText>
void MpiTransport::poll(Done&& done, const Deadline& deadline, TimeoutText&& timeout_text, detail::Backoff& backoff) {
  for (;;) {
    backoff.arm();
    throw_if_aborted();
    if (done()) return;
    if (deadline.passed()) throw TimeoutError(timeout_text());
    backoff.sleep(deadline);
  }
}

// Framing: a message travels as pieces of max_piece_ bytes followed by one shorter piece (possibly empty), all
// with the same tag. A receiver that gets a full-size piece knows that another follows; a message shorter than
// max_piece_ (every message in practice) is a single MPI message with no header at all.
template <typename TimeoutText>
void MpiTransport::send_framed(MPI_Comm comm, int dest, int tag, const uint8_t* data, size_t bytes,
                               const Deadline& deadline, TimeoutText&& timeout_text) {
  // A large user message moves only while both sides make MPI progress calls. Until the receiver starts taking
  // it the sender may poll slowly; from the hurry signal on it polls fast, and the transfer is soon over.
  const bool large = comm == data_.get() && std::min(bytes, max_piece_) >= kHurryBytes;  // as the receiver sees it
  // A signal here now belongs to an earlier message (one that went eagerly, or a send that gave up): drop it.
  if (large)
    while (take_hurry(dest)) {
    }
  std::vector<MPI_Request> requests;
  size_t offset = 0;
  for (;;) {
    const size_t piece = std::min(bytes - offset, max_piece_);
    requests.push_back(MPI_REQUEST_NULL);
    const int rc = MPI_Isend(data + offset, static_cast<int>(piece), MPI_BYTE, dest, tag, comm, &requests.back());
    if (rc != MPI_SUCCESS) abandon(requests);
    mpi_check(rc, "MPI_Isend to rank ", dest);
    offset += piece;
    if (piece < max_piece_) break;
  }
  bells_->ring(dest);
  bool hurried = false;
  detail::Backoff backoff({}, bells_->mine());
  try {
    poll(
        [&] {
          int flag = 0;
          mpi_check(MPI_Testall(static_cast<int>(requests.size()), requests.data(), &flag, MPI_STATUSES_IGNORE),
                    "MPI_Testall of a send to rank ", dest);
          if (flag) return true;
          if (large && !hurried && take_hurry(dest)) {
            hurried = true;
            backoff.hurry(spin_transfers_);
          }
          return false;
        },
        deadline, timeout_text, backoff);
    // The signal was sent before the receiver took the message, so it is here now if it was not taken yet; take
    // it so that it cannot hurry the next large send to this rank.
    if (large && !hurried) take_hurry(dest);
  } catch (...) {
    // Open MPI cannot cancel a send that has started; MPI may then still read `data` when the peer receives.
    // A timed-out or aborted send ends the job in mesl, so that window is the job's last moments.
    abandon(requests);
    throw;
  }
}

template <typename TimeoutText>
Message MpiTransport::receive(MPI_Comm comm, const Patterns& patterns, const Deadline& deadline,
                              TimeoutText&& timeout_text) {
  MPI_Status status;
  const auto probe = [&](int source, int tag) {
    int flag = 0;
    mpi_check(MPI_Iprobe(source == kAnySource ? MPI_ANY_SOURCE : source, tag == kAnyTag ? MPI_ANY_TAG : tag, comm,
                         &flag, &status),
              "MPI_Iprobe");
    return flag != 0;
  };
  // Patterns are probed in the order given on every round, so an earlier pattern wins a tie.
  std::vector<int> key{comm == data_.get() ? 0 : 1};
  for (const auto& [source, tag] : patterns) key.insert(key.end(), {source, tag});
  const auto began = detail::Clock::now();
  detail::Backoff backoff(wait_history_.plan(key), bells_->mine());
  poll(
      [&] {
        for (const auto& [source, tag] : patterns)
          if (probe(source, tag)) return true;
        return false;
      },
      deadline, timeout_text, backoff);
  wait_history_.record(key, status.MPI_SOURCE, status.MPI_TAG, detail::Clock::now() - began);
  // The timeout bounds the wait for a message to begin arriving. Once it has been matched it is received whole:
  // giving up halfway would lose it (its sender's send has completed) and desynchronise the two ranks, which is
  // what a short polling wait (an idle client's, 0.5 s) did to a large hand-over on a loaded machine. The rest of
  // the transfer gets at least kTransferSeconds, so a sender that dies mid-message still ends the wait.
  const Deadline transfer = deadline.at_least(kTransferSeconds);
  Message message{status.MPI_SOURCE, status.MPI_TAG, {}};
  int first_count = 0;
  mpi_check(MPI_Get_count(&status, MPI_BYTE, &first_count), "MPI_Get_count");
  if (comm == data_.get() && static_cast<size_t>(first_count) >= kHurryBytes) hurry_sender(message.source);
  for (;;) {
    int count = 0;
    mpi_check(MPI_Get_count(&status, MPI_BYTE, &count), "MPI_Get_count");
    receive_piece(comm, message, count, transfer, timeout_text);
    if (static_cast<size_t>(count) < max_piece_) return message;
    // The next piece comes from the same sender with the same tag; MPI keeps their order.
    poll([&] { return probe(message.source, message.tag); }, transfer, timeout_text);
  }
}

template <typename TimeoutText>
void MpiTransport::receive_piece(MPI_Comm comm, Message& into, int count, const Deadline& deadline,
                                 TimeoutText&& timeout_text) {
  const size_t offset = into.data.size();
  into.data.resize(offset + static_cast<size_t>(count));
  // Irecv and poll rather than MPI_Recv: a large piece streams for a while, and its sender may die meanwhile.
  MPI_Request request = MPI_REQUEST_NULL;
  mpi_check(MPI_Irecv(into.data.data() + offset, count, MPI_BYTE, into.source, into.tag, comm, &request),
            "MPI_Irecv from rank ", into.source);
  // The sender is active now (or told to be), so the transfer is short: poll at the fast pace.
  detail::Backoff backoff({}, bells_->mine());
  const bool large = count >= static_cast<int>(kHurryBytes);
  if (large) backoff.hurry(spin_transfers_);
  try {
    poll(
        [&] {
          int flag = 0;
          mpi_check(MPI_Test(&request, &flag, MPI_STATUS_IGNORE), "MPI_Test of a receive from rank ", into.source);
          return flag != 0;
        },
        deadline, timeout_text, backoff);
    // The sender of a large message waits for it to be taken whole: tell it that it has been.
    if (large) bells_->ring(into.source);
  } catch (...) {
    std::vector<MPI_Request> pending{request};
    abandon(pending);
    buffers_kept_for_mpi().push_back(std::move(into.data));  // a matched receive may still be written to
    throw;
  }
}

void MpiTransport::hurry_sender(int sender) {
  // Empty, so it goes eagerly and nothing needs to stay alive: the request may be freed at once. Best effort: a
  // lost signal only makes the transfer slower.
  MPI_Request request = MPI_REQUEST_NULL;
  if (MPI_Isend(nullptr, 0, MPI_BYTE, sender, kHurryTag, control_.get(), &request) == MPI_SUCCESS)
    MPI_Request_free(&request);
  bells_->ring(sender);
}

bool MpiTransport::take_hurry(int receiver) {
  int flag = 0;
  mpi_check(MPI_Iprobe(receiver, kHurryTag, control_.get(), &flag, MPI_STATUS_IGNORE), "MPI_Iprobe for rank ",
            receiver, "'s hurry signal");
  if (!flag) return false;
  mpi_check(MPI_Recv(nullptr, 0, MPI_BYTE, receiver, kHurryTag, control_.get(), MPI_STATUS_IGNORE),
            "MPI_Recv of rank ", receiver, "'s hurry signal");
  return true;
}

int64_t MpiTransport::reduce_max(int64_t value, int up_tag, int down_tag, const std::string& what, Timeout timeout) {
  throw_if_aborted();
  if (size_ == 1) return value;
  const Deadline deadline(timeout);
  // Gather at rank 0, then rank 0 sends the answer to each rank: 2 (size - 1) small messages, all waited for by
  // polling, so a collective honours aborts and timeouts like any other wait.
  if (rank_ == 0) {
    std::vector<bool> arrived(static_cast<size_t>(size_), false);
    arrived[0] = true;
    int64_t best = value;
    for (int i = 1; i < size_; ++i) {
      const Message m = receive(control_.get(), {{kAnySource, up_tag}}, deadline, [&] {
        std::vector<int> missing;
        for (int r = 1; r < size_; ++r)
          if (!arrived[static_cast<size_t>(r)]) missing.push_back(r);
        return detail::missing_ranks_text(missing, what, deadline.seconds());
      });
      MESL_CHECK(m.data.size() == 8 && !arrived[static_cast<size_t>(m.source)], CommError, "rank ", m.source,
                 " sent a malformed message for ", what, " (do all ranks run the same program?)");
      arrived[static_cast<size_t>(m.source)] = true;
      best = std::max(best, decode_i64(m.data));
    }
    const std::vector<uint8_t> answer = encode_i64(best);
    for (int r = 1; r < size_; ++r)
      send_framed(control_.get(), r, down_tag, answer.data(), answer.size(), deadline,
                  [&] { return detail::not_taken_text(r, down_tag, answer.size(), deadline.seconds(), rank_); });
    return best;
  }
  const std::vector<uint8_t> mine = encode_i64(value);
  send_framed(control_.get(), 0, up_tag, mine.data(), mine.size(), deadline,
              [&] { return detail::not_taken_text(0, up_tag, mine.size(), deadline.seconds(), rank_); });
  const Message m = receive(control_.get(), {{0, down_tag}}, deadline, [&] {
    return "rank 0 did not answer within " + detail::seconds_text(deadline.seconds()) + " (rank " +
           std::to_string(rank_) + " was waiting in " + what + ")";
  });
  MESL_CHECK(m.data.size() == 8, CommError, "rank 0 sent a malformed answer for ", what,
             " (do all ranks run the same program?)");
  return decode_i64(m.data);
}

void MpiTransport::abort_all(const std::string& reason) {
  // Best effort, never throws (it runs on error paths), and returns within kAbortGraceSeconds even when a peer
  // is dead. The text stays alive until the process ends: a send to a dead peer may never complete.
  auto& text = buffers_kept_for_mpi().emplace_back(reason.begin(), reason.begin() + static_cast<std::ptrdiff_t>(
                                                                                      std::min(reason.size(), kMaxAbortReason)));
  std::vector<MPI_Request> requests;
  for (int r = 0; r < size_; ++r) {
    if (r == rank_) continue;
    MPI_Request request = MPI_REQUEST_NULL;
    if (MPI_Isend(text.data(), static_cast<int>(text.size()), MPI_CHAR, r, kAbortTag, control_.get(), &request) ==
        MPI_SUCCESS)
      requests.push_back(request);
  }
  bells_->ring_all();
  const Deadline deadline{Timeout{kAbortGraceSeconds}};
  detail::Backoff backoff;
  for (;;) {
    int flag = 0;
    const int rc = MPI_Testall(static_cast<int>(requests.size()), requests.data(), &flag, MPI_STATUSES_IGNORE);
    if (rc != MPI_SUCCESS || flag || deadline.passed()) break;
    backoff.sleep(deadline);
  }
  abandon(requests);
}

}  // namespace

std::unique_ptr<Transport> make_mpi_transport() { return std::make_unique<MpiTransport>(); }

}  // namespace mesl::comm
