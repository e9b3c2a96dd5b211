// libFuzzer entry point over mesl::codec::decode (both implementations; the properties are in decode_check.h).
//   fuzz_decode -max_total_time=60 NEW_INPUTS_DIR tests/fuzz/corpus SEEDS_DIR
#include <cstddef>
#include <cstdint>

#include "decode_check.h"

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  mesl::fuzz::init_decode_check();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  mesl::fuzz::check_decode(data, size);
  return 0;
}
