// A client's state and where it is kept (client_state.h, checkpoint.h), and the invariant a state swap must keep:
// after it, the optimizer steps the weights that are live in the module, and every client's bottom changes in its
// turn (a published split-learning framework was seen to break this).
#include <doctest/doctest.h>


#include <filesystem>
#include <fstream>

#include "../common/temp_dir.h"
#include "client_host.h"
#include "client_state.h"
#include "checkpoint.h"
#include "mesl/error.h"
#include "server_core.h"

using namespace mesl;
using namespace mesl::train;
namespace fs = std::filesystem;

namespace {

using mesl::testing::TempDir;

ClientState state_of(size_t bottom, size_t optimizer, int64_t seed) {
  ClientState s;
  for (size_t i = 0; i < bottom; ++i) s.bottom.push_back(static_cast<uint8_t>(i * 7 + seed));
  for (size_t i = 0; i < optimizer; ++i) s.optimizer.push_back(static_cast<uint8_t>(i * 3 + seed));
  s.data_epoch = seed;
  s.batch_index = seed * 2 + 1;
  s.codec_draws = static_cast<uint64_t>(seed) * 1000 + 5;
  return s;
}

bool same(const ClientState& a, const ClientState& b) {
  return a.bottom == b.bottom && a.optimizer == b.optimizer && a.data_epoch == b.data_epoch &&
         a.batch_index == b.batch_index && a.codec_draws == b.codec_draws;
}

std::vector<uint8_t> file_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

TEST_CASE("a client state survives its byte form, and damaged bytes are refused") {
  for (const size_t bottom : {0, 1, 7, 1000}) {
    for (const size_t optimizer : {0, 1, 13}) {
      const ClientState s = state_of(bottom, optimizer, 3);
      const auto bytes = s.serialize();
      CHECK(bytes.size() == s.bytes());
      CHECK(same(ClientState::parse(bytes.data(), bytes.size(), "x"), s));
      if (bytes.size() > ClientState::kFixedBytes)
        CHECK_THROWS_AS(ClientState::parse(bytes.data(), bytes.size() - 1, "x"), CheckpointError);
      auto extra = bytes;
      extra.push_back(0);
      CHECK_THROWS_AS(ClientState::parse(extra.data(), extra.size(), "x"), CheckpointError);
    }
  }
  auto bytes = state_of(4, 4, 1).serialize();
  bytes[0] ^= 1;
  CHECK_THROWS_WITH(ClientState::parse(bytes.data(), bytes.size(), "the state of client 9"),
                    doctest::Contains("the state of client 9 is not a client state"));
}

TEST_CASE("the store keeps states within its memory budget and spills the least recently used") {
  TempDir dir;
  const size_t each = state_of(100, 50, 0).bytes();
  for (const int64_t fit : {1, 2, 5}) {
    CAPTURE(fit);
    StateStore store(static_cast<int64_t>(each) * fit, dir / ("spill-" + std::to_string(fit)));
    store.prepare();
    for (int64_t c = 1; c <= 9; ++c) store.put(c, state_of(100, 50, c));
    CHECK(store.held() == 9);
    CHECK(store.memory_bytes() <= static_cast<int64_t>(each) * fit);
    CHECK(store.spilled() == 9 - fit);
    CHECK(store.spill_writes() == 9 - fit);
    CHECK(store.has(1));          // spilled (the oldest)
    CHECK_FALSE(store.has(10));
    // The most recently put stay in memory; the others are files.
    int64_t files = 0;
    for (const auto& e : fs::directory_iterator(dir / ("spill-" + std::to_string(fit)))) files += e.is_regular_file();
    CHECK(files == 9 - fit);
    // for_each sees every state, spilled or not, in client order, as it was put.
    int64_t expected = 1;
    store.for_each([&](int64_t c, const std::vector<uint8_t>& bytes) {
      CHECK(c == expected++);
      CHECK(same(ClientState::parse(bytes.data(), bytes.size(), "x"), state_of(100, 50, c)));
    });
    CHECK(expected == 10);
    // take() gives each back once, read back from its file where spilled.
    for (int64_t c = 9; c >= 1; --c) CHECK(same(store.take(c), state_of(100, 50, c)));
    CHECK(store.spill_reads() == 9 - fit);
    CHECK(store.held() == 0);
    CHECK(store.spilled_bytes() == 0);
    // A client never seen starts fresh.
    const ClientState fresh = store.take(42);
    CHECK((fresh.bottom.empty() && fresh.optimizer.empty() && fresh.data_epoch == 0 && fresh.codec_draws == 0));
    store.put(3, state_of(100, 50, 3));
    store.put(4, state_of(100, 50, 4));
    store.release_files();
    CHECK_FALSE(fs::exists(dir / ("spill-" + std::to_string(fit))));
  }
}

TEST_CASE("the store's folder: stale states are cleared, an unwritable folder is refused at start-up") {
  TempDir dir;
  fs::create_directories(dir / "states");
  write_bytes(dir / "states/client-7.state", {1, 2, 3});
  write_bytes(dir / "states/notes.txt", {1});
  StateStore store(1000, dir / "states");
  store.prepare();
  CHECK_FALSE(fs::exists(dir / "states/client-7.state"));
  CHECK(fs::exists(dir / "states/notes.txt"));  // not the store's
  write_bytes(dir / "file", {0});
  StateStore blocked(1000, dir / "file/states");
  CHECK_THROWS_WITH_AS(blocked.prepare(), doctest::Contains("cannot write client states to"), ConfigError);
}

TEST_CASE("client files: any rank reads any rank's entries; a damaged file is refused") {
  TempDir dir;
  const std::string path = dir / "clients-1-of-2.bin";
  std::vector<std::vector<uint8_t>> entries;
  {
    ClientFileWriter w(path);
    for (const size_t size : {0, 1, 7, 4096}) {
      entries.push_back(state_of(size, 0, static_cast<int64_t>(size)).bottom);
      w.add(static_cast<int64_t>(entries.size()) * 10, entries.back());
    }
    w.close();
  }
  const auto index = read_client_index(path);
  REQUIRE(index.size() == entries.size());
  for (size_t i = 0; i < index.size(); ++i) {
    CHECK(index[i].id == static_cast<int64_t>(i + 1) * 10);
    CHECK(read_client_entry(path, index[i]) == entries[i]);
  }
  const auto good = file_bytes(path);
  for (const size_t at : {size_t{3}, size_t{20}, good.size() / 2, good.size() - 5}) {
    auto bad = good;
    bad[at] ^= 0x40;
    write_bytes(path, bad);
    CAPTURE(at);
    CHECK_THROWS_WITH_AS(read_client_index(path), doctest::Contains("is corrupt"), CheckpointError);
  }
  for (const size_t keep : {size_t{0}, size_t{8}, good.size() - 1}) {
    write_bytes(path, std::vector<uint8_t>(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(keep)));
    CAPTURE(keep);
    CHECK_THROWS_AS(read_client_index(path), CheckpointError);
  }
  CHECK_THROWS_WITH_AS(read_client_index(dir / "none.bin"), doctest::Contains("is missing"), CheckpointError);
  // A checkpoint whose client files are not all there is refused; a complete set lists in rank order.
  const CheckpointStore store(dir.path().string());
  fs::create_directories(dir / "ck");
  ClientFileWriter(store.client_file(dir / "ck", 2, 2)).close();
  CHECK_THROWS_WITH_AS(store.client_files(dir / "ck"), doctest::Contains("clients-1-of-2.bin is missing"),
                       CheckpointError);
  ClientFileWriter(store.client_file(dir / "ck", 1, 2)).close();
  CHECK(store.client_files(dir / "ck") ==
        std::vector<std::string>{store.client_file(dir / "ck", 1, 2), store.client_file(dir / "ck", 2, 2)});
}

TEST_CASE("momentum leaves and re-enters an optimizer exactly") {
  torch::manual_seed(1);
  torch::nn::Linear net(3, 2);
  TrainConfig c;
  c.lr = 0.1;
  c.momentum = 0.9;
  c.weight_decay = 0;
  torch::optim::SGD opt = make_sgd(*net, c);
  CHECK(save_momentum(opt).empty());  // no step yet: no buffers
  net->forward(torch::ones({4, 3})).sum().backward();
  opt.step();
  const auto bytes = save_momentum(opt);
  CHECK(bytes.size() == 2 + (6 + 2) * sizeof(float));
  torch::optim::SGD other = make_sgd(*net, c);
  load_momentum(other, bytes);
  CHECK(save_momentum(other) == bytes);
  load_momentum(other, {});
  CHECK(save_momentum(other).empty());
  CHECK_THROWS_AS(load_momentum(other, std::vector<uint8_t>(bytes.begin(), bytes.end() - 1)), TrainError);
}

namespace {

RunContext host_context(const std::string& topology) {
  TrainConfig c;
  c.topology = topology;
  c.clients = 3;
  c.dataset = "synthetic";
  c.synthetic_train = 96;
  c.synthetic_test = 32;
  c.batch_size = 16;
  c.epochs = 1;
  c.threads = 1;
  c.output = "unused.h5";
  return make_context(c, 4);
}

std::vector<uint8_t> one_step(ClientHost& host, ServerCore& server, int64_t client) {
  ClientHost::Forward f = host.forward(0, 0);
  CHECK(f.header.client == client);
  ServerCore::Result r = server.train_step(client, f.header, f.payload, 0);
  host.backward(r.grad_payload, 0);
  return host.bottom_state();
}

}  // namespace

TEST_CASE("after a state swap the optimizer steps the live weights, and every client's bottom changes in its turn") {
  SUBCASE("parallel rounds: each client trains its own bottom") {
    const RunContext ctx = host_context("sflv1");
    const auto train = data::open_split(ctx.dataset, true), test = data::open_split(ctx.dataset, false);
    StateStore store(1 << 20, "");
    ClientHost host(ctx, RoundKind::parallel, *train, *test, {1, 2, 3}, at::kCPU, store);
    ServerCore server(ctx, at::kCPU);
    server.set_lr(0.05);
    const auto initial = save_state(*ctx.net.bottom.ptr());
    std::map<int64_t, std::vector<uint8_t>> last;
    for (int64_t round_step = 0; round_step < 3; ++round_step) {
      for (int64_t client = 1; client <= 3; ++client) {
        host.activate(client);
        if (round_step == 0) {
          host.start_round(nullptr);
          host.begin(0, 0, 0.05);
          CHECK(host.bottom_state() == initial);
        } else {
          CHECK(host.bottom_state() == last[client]);  // its own bottom came back
        }
        const auto after = one_step(host, server, client);
        CHECK(after != (round_step == 0 ? initial : last[client]));  // the step moved the live weights
        last[client] = after;
      }
    }
    CHECK(last[1] != last[2]);
    CHECK(last[2] != last[3]);
    host.deactivate();
    CHECK(store.held() == 3);
  }
  SUBCASE("turns: one shared bottom, each client's optimizer steps it") {
    const RunContext ctx = host_context("sequential");
    const auto train = data::open_split(ctx.dataset, true), test = data::open_split(ctx.dataset, false);
    StateStore store(1 << 20, "");
    ClientHost host(ctx, RoundKind::turns, *train, *test, {1, 2, 3}, at::kCPU, store);
    ServerCore server(ctx, at::kCPU);
    server.set_lr(0.05);
    auto before = host.bottom_state();
    for (int turn = 0; turn < 6; ++turn) {
      const int64_t client = turn % 3 + 1;
      host.activate(client);
      CHECK(host.bottom_state() == before);  // a swap does not touch the shared bottom
      host.begin(0, turn / 3, 0.05);
      const auto after = one_step(host, server, client);
      CHECK(after != before);
      before = after;
    }
  }
}
