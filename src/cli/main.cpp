// The `mesl` executable: dispatches to a subcommand and turns every failure into one line on stderr and an exit
// code (2: bad usage or configuration; 1: anything else), never a raw exception trace.
#include <c10/util/Exception.h>

#include <cstring>
#include <iostream>
#include <string>

#include "cli_util.h"
#include "commands.h"
#include "mesl/error.h"
#include "mesl/util/allocator.h"
#include "mesl/util/heap_allocator.h"
#include "mesl/version.h"

namespace {

const char* kUsage =
    "mesl: communication-efficient split learning on MPI\n"
    "usage: mesl <command> [options]     (mesl <command> --help)\n"
    "commands:\n"
    "  train    run split learning: mpirun -np N+1 mesl train [options]\n"
    "  codec    activation codecs: roundtrip | encode | decode | bench | plan\n"
    "  errors   compression error of every codec on real cut-layer activations\n"
    "  version  print the version\n";

}  // namespace

int main(int argc, char** argv) {
  mesl::keep_freed_memory();
  mesl::install_heap_allocator();
  if (argc < 2) {
    std::cerr << kUsage;
    return 2;
  }
  const std::string command = argv[1];
  try {
    if (command == "codec") return mesl::cli::codec_command(argc - 1, argv + 1);
    if (command == "train") return mesl::cli::train_command(argc - 1, argv + 1);
    if (command == "errors") return mesl::cli::errors_command(argc - 1, argv + 1);
    if (command == "version" || command == "--version") {
      std::cout << "mesl " << mesl::kVersion << std::endl;
      return 0;
    }
    if (command == "help" || command == "--help" || command == "-h") {
      std::cout << kUsage;
      return 0;
    }
    mesl::cli::print_error("unknown command '" + command + "'; choose train, codec, errors or version");
    return 2;
  } catch (const mesl::ConfigError& e) {
    mesl::cli::print_error(e.what());
    return 2;
  } catch (const mesl::Error& e) {
    mesl::cli::print_error(e.what());
    return 1;
  } catch (const c10::Error& e) {
    mesl::cli::print_error(std::string("LibTorch: ") + e.what_without_backtrace());
    return 1;
  } catch (const std::bad_alloc&) {
    mesl::cli::print_error("out of memory");
    return 1;
  } catch (const std::exception& e) {
    mesl::cli::print_error(e.what());
    return 1;
  }
}
