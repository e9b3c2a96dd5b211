#include "checkpoint.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include <zlib.h>

#include "mesl/error.h"

namespace mesl::train {
namespace fs = std::filesystem;

CheckpointStore::CheckpointStore(std::string dir) : dir_(std::move(dir)) {}

std::vector<std::string> CheckpointStore::complete() const {
  std::vector<std::string> out;
  std::error_code ec;
  if (!fs::is_directory(dir_, ec)) return out;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("step-", 0) == 0 && fs::exists(entry.path() / "COMPLETE", ec)) out.push_back(entry.path().string());
  }
  // Zero-padded numbers: name order is step order.
  std::sort(out.rbegin(), out.rend());
  return out;
}

std::string CheckpointStore::prepare(int64_t steps) const {
  char name[32];
  std::snprintf(name, sizeof name, "step-%012lld", static_cast<long long>(steps));
  const fs::path path = fs::path(dir_) / name;
  std::error_code ec;
  fs::create_directories(path, ec);
  MESL_CHECK(!ec, CheckpointError, "cannot create checkpoint directory ", path.string(), ": ", ec.message(),
             "; choose a writable --checkpoint-dir");
  // A checkpoint at this step that an earlier, interrupted attempt left incomplete is replaced.
  fs::remove(path / "COMPLETE", ec);
  return path.string();
}

std::string CheckpointStore::rank_file(const std::string& checkpoint, int rank) const {
  return (fs::path(checkpoint) / ("rank-" + std::to_string(rank) + ".pt")).string();
}

void CheckpointStore::save(const std::string& checkpoint, int rank, torch::serialize::OutputArchive& archive) const {
  const std::string path = rank_file(checkpoint, rank), tmp = path + ".tmp";
  try {
    archive.save_to(tmp);
  } catch (const c10::Error& e) {
    throw CheckpointError("cannot write checkpoint " + tmp + ": " + e.what_without_backtrace());
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  MESL_CHECK(!ec, CheckpointError, "cannot write checkpoint ", path, ": ", ec.message());
}

void CheckpointStore::load(const std::string& checkpoint, int rank, torch::serialize::InputArchive& archive) const {
  const std::string path = rank_file(checkpoint, rank);
  MESL_CHECK(fs::exists(path), CheckpointError, "checkpoint file ", path, " is missing");
  try {
    archive.load_from(path);
  } catch (const c10::Error& e) {
    const std::string what = e.what_without_backtrace();
    throw CheckpointError("checkpoint file " + path + " is corrupt: " + what.substr(0, what.find('\n')));
  }
}

void CheckpointStore::complete(const std::string& checkpoint) const {
  {
    std::ofstream marker(fs::path(checkpoint) / "COMPLETE");
    marker << "complete\n";
    MESL_CHECK(marker.good(), CheckpointError, "cannot write ", checkpoint, "/COMPLETE");
  }
  const auto all = complete();
  std::error_code ec;
  for (size_t i = 2; i < all.size(); ++i) fs::remove_all(all[i], ec);
}

std::string CheckpointStore::client_file(const std::string& checkpoint, int rank, int ranks) const {
  return (fs::path(checkpoint) / ("clients-" + std::to_string(rank) + "-of-" + std::to_string(ranks) + ".bin"))
      .string();
}

std::vector<std::string> CheckpointStore::client_files(const std::string& checkpoint) const {
  std::map<int, std::string> found;
  int ranks = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(checkpoint, ec)) {
    int rank = 0, of = 0;
    const std::string name = entry.path().filename().string();
    if (std::sscanf(name.c_str(), "clients-%d-of-%d.bin", &rank, &of) != 2 || name.back() != 'n') continue;
    MESL_CHECK(ranks == 0 || of == ranks, CheckpointError, "checkpoint ", checkpoint,
               " mixes client files of runs on ", ranks, " and ", of, " client ranks");
    ranks = of;
    found[rank] = entry.path().string();
  }
  std::vector<std::string> out;
  for (int r = 1; r <= ranks; ++r) {
    MESL_CHECK(found.count(r), CheckpointError, "checkpoint file ", client_file(checkpoint, r, ranks), " is missing");
    out.push_back(found[r]);
  }
  return out;
}

