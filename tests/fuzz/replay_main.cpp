// Replays fuzz inputs through the decode checks without libFuzzer, so that every build (GCC, the sanitizer preset)
// re-checks the committed corpus and the generated seeds: the regression half of fuzzing.
//   fuzz_decode_replay DIR_OR_FILE...
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "decode_check.h"

namespace fs = std::filesystem;

namespace {

std::vector<uint8_t> read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: fuzz_decode_replay DIR_OR_FILE...\n");
    return 2;
  }
  mesl::fuzz::init_decode_check();
  size_t inputs = 0;
  for (int i = 1; i < argc; ++i) {
    const fs::path root(argv[i]);
    if (!fs::exists(root)) {
      std::fprintf(stderr, "fuzz_decode_replay: %s does not exist\n", argv[i]);
      return 2;
    }
    std::vector<fs::path> files;
    if (fs::is_directory(root)) {
      for (const auto& entry : fs::directory_iterator(root))
        if (entry.is_regular_file()) files.push_back(entry.path());
    } else {
      files.push_back(root);
    }
    for (const auto& file : files) {
      const auto bytes = read_all(file);
      // check_decode aborts on a finding: name the input first, so that the log says which one it was.
      std::printf("%s\n", file.c_str());
      std::fflush(stdout);
      mesl::fuzz::check_decode(bytes.data(), bytes.size());
      ++inputs;
    }
  }
  std::printf("fuzz_decode_replay: %zu inputs, every property holds\n", inputs);
  return inputs > 0 ? 0 : 1;
}
