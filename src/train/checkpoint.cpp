#include "checkpoint.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

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
std::string get_string(torch::serialize::InputArchive& a, const std::string& key) {
  const auto bytes = get_bytes(a, key);
  return std::string(bytes.begin(), bytes.end());
}

}  // namespace mesl::train
