// The `mesl` executable: dispatches to a subcommand and turns every failure into one line on stderr and an exit
// code (2: bad usage or configuration; 1: anything else), never a raw exception trace.
#include <c10/util/Exception.h>

#include <cstring>
#include <iostream>
#include <string>

#include "commands.h"
#include "mesl/error.h"
#include "mesl/util/allocator.h"
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

// The first line of a message (LibTorch errors carry a C++ backtrace after it).
std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

}  // namespace

int main(int argc, char** argv) {
  mesl::keep_freed_memory();
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
    std::cerr << "mesl: error: unknown command '" << command << "'; choose train, codec, errors or version\n";
    return 2;
  } catch (const mesl::ConfigError& e) {
    std::cerr << "mesl: error: " << first_line(e.what()) << std::endl;
    return 2;
  } catch (const mesl::Error& e) {
    std::cerr << "mesl: error: " << first_line(e.what()) << std::endl;
    return 1;
  } catch (const c10::Error& e) {
    std::cerr << "mesl: error: LibTorch: " << first_line(e.what_without_backtrace()) << std::endl;
    return 1;
  } catch (const std::bad_alloc&) {
    std::cerr << "mesl: error: out of memory" << std::endl;
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "mesl: error: " << first_line(e.what()) << std::endl;
    return 1;
  }
}
