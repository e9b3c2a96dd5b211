#pragma once
// The properties the decode fuzzer checks on every input, shared by the libFuzzer entry point (fuzz_decode.cpp)
// and the corpus replayer that runs in ordinary builds (replay_main.cpp).
//
// For the bytes as given, and again with the header checksum repaired (so that mutations get past the CRC-32 and
// reach the body checks), mesl::codec::decode with the fast and with the reference implementation must
//   - either refuse with mesl::PayloadError and a one-line message starting "payload refused: ", or
//   - return a tensor of exactly the header's shape and dtype;
// and both implementations must agree: both refuse, or both return the same values (NaN where the other has NaN).
// Any other exception, a disagreement, or a sanitizer report is a finding: check_decode prints what went wrong and
// aborts, which libFuzzer records as a crash with the input that caused it.
#include <cstddef>
#include <cstdint>

namespace mesl::fuzz {

// Elements a fuzzed header may describe. Far below the decoder's default limit (2^28), so that one input cannot
// make the reference implementation (which expands code streams to int64 tensors) allocate gigabytes, yet above
// the 2 x 64K elements at which the fast decoder splits its work into parallel chunks.
inline constexpr int64_t kFuzzMaxElements = int64_t{1} << 20;

// Runs the checks above on one input. Returns normally when every property holds.
void check_decode(const uint8_t* data, size_t size);

// Once per process: single-threaded LibTorch would never reach the fast decoder's chunked paths, so use 2 threads.
void init_decode_check();

}  // namespace mesl::fuzz
