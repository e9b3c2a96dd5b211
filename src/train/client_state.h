#pragma once
// What belongs to one client apart from the modules its rank shares among its clients (docs/protocol.md, "Clients
// and ranks"): its own bottom while it has one (a parallel round, from its start until the bottom is uploaded),
// its optimizer's momentum, where its data cursor stands and how far its codec's random stream has drawn. The data
// order and augmentation follow from (seed, client, epoch, batch), so the cursor is all of them. An idle client
// costs these bytes and a map entry; a client that has not trained yet costs nothing.
//
// A rank keeps its idle clients' states in a StateStore: in memory up to --client-state-memory bytes, the least
// recently used beyond that in files of --state-dir, read back when the client's turn comes.
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <string>
#include <vector>

namespace mesl::train {

struct ClientState {
  std::vector<uint8_t> bottom;     // the client's own bottom (save_state layout), or empty
  std::vector<uint8_t> optimizer;  // its SGD momentum (halves.h, save_momentum), or empty before its first step
  int64_t data_epoch = 0;          // the cursor: the next batch is batch_index of data_epoch (loader.h)
  int64_t batch_index = 0;
  uint64_t codec_draws = 0;        // encodes drawn from its forward codec's stream (rt)

  size_t bytes() const { return bottom.size() + optimizer.size() + kFixedBytes; }
  // A self-checking byte form (magic, sizes, fields), for spill files and checkpoints, and back. parse() throws
  // CheckpointError naming `what` when the bytes are not a whole state.
  std::vector<uint8_t> serialize() const;
  static ClientState parse(const uint8_t* data, size_t size, const std::string& what);

  static constexpr size_t kFixedBytes = 48;  // the serialized form's magic, cursor, draws and two lengths
};

class StateStore {
 public:
  // `dir`: where this rank spills (made on first use; "" spills nowhere, for runs whose states always fit).
  StateStore(int64_t memory_budget, std::string dir);
  StateStore(const StateStore&) = delete;
  StateStore& operator=(const StateStore&) = delete;

  bool has(int64_t client) const;
  // Client `client`'s state, removed from the store (read back from its file if spilled); a fresh state if the
  // store has none.
  ClientState take(int64_t client);
  // Keeps `state` for `client`, spilling the least recently used states while memory is over the budget.
  void put(int64_t client, ClientState state);
  // Every state held, by ascending client id, serialized (reading spilled ones from their files), for checkpoints.
  void for_each(const std::function<void(int64_t client, const std::vector<uint8_t>& bytes)>& f) const;
  std::vector<int64_t> clients() const;

  // Removes the spill files and the folder. A run that fails keeps them (nothing written is lost): the run calls
  // this when it ended well.
  void release_files();
  // Start-up of a rank that may spill: makes the spill folder, removes the state files an earlier run left in it
  // (a run owns its folder, as it owns --output), and checks that a file can be written there: throws
  // ConfigError naming the folder.
  void prepare() const;

  int64_t memory_bytes() const { return memory_bytes_; }
  int64_t held() const { return static_cast<int64_t>(in_memory_.size() + spilled_.size()); }
  int64_t spilled() const { return static_cast<int64_t>(spilled_.size()); }
  int64_t spilled_bytes() const { return spilled_bytes_; }
  int64_t peak_memory_bytes() const { return peak_memory_bytes_; }
  int64_t peak_spilled_bytes() const { return peak_spilled_bytes_; }
  // Totals since the start: states written to and read from files, their bytes, and the seconds it took.
  int64_t spill_writes() const { return spill_writes_; }
  int64_t spill_reads() const { return spill_reads_; }
  double spill_seconds() const { return spill_seconds_; }

 private:
  std::string file_of(int64_t client) const;
  void spill_while_over_budget();
  std::vector<uint8_t> read_file(int64_t client) const;

  struct Held {
    std::vector<uint8_t> bytes;             // serialized
    std::list<int64_t>::iterator recency;   // position in lru_
  };
  int64_t budget_;
  std::string dir_;
  std::map<int64_t, Held> in_memory_;
  std::map<int64_t, int64_t> spilled_;  // client -> bytes in its file
  std::list<int64_t> lru_;              // least recently put first
  int64_t memory_bytes_ = 0, peak_memory_bytes_ = 0, spilled_bytes_ = 0, peak_spilled_bytes_ = 0;
  int64_t spill_writes_ = 0, spill_reads_ = 0;
  mutable double spill_seconds_ = 0;
};

}  // namespace mesl::train
