#pragma once
// Shared pieces of the command-line front end: option parsing that turns every cxxopts complaint into a one-line
// ConfigError, the codec options every subcommand accepts, and small parsers.
#include <cxxopts.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mesl/codec/options.h"

namespace mesl::cli {

// Prints "mesl: error: TEXT" (TEXT's first line) to stderr in one write(2). Under mpirun several ranks may fail at
// once and their stderr streams meet in one; a line written piece by piece (std::cerr is unbuffered) can be cut
// by another rank's line.
void print_error(const std::string& text);

// Parses argv. Returns nullopt after printing the help text when --help was given. Unknown options, missing
// values and values of the wrong type throw ConfigError naming the option and pointing at --help.
// `group_order` lists the option groups in the order --help shows them (default: cxxopts' alphabetical order).
std::optional<cxxopts::ParseResult> parse(cxxopts::Options& options, int argc, char** argv,
                                          const std::vector<std::string>& group_order = {});

// Requires an option that has no default; throws ConfigError "NAME needs --OPTION".
void require(const cxxopts::ParseResult& args, const std::string& command, const std::vector<std::string>& names);

// "256,64,32,32" -> {256, 64, 32, 32}; throws ConfigError for anything else.
std::vector<int64_t> parse_shape(const std::string& text);
// A size in bytes: a whole number, optionally with a unit (K, M, G, T as powers of 1024, with or without "iB" or
// "B", e.g. 256MiB, 2G, 4096). Throws ConfigError naming `option` for anything else.
int64_t parse_size(const std::string& text, const std::string& option);

// The names of the codec options. `mesl codec` uses the plain names of docs/codecs.md; `mesl train` renames the three
// that would clash with its own options (--alpha is the Dirichlet concentration there, --seed the run's seed,
// --threads the intra-op threads).
struct CodecOptionNames {
  std::string method = "method";
  std::string alpha = "alpha";
  std::string seed = "seed";
  std::string threads = "threads";
};

// The codec settings of docs/codecs.md as options in group `group`: the method (for mesl train it may
// also be a whole spec string, "ms:keep=0.01,bits=2"), --bits, --keep, --k, --positions, --rounding, --sign,
// --scope, alpha, seed, threads and --impl.
void add_codec_options(cxxopts::Options& options, const CodecOptionNames& names, const std::string& default_method,
                       const std::string& group = "Codec");
codec::CodecOptions codec_options(const cxxopts::ParseResult& args, const CodecOptionNames& names);

// Reads a whole file (refusing files larger than `max_bytes`, so a wrong path cannot exhaust memory).
std::vector<uint8_t> read_file(const std::string& path, size_t max_bytes);
// Writes atomically: to PATH.tmp, then rename, so a failure never leaves a half-written file at PATH.
void write_file(const std::string& path, const std::vector<uint8_t>& bytes);

}  // namespace mesl::cli
