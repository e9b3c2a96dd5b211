#include "cli_util.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "mesl/error.h"

namespace mesl::cli {

void print_error(const std::string& text) {
  const std::string line = "mesl: error: " + text.substr(0, text.find('\n')) + "\n";
  size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = write(STDERR_FILENO, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // nowhere to report it
    done += static_cast<size_t>(n);
  }
}

namespace {

// The groups to show in --help: those of `order` that exist, in that order, then the rest (alphabetical).
std::vector<std::string> help_groups(const cxxopts::Options& options, const std::vector<std::string>& order) {
  const auto all = options.groups();
  std::vector<std::string> shown;
  for (const auto& g : order)
    if (std::find(all.begin(), all.end(), g) != all.end() && std::find(shown.begin(), shown.end(), g) == shown.end())
      shown.push_back(g);
  for (const auto& g : all)
    if (std::find(shown.begin(), shown.end(), g) == shown.end()) shown.push_back(g);
  return shown;
}

}  // namespace

std::optional<cxxopts::ParseResult> parse(cxxopts::Options& options, int argc, char** argv,
                                          const std::vector<std::string>& group_order) {
  options.add_options("Help")("h,help", "Print this help");
  // cxxopts takes a one-letter name for a short option only (-k) and refuses --k as bad syntax, but docs/codecs.md and
  // the help text spell the kept count --k: pass --k and --k=N on as -k.
  std::vector<std::string> spelled;
  for (int i = 0; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--k") {
      spelled.emplace_back("-k");
    } else if (a.rfind("--k=", 0) == 0) {
      spelled.emplace_back("-k");
      spelled.push_back(a.substr(4));
    } else {
      spelled.push_back(a);
    }
  }
  std::vector<char*> args;
  for (auto& a : spelled) args.push_back(a.data());
  try {
    auto result = options.parse(static_cast<int>(args.size()), args.data());
    if (result.count("help")) {
      std::cout << options.help(help_groups(options, group_order)) << std::endl;
      return std::nullopt;
    }
    if (!result.unmatched().empty())
      throw ConfigError("unexpected argument '" + result.unmatched().front() + "'; see " + options.program() +
                        " --help");
    return result;
  } catch (const cxxopts::exceptions::exception& e) {
    throw ConfigError(std::string(e.what()) + "; see " + options.program() + " --help");
  }
}

void require(const cxxopts::ParseResult& args, const std::string& command, const std::vector<std::string>& names) {
  for (const auto& n : names)
    MESL_CHECK(args.count(n) > 0, ConfigError, command, " needs --", n, "; see ", command, " --help");
}

int64_t parse_size(const std::string& text, const std::string& option) {
  size_t end = 0;
  while (end < text.size() && std::isdigit(static_cast<unsigned char>(text[end]))) ++end;
  std::string unit = text.substr(end);
  for (const std::string suffix : {"iB", "B"}) {
    const size_t n = suffix.size();
    if (unit.size() > n && unit.compare(unit.size() - n, n, suffix) == 0) unit.resize(unit.size() - n);
  }
  int shift = -1;
  if (unit.empty() || unit == "B") shift = 0;
  else if (unit == "K" || unit == "k") shift = 10;
  else if (unit == "M") shift = 20;
  else if (unit == "G") shift = 30;
  else if (unit == "T") shift = 40;
  uint64_t value = 0;
  bool ok = end > 0 && end <= 15 && shift >= 0;
  if (ok) {
    value = std::stoull(text.substr(0, end));
    ok = value < (uint64_t{1} << (62 - shift));
  }
  MESL_CHECK(ok, ConfigError, option, " '", text, "' is not a size; give bytes or a size such as 256MiB or 2G");
  return static_cast<int64_t>(value << shift);
}

std::vector<int64_t> parse_shape(const std::string& text) {
  std::vector<int64_t> shape;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    size_t used = 0;
    long long v = -1;
    try {
      v = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    MESL_CHECK(used == item.size() && !item.empty() && v >= 0, ConfigError, "--shape '", text,
               "' must be comma-separated non-negative integers, e.g. 256,64,32,32");
    shape.push_back(v);
  }
  MESL_CHECK(!shape.empty() && shape.size() <= 8, ConfigError, "--shape '", text, "' must have 1 to 8 dimensions");
  return shape;
}