namespace {

constexpr uint64_t kClientFileMagic = 0x3150434c5345454dULL;   // "MEESLCP1"
constexpr uint64_t kClientTrailerMagic = 0x31444e454c53454dULL;  // "MESLEND1"
constexpr size_t kTrailerBytes = 24;                             // magic, count, CRC (8 bytes)

}  // namespace

ClientFileWriter::ClientFileWriter(std::string path) : path_(std::move(path)) {
  file_ = std::fopen((path_ + ".tmp").c_str(), "wb");
  MESL_CHECK(file_ != nullptr, CheckpointError, "cannot write checkpoint ", path_,
             ".tmp; choose a writable --checkpoint-dir");
  const uint64_t magic = kClientFileMagic;
  std::fwrite(&magic, 8, 1, file_);
  crc_ = static_cast<uint32_t>(crc32(0L, reinterpret_cast<const Bytef*>(&magic), 8));
}

ClientFileWriter::~ClientFileWriter() {
  if (file_ == nullptr) return;
  std::fclose(file_);
  std::error_code ec;
  fs::remove(path_ + ".tmp", ec);
}

void ClientFileWriter::add(int64_t id, const std::vector<uint8_t>& bytes) {
  const uint64_t head[2] = {static_cast<uint64_t>(id), bytes.size()};
  std::fwrite(head, 8, 2, file_);
  crc_ = static_cast<uint32_t>(crc32(crc_, reinterpret_cast<const Bytef*>(head), 16));
  if (!bytes.empty()) {
    std::fwrite(bytes.data(), 1, bytes.size(), file_);
    crc_ = static_cast<uint32_t>(crc32_z(crc_, bytes.data(), bytes.size()));
  }
  ++count_;
}

void ClientFileWriter::close() {
  const uint64_t trailer[3] = {kClientTrailerMagic, count_, crc_};
  std::fwrite(trailer, 8, 3, file_);
  const bool ok = std::ferror(file_) == 0;
  const bool closed = std::fclose(file_) == 0;
  file_ = nullptr;
  MESL_CHECK(ok && closed, CheckpointError, "cannot write checkpoint ", path_, ".tmp (disk full?)");
  std::error_code ec;
  fs::rename(path_ + ".tmp", path_, ec);
  MESL_CHECK(!ec, CheckpointError, "cannot write checkpoint ", path_, ": ", ec.message());
}

std::vector<ClientEntry> read_client_index(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  MESL_CHECK(f != nullptr, CheckpointError, "checkpoint file ", path, " is missing");
  std::vector<ClientEntry> out;
  std::vector<uint8_t> buf;
  const auto fail = [&](const std::string& why) {
    std::fclose(f);
    throw CheckpointError("checkpoint file " + path + " is corrupt: " + why);
  };
  std::fseek(f, 0, SEEK_END);
  const auto size = static_cast<uint64_t>(std::ftell(f));
  std::fseek(f, 0, SEEK_SET);
  if (size < 8 + kTrailerBytes) fail("too short");
  uint64_t magic = 0;
  if (std::fread(&magic, 8, 1, f) != 1 || magic != kClientFileMagic) fail("not a client-state file");
  uint32_t crc = static_cast<uint32_t>(crc32(0L, reinterpret_cast<const Bytef*>(&magic), 8));
  uint64_t at = 8;
  while (at + kTrailerBytes < size) {
    uint64_t head[2];
    if (at + 16 + kTrailerBytes > size || std::fread(head, 8, 2, f) != 2) fail("an entry is cut short");
    crc = static_cast<uint32_t>(crc32(crc, reinterpret_cast<const Bytef*>(head), 16));
    at += 16;
    if (head[1] > size - at - kTrailerBytes) fail("an entry runs past the end");
    buf.resize(head[1]);
    if (head[1] > 0 && std::fread(buf.data(), 1, head[1], f) != head[1]) fail("an entry is cut short");
    crc = static_cast<uint32_t>(crc32_z(crc, buf.data(), buf.size()));
    out.push_back({static_cast<int64_t>(head[0]), at, head[1]});
    at += head[1];
  }
  uint64_t trailer[3];
  if (at + kTrailerBytes != size || std::fread(trailer, 8, 3, f) != 3) fail("no trailer");
  std::fclose(f);
  if (trailer[0] != kClientTrailerMagic || trailer[1] != out.size())
    throw CheckpointError("checkpoint file " + path + " is corrupt: its trailer does not match its entries");
  if (trailer[2] != crc) throw CheckpointError("checkpoint file " + path + " is corrupt: its CRC-32 does not match");
  return out;
}

