#pragma once
// Checkpoints on disk (docs/checkpoints.md):
//
//   DIR/step-000000001234/rank-0.pt                  the server's part (a LibTorch archive)
//   DIR/step-000000001234/clients-1-of-R.bin ...     each client rank's clients, by client id (any rank can read
//                                                     any of them, so a run resumes on another number of ranks)
//   DIR/step-000000001234/COMPLETE                   written by rank 0 after every rank reported its file
//
// Every file is written to a temporary name and renamed, so a file is either whole or absent; a client file also
// ends with a CRC-32 of its contents, so a damaged one is refused.
//
// The number is the count of training steps done when the checkpoint was taken. A resumed run uses the newest
// checkpoint with COMPLETE whose files all load; it falls back to the one before if a file is corrupt. The two
// newest complete checkpoints are kept.
#include <torch/torch.h>

#include <cstdint>
#include <cstdio>
#include <map>
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
  // Client rank `rank`'s file (of `ranks`) in a checkpoint, and every client file a checkpoint holds: throws
  // CheckpointError when one of the ranks that wrote them is missing.
  std::string client_file(const std::string& checkpoint, int rank, int ranks) const;
  std::vector<std::string> client_files(const std::string& checkpoint) const;

 private:
  std::string dir_;
};

// A client file: entries (id, bytes) in the order added, then a trailer with their count and a CRC-32.
class ClientFileWriter {
 public:
  explicit ClientFileWriter(std::string path);  // writes to path + ".tmp" until close()
  ~ClientFileWriter();                           // an unclosed file is removed
  ClientFileWriter(const ClientFileWriter&) = delete;
  ClientFileWriter& operator=(const ClientFileWriter&) = delete;
  void add(int64_t id, const std::vector<uint8_t>& bytes);
  void close();  // the trailer, then the rename; throws CheckpointError when the disk refuses

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
  uint64_t count_ = 0;
  uint32_t crc_ = 0;
};

struct ClientEntry {
  int64_t id = 0;
  uint64_t offset = 0, size = 0;
};
// Reads and checks a whole client file (its CRC-32 and layout) and lists its entries; throws CheckpointError naming
// the file when it is missing, cut short or damaged.
std::vector<ClientEntry> read_client_index(const std::string& path);
std::vector<uint8_t> read_client_entry(const std::string& path, const ClientEntry& entry);

// Small values in archives (LibTorch archives hold tensors and modules).
void put(torch::serialize::OutputArchive& a, const std::string& key, int64_t value);
void put(torch::serialize::OutputArchive& a, const std::string& key, double value);
void put(torch::serialize::OutputArchive& a, const std::string& key, const std::string& value);
void put(torch::serialize::OutputArchive& a, const std::string& key, const std::vector<int64_t>& value);
void put(torch::serialize::OutputArchive& a, const std::string& key, const std::vector<uint8_t>& value);
// A map of client id to a count (the steps each client did in the round) as two vectors, KEY.clients and
// KEY.counts, and back.
void put(torch::serialize::OutputArchive& a, const std::string& key, const std::map<int64_t, int64_t>& value);
std::map<int64_t, int64_t> get_counts(torch::serialize::InputArchive& a, const std::string& key);
int64_t get_int(torch::serialize::InputArchive& a, const std::string& key);
double get_double(torch::serialize::InputArchive& a, const std::string& key);
std::string get_string(torch::serialize::InputArchive& a, const std::string& key);
std::vector<int64_t> get_ints(torch::serialize::InputArchive& a, const std::string& key);
std::vector<uint8_t> get_bytes(torch::serialize::InputArchive& a, const std::string& key);

}  // namespace mesl::train
