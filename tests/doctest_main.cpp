// The one main() shared by every unit-test executable. Like the mesl executable, it keeps freed memory in the
// process (see src/cli/main.cpp): LibTorch's per-operation allocations otherwise page-fault on every call.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>
#include <malloc.h>

int main(int argc, char** argv) {
  mallopt(M_MMAP_THRESHOLD, 512 * 1024 * 1024);
  mallopt(M_TRIM_THRESHOLD, 1024 * 1024 * 1024);
  mallopt(M_TOP_PAD, 64 * 1024 * 1024);
  return doctest::Context(argc, argv).run();
}
