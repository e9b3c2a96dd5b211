#pragma once
// Checkpoints on disk (docs/checkpoints.md):
//
//   DIR/step-000000001234/rank-0.pt ... rank-N.pt    one file per rank, each written to a temporary name and
//                                                     renamed, so a file is either whole or absent
//   DIR/step-000000001234/COMPLETE                   written by rank 0 after every rank reported its file
//
// The number is the count of training steps done when the checkpoint was taken. A resumed run uses the newest
// checkpoint with COMPLETE whose files all load; it falls back to the one before if a file is corrupt. The two
// newest complete checkpoints are kept.
#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

namespace mesl::train {

class CheckpointStore {
 public:
  explicit CheckpointStore(std::string dir);
  const std::string& dir() const { return dir_; }
  // Complete checkpoints, newest first.
  std::vector<std::string> complete() const;
  // The directory of a new checkpoint (created if missing).
  std::string prepare(int64_t steps) const;
  std::string rank_file(const std::string& checkpoint, int rank) const;
  // Writes `archive` to the rank's file atomically.
  void save(const std::string& checkpoint, int rank, torch::serialize::OutputArchive& archive) const;
  // Loads the rank's file; throws CheckpointError naming the file when it is missing or corrupt.
  void load(const std::string& checkpoint, int rank, torch::serialize::InputArchive& archive) const;
  // Marks a checkpoint complete and removes all but the two newest complete ones.
  void complete(const std::string& checkpoint) const;

 private:
  std::string dir_;
};

// Small values in archives (LibTorch archives hold tensors and modules).
void put(torch::serialize::OutputArchive& a, const std::string& key, int64_t value);
void put(torch::serialize::OutputArchive& a, const std::string& key, double value);
void put(torch::serialize::OutputArchive& a, const std::string& key, const std::string& value);
void put(torch::serialize::OutputArchive& a, const std::string& key, const std::vector<int64_t>& value);
void put(torch::serialize::OutputArchive& a, const std::string& key, const std::vector<uint8_t>& value);
int64_t get_int(torch::serialize::InputArchive& a, const std::string& key);
double get_double(torch::serialize::InputArchive& a, const std::string& key);
std::string get_string(torch::serialize::InputArchive& a, const std::string& key);
std::vector<int64_t> get_ints(torch::serialize::InputArchive& a, const std::string& key);
std::vector<uint8_t> get_bytes(torch::serialize::InputArchive& a, const std::string& key);

}  // namespace mesl::train
