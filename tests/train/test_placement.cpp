// The placement property (docs/protocol.md, "Clients and ranks"): with one seed and --threads 1, a run gives the
// same numbers however its N clients are placed on R client ranks. Whole runs, with the ranks as threads of this
// process on the in-process transport; the metrics files are compared per client and step, bit for bit.
#include <doctest/doctest.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "../common/h5_column.h"
#include "mesl/comm/inproc_transport.h"
#include "mesl/h5/h5.h"
#include "mesl/train/run.h"

using namespace mesl;
using namespace mesl::train;

namespace {

struct Run {
  std::map<std::string, std::vector<double>> steps, epochs, clients, messages;
  std::vector<std::string> message_types;
};

using mesl::testing::column;

Run read_run(const std::string& path) {
  const h5::File f(path, h5::Mode::read_only);
  Run r;
  for (const char* c : {"step", "client", "epoch", "batch_size", "loss", "fwd_bytes", "bwd_bytes", "rel_error"})
    r.steps[c] = column(f, std::string("steps/") + c);
  for (const char* c : {"test_acc1", "test_acc5", "train_loss", "fwd_bytes", "bwd_bytes", "model_bytes",
                        "control_bytes", "link_s", "participants"})
    r.epochs[c] = column(f, std::string("epochs/") + c);
  for (const char* c : {"client", "shard_size", "steps", "fwd_bytes", "bwd_bytes", "model_bytes", "control_bytes",
                        "rounds", "rank"})
    r.clients[c] = column(f, std::string("clients/") + c);
  for (const char* c : {"count", "bytes"}) r.messages[c] = column(f, std::string("messages/") + c);
  r.message_types = f.group("messages").read_strings("type");
  return r;
}

// A column of /steps restricted to one client, in the order the server served that client's steps.
std::vector<double> of_client(const Run& r, const std::string& name, double client) {
  std::vector<double> out;
  for (size_t i = 0; i < r.steps.at("client").size(); ++i)
    if (r.steps.at("client")[i] == client) out.push_back(r.steps.at(name)[i]);
  return out;
}

TrainConfig small(const std::string& topology, int64_t clients, const std::string& output) {
  TrainConfig c;
  c.topology = topology;
  c.clients = clients;
  c.dataset = "synthetic";
  c.synthetic_train = 320;
  c.synthetic_test = 130;  // with --eval-batch-size 50: two whole batches and an odd one
  c.eval_batch_size = 50;
  c.batch_size = 32;
  c.epochs = 2;
  c.lr = 0.05;
  c.threads = 1;
  c.quiet = true;
  c.timeout_s = 60;
  c.codec = codec::parse_spec("rt:keep=0.05");  // a random stream per client: placement must not mix them up
  c.codec.seed(3);
  c.output = output;
  c.overwrite = true;  // one file per topology, written again by each placement
  return c;
}

// Runs `config` on `ranks` client ranks (threads), or locally when ranks is 0.
Run train_run(TrainConfig config, int ranks) {
  if (ranks == 0) {
    CHECK(run_training(config, nullptr) == 0);
  } else {
    comm::run_ranks(ranks + 1, [&](comm::Transport& t) { CHECK(run_training(config, &t) == 0); });
  }
  return read_run(config.output);
}

void check_same(const Run& a, const Run& b, bool control_too = true) {
  for (double client = 1; client <= static_cast<double>(a.clients.at("client").size()); ++client) {
    CAPTURE(client);
    for (const char* c : {"loss", "fwd_bytes", "bwd_bytes", "rel_error", "batch_size", "epoch"})
      CHECK(of_client(a, c, client) == of_client(b, c, client));
  }
  for (const char* c : {"test_acc1", "test_acc5", "fwd_bytes", "bwd_bytes", "participants"})
    CHECK(a.epochs.at(c) == b.epochs.at(c));
  if (!control_too) return;
  for (const char* c : {"model_bytes", "control_bytes", "link_s"}) CHECK(a.epochs.at(c) == b.epochs.at(c));
  for (const char* c : {"steps", "fwd_bytes", "bwd_bytes", "model_bytes", "control_bytes", "rounds", "shard_size"})
    CHECK(a.clients.at(c) == b.clients.at(c));
  CHECK(a.messages.at("count") == b.messages.at("count"));
  CHECK(a.messages.at("bytes") == b.messages.at("bytes"));
}

// Byte counts equal the bytes sent: every client's totals add up to the totals by message type.
void check_reconciles(const Run& r) {
  const std::map<std::string, std::string> columns{
      {"fwd", "fwd_bytes"}, {"bwd", "bwd_bytes"}, {"model", "model_bytes"}, {"control", "control_bytes"}};
  for (size_t i = 0; i < r.message_types.size(); ++i) {
    const auto it = columns.find(r.message_types[i]);
    if (it == columns.end()) continue;
    double sum = 0;
    for (const double v : r.clients.at(it->second)) sum += v;
    CAPTURE(r.message_types[i]);
    CHECK(sum == r.messages.at("bytes")[i]);
  }
  double steps = 0;
  for (const double v : r.clients.at("steps")) steps += v;
  CHECK(steps == static_cast<double>(r.steps.at("step").size()));
}

std::string temp_file(const std::string& name) {
  const std::string file = "mesl-placement-" + std::to_string(getpid()) + "-" + name;
  return (std::filesystem::temp_directory_path() / file).string();
}

}  // namespace

