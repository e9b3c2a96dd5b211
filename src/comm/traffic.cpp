#include "mesl/comm/traffic.h"

#include <cmath>
#include <cstring>

#include "mesl/error.h"

namespace mesl::comm {
namespace {

size_t index_of(Direction d) {
  const int i = static_cast<int>(d);
  MESL_CHECK(i >= 0 && i < kDirections, CommError, "unknown traffic direction ", i, ": directions are 0..",
             kDirections - 1);
  return static_cast<size_t>(i);
}

// Little-endian by hand, so that the record reads the same on every host whatever its byte order.
void put_u64(std::vector<uint8_t>& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
uint64_t get_u64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}
uint64_t double_bits(double d) {
  uint64_t bits;
  std::memcpy(&bits, &d, sizeof bits);
  return bits;
}
double bits_double(uint64_t bits) {
  double d;
  std::memcpy(&d, &bits, sizeof d);
  return d;
}

}  // namespace

std::string to_string(Direction d) {
  switch (d) {
    case Direction::fwd: return "fwd";
    case Direction::bwd: return "bwd";
    case Direction::model: return "model";
    case Direction::control: return "control";
    case Direction::eval_fwd: return "eval_fwd";
  }
  return "direction(" + std::to_string(static_cast<int>(d)) + ")";
}

void Traffic::count(Direction d, uint64_t bytes, uint64_t header_bytes) {
  MESL_CHECK(header_bytes <= bytes, CommError, "a ", to_string(d), " message of ", bytes, " bytes cannot hold ",
             header_bytes, " header bytes");
  DirectionTotals& t = totals_[index_of(d)];
  t.messages += 1;
  t.bytes += static_cast<int64_t>(bytes);
  t.header_bytes += static_cast<int64_t>(header_bytes);
  t.link_s = link_.seconds(t.messages, t.bytes);
}

void Traffic::merge(const Traffic& other) {
  for (size_t i = 0; i < totals_.size(); ++i) {
    totals_[i].messages += other.totals_[i].messages;
    totals_[i].bytes += other.totals_[i].bytes;
    totals_[i].header_bytes += other.totals_[i].header_bytes;
    totals_[i].link_s = link_.seconds(totals_[i].messages, totals_[i].bytes);
  }
}

double Traffic::link_s() const {
  double sum = 0;
  for (const auto& t : totals_) sum += t.link_s;
  return sum;
}

std::vector<uint8_t> Traffic::serialize() const {
  std::vector<uint8_t> out;
  out.reserve(kSerializedBytes);
  for (const auto& t : totals_) {
    put_u64(out, static_cast<uint64_t>(t.messages));
    put_u64(out, static_cast<uint64_t>(t.bytes));
    put_u64(out, static_cast<uint64_t>(t.header_bytes));
    put_u64(out, double_bits(t.link_s));
  }
  return out;
}

Traffic Traffic::deserialize(const uint8_t* data, size_t size, LinkModel link) {
  MESL_CHECK(size == kSerializedBytes, CommError, "a traffic record has ", kSerializedBytes, " bytes; got ", size,
             " (do all ranks run the same mesl build?)");
  Traffic traffic(link);
  for (size_t i = 0; i < traffic.totals_.size(); ++i) {
    const uint8_t* p = data + i * 32;
    DirectionTotals& t = traffic.totals_[i];
    t.messages = static_cast<int64_t>(get_u64(p));
    t.bytes = static_cast<int64_t>(get_u64(p + 8));
    t.header_bytes = static_cast<int64_t>(get_u64(p + 16));
    t.link_s = bits_double(get_u64(p + 24));
    MESL_CHECK(t.messages >= 0 && t.bytes >= 0 && t.header_bytes >= 0 && t.header_bytes <= t.bytes &&
                   std::isfinite(t.link_s) && t.link_s >= 0,
               CommError, "the traffic record for direction ", to_string(static_cast<Direction>(i)),
               " is corrupt (negative or impossible counts)");
  }
  return traffic;
}

}  // namespace mesl::comm
