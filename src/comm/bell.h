#pragma once
// Doorbells: how a rank that sleeps between polls is woken at once when a peer on the same node sends to it.
//
// The MPI backend never blocks inside MPI (Open MPI's blocking calls spin a core), so a waiting rank sleeps and
// polls, and a message that arrives during a sleep waits for the sleep to end: 0.2-0.3 ms per message on this
// project's VM even with planned waits (docs/transport.md). Ranks on one node share a small memory segment with
// one Bell per rank. A sender rings the receiver's bell after posting a message; a waiting rank sleeps on its
// own bell (a futex) rather than in nanosleep, so a ring ends the sleep. The polls stay as they were: a bell
// only ever shortens a sleep, so a lost or missing ring (a peer on another node) costs nothing but the latency
// of the plain polls.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "mpi_call.h"  // mpi.h, C API only

namespace mesl::comm::detail {

// One rank's bell. `rings` counts rings (the futex word); `sleepers` says whether anyone sleeps on it, so that a
// ring of a rank that is busy computing costs an atomic add and no system call.
struct Bell {
  std::atomic<uint32_t> rings{0};
  std::atomic<uint32_t> sleepers{0};
};
static_assert(std::atomic<uint32_t>::is_always_lock_free, "a bell shared between processes must be lock-free");

// The ring count to pass to sleep_on(): read it before polling, so that a ring between the poll and the sleep
// ends the sleep at once instead of being missed.
inline uint32_t seen(const Bell& bell) { return bell.rings.load(std::memory_order_seq_cst); }
// Sleeps until `until`, or until the bell has been rung since `seen` was read (at once if it has been already).
// Without futexes (not Linux) it sleeps until `until`.
void sleep_on(Bell& bell, uint32_t seen, std::chrono::steady_clock::time_point until);
// Rings the bell: the rank sleeping on it (if any) wakes.
void ring(Bell& bell);

// The bells of the ranks on this node, in a POSIX shared-memory segment that exists only while the ranks map
// it (its name is removed as soon as every rank has opened it, so a crashed job leaves nothing in /dev/shm).
// Collective over `comm` (every rank constructs it); `node` holds the ranks of `comm` on this node (the caller's
// MPI_Comm_split_type(MPI_COMM_TYPE_SHARED), which it may free afterwards). Where a node cannot share memory, or
// MESL_MPI_BELLS=0, its ranks go without bells: mine() is null, ring() does nothing, and waits sleep as before.
class NodeBells {
 public:
  NodeBells(MPI_Comm comm, MPI_Comm node);
  ~NodeBells();
  NodeBells(const NodeBells&) = delete;
  NodeBells& operator=(const NodeBells&) = delete;
  Bell* mine() const { return mine_; }
  // Rings rank `peer` of `comm` if it shares this node's bells; a no-op for ranks on other nodes.
  void ring(int peer) const;
  void ring_all() const;

 private:
  void* base_ = nullptr;
  size_t bytes_ = 0;
  Bell* mine_ = nullptr;
  std::vector<Bell*> by_rank_;  // rank of `comm` -> its bell, null off this node
};

}  // namespace mesl::comm::detail
