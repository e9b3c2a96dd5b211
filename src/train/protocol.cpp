#include "protocol.h"

#include <cstring>

#include "mesl/error.h"

namespace mesl::train {
namespace {

class Writer {
 public:
  template <typename T>
  Writer& put(T v) {
    const auto at = out.size();
    out.resize(at + sizeof(T));
    std::memcpy(out.data() + at, &v, sizeof(T));
    return *this;
  }
  Writer& bytes(const void* p, size_t n) {
    const auto at = out.size();
    out.resize(at + n);
    if (n) std::memcpy(out.data() + at, p, n);
    return *this;
  }
  std::vector<uint8_t> out;
};

class Reader {
 public:
  Reader(const std::vector<uint8_t>& in, const char* what) : in_(in), what_(what) {}
  template <typename T>
  T get() {
    need(sizeof(T));
    T v;
    std::memcpy(&v, in_.data() + at_, sizeof(T));
    at_ += sizeof(T);
    return v;
  }
  void copy(void* p, size_t n) {
    need(n);
    if (n) std::memcpy(p, in_.data() + at_, n);
    at_ += n;
  }
  size_t left() const { return in_.size() - at_; }
  void done() const {
    MESL_CHECK(at_ == in_.size(), CommError, "a ", what_, " message has ", in_.size() - at_,
               " unexpected trailing bytes: the ranks run different mesl versions");
  }

 private:
  void need(size_t n) const {
    MESL_CHECK(at_ + n <= in_.size(), CommError, "a ", what_,
               " message is truncated: the ranks run different mesl versions");
  }
  const std::vector<uint8_t>& in_;
  const char* what_;
  size_t at_ = 0;
};

}  // namespace

std::vector<uint8_t> Control::serialize() const {
  Writer w;
  w.put(static_cast<uint32_t>(type)).put(client).put(peer).put(epoch).put(round).put(steps).put(begin).put(end);
  w.put(value).put(flags);
  w.put(static_cast<uint64_t>(extra.size())).bytes(extra.data(), extra.size());
  return std::move(w.out);
}

Control Control::parse(const std::vector<uint8_t>& bytes) {
  Reader r(bytes, "control");
  Control c;
  c.type = static_cast<ControlType>(r.get<uint32_t>());
  c.client = r.get<int64_t>();
  c.peer = r.get<int64_t>();
  c.epoch = r.get<int64_t>();
  c.round = r.get<int64_t>();
  c.steps = r.get<int64_t>();
  c.begin = r.get<int64_t>();
  c.end = r.get<int64_t>();
  c.value = r.get<int64_t>();
  c.flags = r.get<int64_t>();
  const auto n = r.get<uint64_t>();
  MESL_CHECK(n == r.left(), CommError, "a control message is malformed: the ranks run different mesl versions");
  c.extra.resize(n);
  r.copy(c.extra.data(), n);
  r.done();
  return c;
}

std::vector<uint8_t> StepHeader::serialize() const {
  Writer w;
  w.put(static_cast<uint32_t>(kind)).put(client).put(epoch).put(round).put(batch_size).put(forward_s).put(encode_s);
  w.put(rel_error);
  w.put(static_cast<uint64_t>(labels.size())).bytes(labels.data(), labels.size() * sizeof(int32_t));
  return std::move(w.out);
}

StepHeader StepHeader::parse(const std::vector<uint8_t>& bytes) {
  Reader r(bytes, "step header");
  StepHeader h;
  h.kind = static_cast<StepKind>(r.get<uint32_t>());
  h.client = r.get<int64_t>();
  h.epoch = r.get<int64_t>();
  h.round = r.get<int64_t>();
  h.batch_size = r.get<int64_t>();
  h.forward_s = r.get<double>();
  h.encode_s = r.get<double>();
  h.rel_error = r.get<double>();
  const auto n = r.get<uint64_t>();
  MESL_CHECK(n * sizeof(int32_t) == r.left(), CommError,
             "a step header is malformed: the ranks run different mesl versions");
  h.labels.resize(n);
  r.copy(h.labels.data(), n * sizeof(int32_t));
  r.done();
  return h;
}

std::vector<uint8_t> StepDone::serialize() const {
  Writer w;
  w.put(decode_s).put(backward_s).put(blocked_s);
  return std::move(w.out);
}

StepDone StepDone::parse(const std::vector<uint8_t>& bytes) {
  Reader r(bytes, "step-done");
  StepDone d;
  d.decode_s = r.get<double>();
  d.backward_s = r.get<double>();
  d.blocked_s = r.get<double>();
  r.done();
  return d;
}

}  // namespace mesl::train
