# MESL_FUZZ=ON: a clang build for the libFuzzer targets in tests/fuzz (docs/reliability.md).
#
#   CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMESL_FUZZ=ON
#   ninja -C build-fuzz fuzz_decode && (cd build-fuzz && ctest -L fuzz --output-on-failure)
#
# Every target of such a build is compiled with coverage instrumentation, AddressSanitizer and
# UndefinedBehaviorSanitizer, not just the fuzzer: libFuzzer needs coverage from the code under test (the codec
# library), and one set of flags for every target keeps the shared precompiled header usable. Executables other
# than the fuzzers link the sanitizer runtimes, whose weak no-op coverage callbacks satisfy the instrumentation.
# LibTorch comes from Debian and is built with GCC; clang links against it through the same C++ ABI
# (libstdc++, _GLIBCXX_USE_CXX11_ABI=1). The library itself is not instrumented.
if(NOT MESL_FUZZ)
  return()
endif()
if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "MESL_FUZZ=ON needs clang (libFuzzer); configure a fresh build directory with "
                      "CC=clang CXX=clang++ (Debian: apt-get install clang libclang-rt-dev)")
endif()
if(MESL_SANITIZE)
  message(FATAL_ERROR "MESL_FUZZ=ON already builds with ASan and UBSan; leave MESL_SANITIZE off")
endif()

set(MESL_FUZZ_FLAGS -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
    -fno-omit-frame-pointer)
include(CheckCXXSourceCompiles)
set(CMAKE_REQUIRED_FLAGS "-fsanitize=fuzzer,address,undefined")
set(CMAKE_REQUIRED_LINK_OPTIONS "-fsanitize=fuzzer,address,undefined")
check_cxx_source_compiles([=[
#include <cstddef>
#include <cstdint>
extern "C" int LLVMFuzzerTestOneInput(const uint8_t*, size_t) { return 0; }
]=] MESL_HAVE_LIBFUZZER)
unset(CMAKE_REQUIRED_FLAGS)
unset(CMAKE_REQUIRED_LINK_OPTIONS)
if(NOT MESL_HAVE_LIBFUZZER)
  message(FATAL_ERROR "clang cannot link -fsanitize=fuzzer,address,undefined here; install the compiler-rt "
                      "runtimes (Debian: apt-get install libclang-rt-dev)")
endif()

# Directory-wide, so that every target (and the precompiled header) is built the same way.
add_compile_options(${MESL_FUZZ_FLAGS})
add_link_options(-fsanitize=address,undefined)
# How long the CTest test `fuzz.decode` fuzzes (seconds).
set(MESL_FUZZ_SECONDS 60 CACHE STRING "Seconds the fuzz.decode test runs the decode fuzzer")
