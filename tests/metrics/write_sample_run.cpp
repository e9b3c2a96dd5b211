// Writes a small metrics file for the h5py test (check_run_file.py): 3 epochs of 4 steps, totals, attributes, five
// clients, two participants per round, two ranks.
// Usage: metrics_sample_run PATH (the parent directory is created).
#include <exception>
#include <filesystem>
#include <iostream>

#include "mesl/metrics/run_writer.h"
#include "sample_run.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: metrics_sample_run PATH\n";
    return 2;
  }
  try {
    const std::filesystem::path path(argv[1]);
    if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
    auto writer = mesl::metrics::RunWriter::create(path.string(), mesl::testing::sample_attributes());
    for (int64_t epoch = 0; epoch < 3; ++epoch) {
      for (int64_t i = 0; i < 4; ++i) writer.append_step(mesl::testing::sample_step(epoch * 4 + i));
      writer.append_participants(epoch, {epoch + 1, epoch + 3});
      writer.set_message_totals(mesl::testing::sample_totals());
      writer.set_clients(mesl::testing::sample_clients(epoch + 1));
      writer.append_epoch(mesl::testing::sample_epoch(epoch));
    }
    writer.set_ranks(mesl::testing::sample_ranks());
    writer.flush();
  } catch (const std::exception& error) {
    std::cerr << "metrics_sample_run: " << error.what() << "\n";
    return 1;
  }
  return 0;
}