TEST_CASE("a run's numbers do not depend on how its clients are placed on ranks") {
  struct Case {
    std::string topology;
    int64_t clients;
    double participation;
  };
  const std::vector<Case> cases = {
      {"sequential", 1, 0}, {"sequential", 3, 0}, {"sequential", 5, 0.6},
      {"sflv1", 1, 0},      {"sflv1", 3, 0},      {"sflv1", 5, 0.6},
      {"sflv2", 3, 0},      {"sflv2", 5, 0.6},
  };
  for (const Case& k : cases) {
    CAPTURE(k.topology);
    CAPTURE(k.clients);
    CAPTURE(k.participation);
    std::vector<int> placements{1};  // R = 1, 2 and N (one client per rank), where they differ
    if (k.clients > 2) placements.push_back(2);
    if (k.clients > 1) placements.push_back(static_cast<int>(k.clients));
    Run reference;
    for (const int ranks : placements) {
      CAPTURE(ranks);
      TrainConfig c = small(k.topology, k.clients, temp_file(k.topology + ".h5"));
      c.participation = k.participation;
      if (k.topology == "sflv2") c.serve_order = ServeOrder::round_robin;
      const Run run = train_run(c, ranks);
      check_reconciles(run);
      // One client per rank: /clients maps id c to rank c.
      if (ranks == k.clients)
        for (size_t i = 0; i < run.clients.at("rank").size(); ++i)
          CHECK(run.clients.at("rank")[i] == static_cast<double>(i + 1));
      if (ranks == 1) reference = run;
      else check_same(reference, run);
      // sflv2 in round-robin order serves the same steps in the same order: the whole table matches, row by row.
      if (k.topology == "sflv2" && ranks > 1) CHECK(run.steps.at("client") == reference.steps.at("client"));
    }
    std::filesystem::remove(temp_file(k.topology + ".h5"));
  }
}

TEST_CASE("client states spilled to files and read back change no number") {
  for (const std::string topology : {"sequential", "sflv1"}) {
    CAPTURE(topology);
    TrainConfig c = small(topology, 7, temp_file("unspilled.h5"));
    c.epochs = 3;  // states written in one epoch are read back in the next
    const Run unspilled = train_run(c, 2);
    c.output = temp_file("spilled.h5");
    c.client_state_memory = 3000;  // about one state per rank in memory (1,330 bytes; 2,610 mid-round in sflv1)
    c.state_dir = temp_file("states");
    const Run spilled = train_run(c, 2);
    check_same(unspilled, spilled);
    const h5::File f(c.output, h5::Mode::read_only);
    double writes = 0, reads = 0;
    for (const double v : column(f, "ranks/spill_writes")) writes += v;
    for (const double v : column(f, "ranks/spill_reads")) reads += v;
    CHECK(writes > 0);
    CHECK(reads > 0);
    CHECK_FALSE(std::filesystem::exists(c.state_dir));  // a run that ended well removes its spill folder
    std::filesystem::remove(temp_file("unspilled.h5"));
    std::filesystem::remove(c.output);
  }
}

TEST_CASE("the local topology equals sequential, whatever the placement") {
  for (const int64_t clients : {1, 4}) {
    CAPTURE(clients);
    const Run local = train_run(small("local", clients, temp_file("local.h5")), 0);
    const Run mpi = train_run(small("sequential", clients, temp_file("seq.h5")), clients > 1 ? 2 : 1);
    // The local topology counts the codec payloads only; everything else is the same.
    check_same(local, mpi, /*control_too=*/false);
    CHECK(local.steps.at("client") == mpi.steps.at("client"));
    std::filesystem::remove(temp_file("local.h5"));
    std::filesystem::remove(temp_file("seq.h5"));
  }
}