std::vector<uint8_t> read_client_entry(const std::string& path, const ClientEntry& entry) {
  std::ifstream f(path, std::ios::binary);
  std::vector<uint8_t> bytes(entry.size);
  f.seekg(static_cast<std::streamoff>(entry.offset));
  f.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  MESL_CHECK(f.good() || entry.size == 0, CheckpointError, "checkpoint file ", path, " can no longer be read");
  return bytes;
}

void put(torch::serialize::OutputArchive& a, const std::string& key, int64_t value) {
  a.write(key, torch::tensor({value}, torch::kLong));
}
void put(torch::serialize::OutputArchive& a, const std::string& key, double value) {
  a.write(key, torch::tensor({value}, torch::kDouble));
}
void put(torch::serialize::OutputArchive& a, const std::string& key, const std::vector<int64_t>& value) {
  a.write(key, torch::tensor(value, torch::kLong));
}
void put(torch::serialize::OutputArchive& a, const std::string& key, const std::vector<uint8_t>& value) {
  a.write(key, torch::tensor(std::vector<int64_t>(value.begin(), value.end()), torch::kLong).to(torch::kByte));
}
void put(torch::serialize::OutputArchive& a, const std::string& key, const std::map<int64_t, int64_t>& value) {
  std::vector<int64_t> clients, counts;
  for (const auto& [client, count] : value) {
    clients.push_back(client);
    counts.push_back(count);
  }
  put(a, key + ".clients", clients);
  put(a, key + ".counts", counts);
}

void put(torch::serialize::OutputArchive& a, const std::string& key, const std::string& value) {
  put(a, key, std::vector<uint8_t>(value.begin(), value.end()));
}

namespace {
torch::Tensor read(torch::serialize::InputArchive& a, const std::string& key) {
  torch::Tensor t;
  try {
    a.read(key, t);
  } catch (const c10::Error&) {
    throw CheckpointError("a checkpoint lacks '" + key + "': it was written by another mesl version");
  }
  return t.contiguous();
}
}  // namespace

int64_t get_int(torch::serialize::InputArchive& a, const std::string& key) { return read(a, key).item<int64_t>(); }
double get_double(torch::serialize::InputArchive& a, const std::string& key) { return read(a, key).item<double>(); }
std::vector<int64_t> get_ints(torch::serialize::InputArchive& a, const std::string& key) {
  const torch::Tensor t = read(a, key).to(torch::kLong);
  return std::vector<int64_t>(t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + t.numel());
}
std::vector<uint8_t> get_bytes(torch::serialize::InputArchive& a, const std::string& key) {
  const torch::Tensor t = read(a, key).to(torch::kByte);
  return std::vector<uint8_t>(t.data_ptr<uint8_t>(), t.data_ptr<uint8_t>() + t.numel());
}
std::map<int64_t, int64_t> get_counts(torch::serialize::InputArchive& a, const std::string& key) {
  const auto clients = get_ints(a, key + ".clients"), counts = get_ints(a, key + ".counts");
  MESL_CHECK(clients.size() == counts.size(), CheckpointError, "a checkpoint's ", key, " is damaged");
  std::map<int64_t, int64_t> out;
  for (size_t i = 0; i < clients.size(); ++i) out[clients[i]] = counts[i];
  return out;
}

std::string get_string(torch::serialize::InputArchive& a, const std::string& key) {
  const auto bytes = get_bytes(a, key);
  return std::string(bytes.begin(), bytes.end());
}

}  // namespace mesl::train
