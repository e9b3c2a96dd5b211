#include "bell.h"

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>
#include <thread>

#if defined(__linux__)
#include <fcntl.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace mesl::comm::detail {
namespace {

constexpr size_t kBellStride = 64;  // one cache line per rank: a ring does not disturb the neighbours' lines
static_assert(sizeof(Bell) <= kBellStride);

bool bells_wanted() {
  const char* text = std::getenv("MESL_MPI_BELLS");
  return text == nullptr || std::string(text) != "0";
}

#if defined(__linux__)
uint32_t* futex_word(Bell& bell) { return reinterpret_cast<uint32_t*>(&bell.rings); }
#endif

}  // namespace

void sleep_on(Bell& bell, uint32_t seen, std::chrono::steady_clock::time_point until) {
#if defined(__linux__)
  bell.sleepers.fetch_add(1, std::memory_order_seq_cst);
  // A ring after `seen` was read either sees sleepers > 0 and wakes the futex, or came before the increment
  // above, in which case the futex finds the count changed and returns at once (seq_cst orders the two).
  for (;;) {
    const auto left = until - std::chrono::steady_clock::now();
    if (left <= decltype(left)::zero() || bell.rings.load(std::memory_order_seq_cst) != seen) break;
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
    timespec timeout{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
    // Shared (not FUTEX_PRIVATE): the word lives in memory mapped by several processes.
    if (syscall(SYS_futex, futex_word(bell), FUTEX_WAIT, seen, &timeout, nullptr, 0) == 0) break;  // woken
    // EAGAIN (rung meanwhile) and ETIMEDOUT end the loop at its top; EINTR sleeps on.
  }
  bell.sleepers.fetch_sub(1, std::memory_order_seq_cst);
#else
  (void)bell;
  (void)seen;
  std::this_thread::sleep_until(until);
#endif
}

void ring(Bell& bell) {
  bell.rings.fetch_add(1, std::memory_order_seq_cst);
#if defined(__linux__)
  if (bell.sleepers.load(std::memory_order_seq_cst) > 0)
    syscall(SYS_futex, futex_word(bell), FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
#endif
}

NodeBells::NodeBells(MPI_Comm comm, MPI_Comm node) {
  int size = 0;
  int rank = 0;
  MPI_Comm_size(comm, &size);
  MPI_Comm_rank(comm, &rank);
  by_rank_.assign(static_cast<size_t>(size), nullptr);
#if !defined(__linux__)
  (void)node;
#else
  int node_size = 0;
  int node_rank = 0;
  MPI_Comm_size(node, &node_size);
  MPI_Comm_rank(node, &node_rank);
  std::vector<int> ranks(static_cast<size_t>(node_size));  // node rank -> rank of `comm`
  int ok = MPI_Allgather(&rank, 1, MPI_INT, ranks.data(), 1, MPI_INT, node) == MPI_SUCCESS;
  // Node rank 0 creates the segment and names it; every rank maps it; then the name goes.
  char name[64] = {};
  bytes_ = static_cast<size_t>(node_size) * kBellStride;
  int fd = -1;
  if (node_rank == 0 && ok && bells_wanted() && node_size > 1) {
    std::snprintf(name, sizeof name, "/mesl-bells-%ld-%d", static_cast<long>(getpid()), rank);
    fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
    if (fd >= 0 && ftruncate(fd, static_cast<off_t>(bytes_)) != 0) {
      close(fd);
      shm_unlink(name);
      fd = -1;
    }
    if (fd < 0) name[0] = '\0';
  }
  MPI_Bcast(name, sizeof name, MPI_CHAR, 0, node);
  if (name[0] != '\0' && node_rank != 0) fd = shm_open(name, O_RDWR, 0600);
  if (fd >= 0) {
    base_ = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (base_ == MAP_FAILED) base_ = nullptr;
  }
  // The bells are used only if every rank of the node mapped them; either way the name is removed.
  int mapped = base_ != nullptr;
  int all_mapped = 0;
  MPI_Allreduce(&mapped, &all_mapped, 1, MPI_INT, MPI_MIN, node);
  if (node_rank == 0 && name[0] != '\0') shm_unlink(name);
  if (!all_mapped) {
    if (base_ != nullptr) munmap(base_, bytes_);
    base_ = nullptr;
    return;
  }
  // The segment starts zero-filled, which is a Bell with no rings and no sleepers.
  auto* bytes = static_cast<unsigned char*>(base_);
  for (int r = 0; r < node_size; ++r)
    by_rank_[static_cast<size_t>(ranks[static_cast<size_t>(r)])] =
        std::launder(reinterpret_cast<Bell*>(bytes + static_cast<size_t>(r) * kBellStride));
  mine_ = by_rank_[static_cast<size_t>(rank)];
#endif
}

NodeBells::~NodeBells() {
#if defined(__linux__)
  if (base_ != nullptr) munmap(base_, bytes_);
#endif
}

void NodeBells::ring(int peer) const {
  if (peer < 0 || static_cast<size_t>(peer) >= by_rank_.size()) return;
  if (Bell* bell = by_rank_[static_cast<size_t>(peer)]) detail::ring(*bell);
}

void NodeBells::ring_all() const {
  for (Bell* bell : by_rank_)
    if (bell != nullptr && bell != mine_) detail::ring(*bell);
}

}  // namespace mesl::comm::detail
