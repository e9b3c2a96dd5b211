#pragma once
// Byte accounting and the link model. Every message that crosses a rank boundary is counted once, by the rank
// that sends it or by the server on the sender's behalf, by direction, and turned into simulated link seconds.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace mesl::comm {

// The directions of docs/transport.md, plus evaluation traffic (counted apart so that training traffic compares with
// the paper's Table 1).
enum class Direction : int { fwd = 0, bwd = 1, model = 2, control = 3, eval_fwd = 4 };
inline constexpr int kDirections = 5;
std::string to_string(Direction d);

// The simulated link (docs/transport.md: 100 Mbps by default, as in the paper): a message of B bytes takes
// latency + 8 B / bandwidth seconds.
struct LinkModel {
  double mbps = 100.0;
  double latency_ms = 0.0;
  double seconds(uint64_t bytes) const { return seconds(1, bytes); }
  // `messages` messages of `bytes` bytes in all: computed from the totals, so that the result does not depend on
  // the order in which the messages were counted (a sum of per-message doubles would, in its last bits).
  double seconds(int64_t messages, int64_t bytes) const {
    return static_cast<double>(messages) * latency_ms / 1e3 + 8.0 * static_cast<double>(bytes) / (mbps * 1e6);
  }
};

struct DirectionTotals {
  int64_t messages = 0;
  int64_t bytes = 0;
  int64_t header_bytes = 0;  // codec payload headers among the bytes
  double link_s = 0;          // LinkModel::seconds(messages, bytes)
};

class Traffic {
 public:
  explicit Traffic(LinkModel link = {}) : link_(link) {}
  void count(Direction d, uint64_t bytes, uint64_t header_bytes = 0);
  void merge(const Traffic& other);
  const DirectionTotals& operator[](Direction d) const { return totals_[static_cast<size_t>(d)]; }
  int64_t bytes(Direction d) const { return (*this)[d].bytes; }
  double link_s() const;  // all directions
  const LinkModel& link() const { return link_; }
  // Fixed-size binary form (to report counts between ranks) and back: for each direction in order, messages,
  // bytes, header_bytes (int64) and link_s (IEEE double), each 8 bytes little-endian. deserialize() refuses a
  // buffer of another size or with negative counts (CommError); link_s travels as computed by the sender.
  static constexpr size_t kSerializedBytes = kDirections * 4 * 8;
  std::vector<uint8_t> serialize() const;
  static Traffic deserialize(const uint8_t* data, size_t size, LinkModel link);

 private:
  LinkModel link_;
  std::array<DirectionTotals, kDirections> totals_{};
};

}  // namespace mesl::comm
