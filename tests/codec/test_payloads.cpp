// The decoder against malformed payloads: every truncation, every flipped header byte, oversized payloads,
// impossible headers and corrupted bodies give a clean PayloadError (or, for a body corruption that breaks no
// rule, a tensor of the right shape), never a crash or an out-of-bounds access (the sanitizer build checks that).
// And the vector kernels, which load and store 8 or 16 lanes at a time, touch nothing past the input or the
// payload (checked in every build with a page that faults).
#include <doctest/doctest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>

#include "codec_test_util.h"
#include "mesl/codec/codec.h"
#include "mesl/codec/wire.h"
#include "mesl/error.h"

using namespace mesl::codec;
using mesl::codec::test::make_input;

namespace {

// One valid payload of every method and variant.
std::vector<std::vector<uint8_t>> valid_payloads() {
  const at::Tensor relu = make_input({3, 4, 5}, "relu", 91);
  const at::Tensor normal = make_input({3, 4, 5}, "normal", 92);
  std::vector<std::vector<uint8_t>> out;
  for (Method m : {Method::identity, Method::fp16, Method::bf16}) out.push_back(Codec(CodecOptions(m)).encode(normal));
  out.push_back(Codec(CodecOptions(Method::qu).bits(3)).encode(normal));
  out.push_back(Codec(CodecOptions(Method::qu).bits(13)).encode(normal));
  for (Method m : {Method::sp, Method::rt})
    for (Positions p : {Positions::bitmap, Positions::kv})
      for (Scope s : {Scope::batch, Scope::sample})
        out.push_back(Codec(CodecOptions(m).keep(0.2).positions(p).scope(s)).encode(normal));
  for (Scope s : {Scope::batch, Scope::sample}) {
    out.push_back(Codec(CodecOptions(Method::ms).keep(0.2).bits(2).scope(s)).encode(relu));
    out.push_back(Codec(CodecOptions(Method::ms).keep(0.2).bits(3).scope(s).sign(Sign::signed_values)).encode(normal));
    out.push_back(Codec(CodecOptions(Method::ms).keep(0.1).bits(7).scope(s)).encode(relu));
  }
  return out;
}

// `size` bytes that end where an inaccessible page begins: touching the byte after them faults (SIGSEGV), so a
// test that runs to its end read and wrote nothing there.
class BytesBeforeGuardPage {
 public:
  explicit BytesBeforeGuardPage(size_t size) {
    const auto page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    span_ = (size + page - 1) / page * page + page;
    void* base = mmap(nullptr, span_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE(base != MAP_FAILED);
    base_ = static_cast<uint8_t*>(base);
    REQUIRE(mprotect(base_ + span_ - page, page, PROT_NONE) == 0);
    data_ = base_ + span_ - page - size;
  }
  ~BytesBeforeGuardPage() { munmap(base_, span_); }
  BytesBeforeGuardPage(const BytesBeforeGuardPage&) = delete;
  BytesBeforeGuardPage& operator=(const BytesBeforeGuardPage&) = delete;
  uint8_t* data() { return data_; }

 private:
  uint8_t* base_ = nullptr;
  uint8_t* data_ = nullptr;
  size_t span_ = 0;
};

void expect_refused(const std::vector<uint8_t>& bytes) {
  for (Impl impl : {Impl::fast, Impl::reference}) {
    CHECK_THROWS_AS(decode(bytes, DecodeOptions().impl(impl)), mesl::PayloadError);
  }
}

}  // namespace

TEST_CASE("every truncation of a valid payload is refused") {
  for (const auto& payload : valid_payloads()) {
    CHECK_NOTHROW(decode(payload));
    for (size_t n = 0; n < payload.size(); ++n) {
      CAPTURE(n);
      std::vector<uint8_t> cut(payload.begin(), payload.begin() + static_cast<std::ptrdiff_t>(n));
      CHECK_THROWS_AS(decode(cut), mesl::PayloadError);
    }
  }
}

TEST_CASE("oversized payloads are refused") {
  for (auto payload : valid_payloads()) {
    payload.push_back(0);
    expect_refused(payload);
  }
}

TEST_CASE("every flipped header byte is refused (the header carries a CRC-32)") {
  for (const auto& payload : valid_payloads()) {
    const Header h = read_header(payload.data(), payload.size());
    for (size_t i = 0; i < header_bytes(h); ++i) {
      for (uint8_t flip : {uint8_t{0x01}, uint8_t{0x80}, uint8_t{0xFF}}) {
        auto bad = payload;
        bad[i] ^= flip;
        CAPTURE(i);
        CHECK_THROWS_AS(decode(bad), mesl::PayloadError);
      }
    }
  }
}

TEST_CASE("impossible headers with a valid checksum are refused with a reason") {
  const at::Tensor x = make_input({4, 8}, "relu", 93);
  const auto good = Codec(CodecOptions(Method::ms).k(3).bits(2)).encode(x);
  const Header base = read_header(good.data(), good.size());
  // Re-serialise a modified header (with a fresh checksum) in front of the original body.
  auto forge = [&](auto&& edit) {
    Header h = base;
    edit(h);
    std::vector<uint8_t> out(header_bytes(h));
    write_header(h, out.data());
    out.insert(out.end(), good.begin() + static_cast<std::ptrdiff_t>(header_bytes(base)), good.end());
    return out;
  };
  auto reason = [](const std::vector<uint8_t>& bytes) {
    try {
      decode(bytes);
    } catch (const mesl::PayloadError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  CHECK(reason(forge([](Header& h) { h.k = 33; })).find("larger than") != std::string::npos);
  CHECK(reason(forge([](Header& h) { h.bits = 9; })).find("outside 1..8") != std::string::npos);
  CHECK(reason(forge([](Header& h) { h.bits = 0; })).find("outside 1..8") != std::string::npos);
  CHECK(reason(forge([](Header& h) { h.shape = {4, 9}; })).find("product") != std::string::npos);
  CHECK(reason(forge([](Header& h) { h.d = 40; h.shape = {4, 10}; })).find("bytes") != std::string::npos);
  CHECK(reason(forge([](Header& h) { h.k = 4; })).find("describes") != std::string::npos);  // body size changes
  CHECK(reason(forge([](Header& h) { h.d = int64_t{1} << 40; h.shape = {int64_t{1} << 40}; })).find("limit") !=
        std::string::npos);
  // More reserved codes than kept values: claim 2 kept values and drop one from the body.
  auto fewer = forge([](Header& h) { h.k = 2; });
  fewer.resize(fewer.size() - 4);
  CHECK(reason(fewer).find("marks 3 kept positions") != std::string::npos);
  CHECK(reason(std::vector<uint8_t>{'N', 'O', 'P', 'E'}).find("truncated") != std::string::npos);
  std::vector<uint8_t> bad_magic = good;
  bad_magic[0] = 'X';
  CHECK(reason(bad_magic).find("magic") != std::string::npos);
  std::vector<uint8_t> future = forge([](Header&) {});
  future[4] = 2;  // version 2, then fix the checksum
  const size_t crc_at = header_bytes(base) - 4;
  const uint32_t crc = crc32(future.data(), crc_at);
  std::memcpy(future.data() + crc_at, &crc, 4);
  CHECK(reason(future).find("version 2") != std::string::npos);
}

TEST_CASE("random corruption of payload bodies never crashes") {
  uint64_t state = 12345;
  auto next = [&state] {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return state >> 33;
  };
  int refused = 0, decoded = 0;
  for (const auto& payload : valid_payloads()) {
    const Header h = read_header(payload.data(), payload.size());
    const size_t start = header_bytes(h);
    if (payload.size() == start) continue;
    for (int trial = 0; trial < 60; ++trial) {
      auto bad = payload;
      for (int flips = 0; flips < 1 + trial % 3; ++flips) bad[start + next() % (bad.size() - start)] ^= 1u << (next() % 8);
      for (Impl impl : {Impl::fast, Impl::reference}) {
        try {
          const at::Tensor x = decode(bad, DecodeOptions().impl(impl));
          CHECK(x.numel() == h.d);
          ++decoded;
        } catch (const mesl::PayloadError&) {
          ++refused;
        }
      }
    }
  }
  CHECK(refused > 0);
  CHECK(decoded > 0);
}

TEST_CASE("a signed ms code of magnitude L without the sign bit is refused wherever it lies") {
  // 203 elements: 25 whole groups of 8 codes and a tail of 3, so both the group and the element paths are hit.
  const at::Tensor x = make_input({7, 29}, "normal", 93);
  for (int b : {2, 3, 4, 8}) {
    const auto payload = Codec(CodecOptions(Method::ms).keep(0.1).bits(b).sign(Sign::signed_values)).encode(x);
    const Header h = read_header(payload.data(), payload.size());
    const size_t start = header_bytes(h);
    const uint32_t invalid = (1u << (b - 1)) - 1, reserved = (1u << b) - 1;
    auto code_at = [&](const std::vector<uint8_t>& p, int64_t i) {
      uint32_t c = 0;
      for (int j = 0; j < b; ++j) c |= ((p[start + (i * b + j) / 8] >> ((i * b + j) % 8)) & 1u) << j;
      return c;
    };
    int tried = 0;
    for (int64_t i = 0; i < h.d; i += 5) {
      if (code_at(payload, i) == reserved) continue;  // keep the kept count right: only the code is wrong
      auto bad = payload;
      for (int j = 0; j < b; ++j) {
        uint8_t& byte = bad[start + (i * b + j) / 8];
        const int bit = (i * b + j) % 8;
        byte = static_cast<uint8_t>((byte & ~(1u << bit)) | (((invalid >> j) & 1u) << bit));
      }
      REQUIRE(code_at(bad, i) == invalid);
      CAPTURE(b);
      CAPTURE(i);
      for (Impl impl : {Impl::fast, Impl::reference})
        CHECK_THROWS_WITH_AS(decode(bad, DecodeOptions().impl(impl)), doctest::Contains("invalid"), mesl::PayloadError);
      ++tried;
    }
    CHECK(tried > 30);
  }
}

TEST_CASE("the kernels read nothing past the input and nothing past the payload") {
  // Kept values are the last section of a payload: the vector decoders load 8 of them at a time and must stop
  // before the end. Dense settings (1 kept value in 10 and in 3) take the lane-permute loops; a 2-thread encode
  // of the larger shape runs two chunks, whose kept values meet in the middle of the payload.
  mesl::codec::test::for_each_kernel_isa([] {
    uint64_t seed = 700;
    for (const std::vector<int64_t>& shape : {std::vector<int64_t>{3, 1001}, {4, 64, 32, 32}}) {
      const at::Tensor x = make_input(shape, "relu", seed++);
      BytesBeforeGuardPage input(static_cast<size_t>(x.numel()) * sizeof(float));
      std::memcpy(input.data(), x.data_ptr<float>(), static_cast<size_t>(x.numel()) * sizeof(float));
      const at::Tensor guarded_x = at::from_blob(input.data(), shape, at::kFloat);
      for (double keep : {0.1, 0.3}) {
        std::vector<CodecOptions> settings;
        for (int b : {1, 2, 3, 5}) settings.push_back(CodecOptions(Method::ms).keep(keep).bits(b));
        for (Method m : {Method::sp, Method::rt})
          for (Positions p : {Positions::bitmap, Positions::kv})
            settings.push_back(CodecOptions(m).keep(keep).positions(p));
        settings.push_back(CodecOptions(Method::qu).bits(2));
        for (const CodecOptions& base : settings) {
          for (Scope s : {Scope::batch, Scope::sample}) {
            const CodecOptions o = is_sparse(base.method()) ? CodecOptions(base).scope(s) : base;
            CAPTURE(to_spec(o));
            for (int threads : {1, 2}) {
              CAPTURE(threads);
              const std::vector<uint8_t> payload = Codec(CodecOptions(o).threads(threads)).encode(x);
              REQUIRE(Codec(CodecOptions(o).threads(threads)).encode(guarded_x) == payload);
              BytesBeforeGuardPage bytes(payload.size());
              std::memcpy(bytes.data(), payload.data(), payload.size());
              const at::Tensor expected = decode(payload, DecodeOptions().impl(Impl::reference));
              CHECK(at::equal(decode(bytes.data(), payload.size(), DecodeOptions().threads(threads)), expected));
            }
          }
        }
      }
    }
  });
}
