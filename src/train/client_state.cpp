#include "client_state.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "mesl/error.h"

namespace mesl::train {
namespace fs = std::filesystem;
namespace {

constexpr uint64_t kMagic = 0x3154534c53454d4dULL;  // "MMESLST1" read as little-endian bytes

void put_word(std::vector<uint8_t>& out, uint64_t v) {
  const size_t at = out.size();
  out.resize(at + 8);
  std::memcpy(out.data() + at, &v, 8);
}

uint64_t get_word(const uint8_t* data, size_t at) {
  uint64_t v;
  std::memcpy(&v, data + at, 8);
  return v;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

std::vector<uint8_t> ClientState::serialize() const {
  std::vector<uint8_t> out;
  out.reserve(bytes());
  put_word(out, kMagic);
  put_word(out, static_cast<uint64_t>(data_epoch));
  put_word(out, static_cast<uint64_t>(batch_index));
  put_word(out, codec_draws);
  put_word(out, bottom.size());
  put_word(out, optimizer.size());
  out.insert(out.end(), bottom.begin(), bottom.end());
  out.insert(out.end(), optimizer.begin(), optimizer.end());
  return out;
}

ClientState ClientState::parse(const uint8_t* data, size_t size, const std::string& what) {
  MESL_CHECK(size >= kFixedBytes && get_word(data, 0) == kMagic, CheckpointError, what,
             " is not a client state (", size, " bytes, no state header): the file is damaged");
  ClientState s;
  s.data_epoch = static_cast<int64_t>(get_word(data, 8));
  s.batch_index = static_cast<int64_t>(get_word(data, 16));
  s.codec_draws = get_word(data, 24);
  const uint64_t bottom = get_word(data, 32), optimizer = get_word(data, 40);
  MESL_CHECK(bottom <= size && optimizer <= size && kFixedBytes + bottom + optimizer == size, CheckpointError, what,
             " is cut short or overlong (", size, " bytes for a state of ", kFixedBytes + bottom + optimizer,
             "): the file is damaged");
  MESL_CHECK(s.data_epoch >= 0 && s.batch_index >= 0, CheckpointError, what, " holds a negative data cursor");
  s.bottom.assign(data + kFixedBytes, data + kFixedBytes + bottom);
  s.optimizer.assign(data + kFixedBytes + bottom, data + size);
  return s;
}

StateStore::StateStore(int64_t memory_budget, std::string dir) : budget_(memory_budget), dir_(std::move(dir)) {}

bool StateStore::has(int64_t client) const { return in_memory_.count(client) > 0 || spilled_.count(client) > 0; }

std::string StateStore::file_of(int64_t client) const {
  return (fs::path(dir_) / ("client-" + std::to_string(client) + ".state")).string();
}

void StateStore::prepare() const {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    const std::string name = entry.path().filename().string();
    std::error_code ignored;
    if (name.rfind("client-", 0) == 0 && name.find(".state") != std::string::npos) fs::remove(entry.path(), ignored);
  }
  const std::string probe = (fs::path(dir_) / ".mesl-write-test").string();
  bool ok = false;
  {
    std::ofstream f(probe, std::ios::binary);
    f << "x";
    ok = f.good();
  }
  fs::remove(probe, ec);
  MESL_CHECK(ok, ConfigError, "cannot write client states to ", dir_,
             ": choose a writable --state-dir (node-local scratch on a cluster)");
}

std::vector<uint8_t> StateStore::read_file(int64_t client) const {
  const auto t0 = std::chrono::steady_clock::now();
  const std::string path = file_of(client);
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  MESL_CHECK(f.good(), TrainError, "the spilled state of client ", client, " (", path,
             ") cannot be read: was --state-dir removed while the run went on?");
  std::vector<uint8_t> bytes(static_cast<size_t>(f.tellg()));
  f.seekg(0);
  f.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  MESL_CHECK(f.good(), TrainError, "the spilled state of client ", client, " (", path, ") cannot be read");
  spill_seconds_ += seconds_since(t0);
  return bytes;
}

ClientState StateStore::take(int64_t client) {
  std::vector<uint8_t> bytes;
  if (auto it = in_memory_.find(client); it != in_memory_.end()) {
    bytes = std::move(it->second.bytes);
    memory_bytes_ -= static_cast<int64_t>(bytes.size());
    lru_.erase(it->second.recency);
    in_memory_.erase(it);
  } else if (auto sp = spilled_.find(client); sp != spilled_.end()) {
    bytes = read_file(client);
    std::error_code ec;
    fs::remove(file_of(client), ec);
    spilled_bytes_ -= sp->second;
    spilled_.erase(sp);
    ++spill_reads_;
  } else {
    return ClientState{};
  }
  return ClientState::parse(bytes.data(), bytes.size(), "the state of client " + std::to_string(client));
}

void StateStore::put(int64_t client, ClientState state) {
  MESL_CHECK(!has(client), TrainError, "internal error: client ", client, "'s state stored twice");
  Held h{state.serialize(), {}};
  memory_bytes_ += static_cast<int64_t>(h.bytes.size());
  h.recency = lru_.insert(lru_.end(), client);
  in_memory_.emplace(client, std::move(h));
  spill_while_over_budget();
  peak_memory_bytes_ = std::max(peak_memory_bytes_, memory_bytes_);
}

void StateStore::spill_while_over_budget() {
  while (memory_bytes_ > budget_ && !lru_.empty()) {
    MESL_CHECK(!dir_.empty(), TrainError, "internal error: client states over the memory budget and nowhere to spill");
    const auto t0 = std::chrono::steady_clock::now();
    const int64_t victim = lru_.front();
    auto it = in_memory_.find(victim);
    if (spilled_.empty()) {
      std::error_code ec;
      fs::create_directories(dir_, ec);
    }
    const std::string path = file_of(victim), tmp = path + ".tmp";
    {
      std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
      f.write(reinterpret_cast<const char*>(it->second.bytes.data()),
              static_cast<std::streamsize>(it->second.bytes.size()));
      MESL_CHECK(f.good(), TrainError, "cannot spill the state of client ", victim, " to ", tmp,
                 " (disk full?): free space in --state-dir or raise --client-state-memory");
    }
    std::error_code ec;
    fs::rename(tmp, path, ec);
    MESL_CHECK(!ec, TrainError, "cannot spill the state of client ", victim, " to ", path, ": ", ec.message());
    const auto size = static_cast<int64_t>(it->second.bytes.size());
    memory_bytes_ -= size;
    spilled_bytes_ += size;
    peak_spilled_bytes_ = std::max(peak_spilled_bytes_, spilled_bytes_);
    spilled_[victim] = size;
    lru_.pop_front();
    in_memory_.erase(it);
    ++spill_writes_;
    spill_seconds_ += seconds_since(t0);
  }
}

std::vector<int64_t> StateStore::clients() const {
  std::vector<int64_t> out;
  auto a = in_memory_.begin();
  auto b = spilled_.begin();
  while (a != in_memory_.end() || b != spilled_.end()) {
    if (b == spilled_.end() || (a != in_memory_.end() && a->first < b->first)) out.push_back((a++)->first);
    else out.push_back((b++)->first);
  }
  return out;
}

void StateStore::for_each(const std::function<void(int64_t, const std::vector<uint8_t>&)>& f) const {
  for (const int64_t client : clients()) {
    if (auto it = in_memory_.find(client); it != in_memory_.end()) f(client, it->second.bytes);
    else f(client, read_file(client));
  }
}

void StateStore::release_files() {
  if (dir_.empty()) return;
  std::error_code ec;
  for (const auto& [client, bytes] : spilled_) fs::remove(file_of(client), ec);
  spilled_.clear();
  spilled_bytes_ = 0;
  fs::remove(dir_, ec);                         // only if empty: a user's own files stay
  fs::remove(fs::path(dir_).parent_path(), ec);  // the run's folder, once every rank's is gone
}

}  // namespace mesl::train