void add_codec_options(cxxopts::Options& options, const CodecOptionNames& names, const std::string& default_method,
                       const std::string& group) {
  std::string methods;
  for (const auto& m : codec::method_names()) methods += (methods.empty() ? "" : "|") + m;
  options.add_options(group)
      (names.method, "Codec method: " + methods + " (or a spec, e.g. ms:keep=0.01,bits=2)",
       cxxopts::value<std::string>()->default_value(default_method))
      ("bits", "ms: mask width b (1..8, default 2); qu: code width q (1..16, default 8)", cxxopts::value<int>())
      ("keep", "ms/sp/rt: kept fraction k/d (exactly one of --keep, --k)", cxxopts::value<double>())
      ("k", "ms/sp/rt: kept count (per sample row with --scope sample)", cxxopts::value<int64_t>())
      ("positions", "sp/rt: kept positions as a bitmap or int32 indices: bitmap|kv",
       cxxopts::value<std::string>()->default_value("bitmap"))
      ("rounding", "ms: codes by round (half to even) or floor: round|floor",
       cxxopts::value<std::string>()->default_value("round"))
      ("sign", "ms: nonneg (cut after a ReLU) | signed | auto", cxxopts::value<std::string>()->default_value("nonneg"))
      ("scope", "ms/sp/rt: one top-k per batch or per sample: batch|sample",
       cxxopts::value<std::string>()->default_value("batch"))
      (names.alpha, "rt: probability mass outside the top-k set", cxxopts::value<double>()->default_value("0.1"))
      (names.seed, "rt: random stream seed", cxxopts::value<uint64_t>()->default_value("0"))
      (names.threads, "Codec threads (0: LibTorch's setting)", cxxopts::value<int>()->default_value("0"))
      ("impl", "Implementation: fast (CPU kernels) | reference (LibTorch ops)",
       cxxopts::value<std::string>()->default_value("fast"));
}

codec::CodecOptions codec_options(const cxxopts::ParseResult& args, const CodecOptionNames& names) {
  using namespace codec;
  const std::string method = args[names.method].as<std::string>();
  // A whole spec string: its settings win; the separate options may not repeat them.
  if (method.find(':') != std::string::npos) {
    for (const char* key : {"bits", "keep", "k"})
      MESL_CHECK(!args.count(key), ConfigError, "--", names.method, " ", method, " already holds the settings; drop --",
                 key);
    CodecOptions o = parse_spec(method);
    o.threads(args[names.threads].as<int>());
    return o;
  }
  CodecOptions o(parse_method(method));
  if (args.count("bits")) o.bits(args["bits"].as<int>());
  if (args.count("keep")) o.keep(args["keep"].as<double>());
  if (args.count("k")) o.k(args["k"].as<int64_t>());
  // Settings of other methods keep their defaults silently, so one sweep script can pass them to every method;
  // the ones the chosen method reads are validated below.
  if (is_sparse(o.method())) {
    o.positions(parse_positions(args["positions"].as<std::string>()));
    o.scope(parse_scope(args["scope"].as<std::string>()));
  }
  if (o.method() == Method::ms) {
    o.rounding(parse_rounding(args["rounding"].as<std::string>()));
    o.sign(parse_sign(args["sign"].as<std::string>()));
  }
  o.alpha(args[names.alpha].as<double>());
  o.seed(args[names.seed].as<uint64_t>());
  o.threads(args[names.threads].as<int>());
  o.impl(parse_impl(args["impl"].as<std::string>()));
  validate(o);
  return o;
}

std::vector<uint8_t> read_file(const std::string& path, size_t max_bytes) {
  // A directory opens as a stream on Linux and reports a nonsense size; say what is wrong instead.
  std::error_code ec;
  MESL_CHECK(!std::filesystem::is_directory(path, ec), ConfigError, "cannot read ", path,
             ": it is a directory, not a file");
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  MESL_CHECK(in.good(), ConfigError, "cannot read ", path, ": ", std::strerror(errno));
  const auto size = static_cast<size_t>(in.tellg());
  MESL_CHECK(size <= max_bytes, ConfigError, path, " is ", size, " bytes, larger than the ", max_bytes,
             " a payload can be");
  std::vector<uint8_t> bytes(size);
  in.seekg(0);
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size));
  MESL_CHECK(in.good() || size == 0, ConfigError, "cannot read ", path);
  return bytes;
}

void write_file(const std::string& path, const std::vector<uint8_t>& bytes) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    MESL_CHECK(out.good(), ConfigError, "cannot write ", path, ": ", std::strerror(errno));
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    MESL_CHECK(out.good(), ConfigError, "cannot write ", path, ": ", std::strerror(errno));
  }
  MESL_CHECK(std::rename(tmp.c_str(), path.c_str()) == 0, ConfigError, "cannot write ", path, ": ",
             std::strerror(errno));
}

}  // namespace mesl::cli
