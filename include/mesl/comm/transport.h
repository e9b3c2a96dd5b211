#pragma once
// Moving byte messages between ranks, apart from what the messages mean (the gloo pattern: a small transport
// interface, one backend per file, algorithms above it). Two backends: MPI point-to-point (mpi_transport.h) and an
// in-process hub where ranks are threads (inproc_transport.h), so that protocol logic is testable without mpirun.
//
// Contract (both backends):
// - Messages between one (source, destination) pair with the same tag arrive in the order they were sent.
// - send() returns when `data` may be reused; recv() returns a whole message.
// - No call spins on a core while it waits: waits poll with a growing sleep (tens of microseconds up to a
//   millisecond), so 11 ranks on 2 cores leave the cores to the ranks that compute.
// - A wait that is given a timeout throws TimeoutError naming the peer when nothing arrives in time. The timeout
//   bounds the wait for a message to begin arriving: one that has begun is received whole, however short the
//   timeout (a backend may bound the rest of the transfer by a longer limit of its own, for a sender that dies).
// - A message with tag kAbortTag, from any rank, interrupts every wait of its receiver: the wait throws
//   AbortedError carrying the text of the message. abort_all() sends it to every other rank.
// - All calls are made from one thread per rank.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mesl/error.h"

namespace mesl::comm {

inline constexpr int kAnySource = -1;
inline constexpr int kAnyTag = -1;
inline constexpr int kAbortTag = 999;  // reserved: user tags are 0..998

// Another rank stopped the job (the message says why, and which rank).
class AbortedError : public CommError {
 public:
  using CommError::CommError;
};

// A wait ran out of time: the peer (named in the message) died, hung or is slower than the timeout allows.
class TimeoutError : public CommError {
 public:
  using CommError::CommError;
};

struct Message {
  int source = -1;
  int tag = -1;
  std::vector<uint8_t> data;
};

// How long a wait may take; nullopt waits forever (a rank that dies still ends an MPI job: mpirun stops it).
using Timeout = std::optional<std::chrono::duration<double>>;

class Transport {
 public:
  virtual ~Transport() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;

  // Sends `bytes` bytes to rank `dest` (!= rank()) with `tag` (0..998). Returns when the buffer may be reused.
  virtual void send(int dest, int tag, const uint8_t* data, size_t bytes, Timeout timeout = std::nullopt) = 0;
  void send(int dest, int tag, const std::vector<uint8_t>& data, Timeout timeout = std::nullopt) {
    send(dest, tag, data.data(), data.size(), timeout);
  }
  // Receives the next message from `source` (or kAnySource) with `tag` (or kAnyTag among 0..998).
  virtual Message recv(int source, int tag, Timeout timeout = std::nullopt) = 0;
  // Receives the next message that matches any of the (source, tag) pairs, in the order the transport sees them.
  virtual Message recv_any_of(const std::vector<std::pair<int, int>>& patterns, Timeout timeout = std::nullopt) = 0;

  // Best effort: tells every other rank to stop with `reason` (they see AbortedError), without waiting long.
  virtual void abort_all(const std::string& reason) = 0;
  // Blocks until every rank reaches the barrier (polling, with the timeout rules above).
  virtual void barrier(Timeout timeout = std::nullopt) = 0;
  // Every rank contributes a value and gets the maximum (used to agree on errors during start-up).
  virtual int64_t all_max(int64_t value, Timeout timeout = std::nullopt) = 0;

  // Ranks sharing this rank's node, and this rank's index among them (to share cores and pick GPUs).
  virtual int local_size() const = 0;
  virtual int local_rank() const = 0;
  // Host name of every rank, by rank (gathered once at start-up).
  virtual const std::vector<std::string>& host_names() const = 0;
};

}  // namespace mesl::comm
