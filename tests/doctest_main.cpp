// The one main() shared by every unit-test executable; like the mesl executable it keeps freed memory in the
// process (mesl/util/allocator.h).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "mesl/util/allocator.h"

int main(int argc, char** argv) {
  mesl::keep_freed_memory();
  return doctest::Context(argc, argv).run();
}
