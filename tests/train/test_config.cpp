// Training configuration: the paper's defaults per model, validation that names the fix, and the JSON form.
#include <doctest/doctest.h>

#include "mesl/error.h"
#include "mesl/train/config.h"

using namespace mesl::train;

namespace {

std::string refusal(TrainConfig c, int world) {
  try {
    validate(resolve_defaults(c, world), world);
  } catch (const mesl::ConfigError& e) {
    return e.what();
  }
  return "accepted";
}

}  // namespace

TEST_CASE("defaults follow the seed paper's code per model") {
  TrainConfig c;
  c.model = "resnet18";
  const TrainConfig r = resolve_defaults(c, 11);
  CHECK(r.clients == 10);
  CHECK(*r.lr == 0.1);
  CHECK(*r.weight_decay == 5e-4);
  CHECK(*r.batch_size == 256);
  CHECK(*r.epochs == 200);
  CHECK(*r.schedule == LrSchedule::multistep);
  CHECK(r.milestones == std::vector<int64_t>{60, 120, 160});
  CHECK(*r.gamma == 0.2);
  c.model = "resnet34";
  CHECK(*resolve_defaults(c, 11).weight_decay == 1e-4);
  CHECK(*resolve_defaults(c, 11).schedule == LrSchedule::step);
  c.model = "vgg19";
  CHECK(*resolve_defaults(c, 11).schedule == LrSchedule::cosine);
  c.lr = 0.01;  // what the user sets wins
  CHECK(*resolve_defaults(c, 11).lr == 0.01);
  TrainConfig l;
  l.topology = "local";
  CHECK(resolve_defaults(l, 1).clients == 1);
}

TEST_CASE("impossible configurations are refused with the fix") {
  TrainConfig c;
  CHECK(refusal(c, 1).find("mpirun -np") != std::string::npos);
  c.clients = 2;  // fewer clients than client ranks
  CHECK(refusal(c, 4).find("mpirun -np 3") != std::string::npos);
  TrainConfig l;
  l.topology = "local";
  CHECK(refusal(l, 3).find("without mpirun") != std::string::npos);
  TrainConfig g;
  g.grad_codec = mesl::codec::CodecOptions(mesl::codec::Method::ms).keep(0.1).bits(3);
  CHECK(refusal(g, 3).find("sign=signed") != std::string::npos);
  TrainConfig e;
  e.epochs = 0;
  CHECK(refusal(e, 3).find("--epochs") != std::string::npos);
  TrainConfig r;
  r.resume = true;
  CHECK(refusal(r, 3).find("--checkpoint-dir") != std::string::npos);
  CHECK_THROWS_WITH_AS(parse_topology("ring"), doctest::Contains("sequential, sflv1, sflv2, local"),
                       mesl::ConfigError);
}

TEST_CASE("the configuration's JSON names every setting, and its identity part leaves out where output goes") {
  TrainConfig c = resolve_defaults(TrainConfig{}, 5);
  c.codec = mesl::codec::CodecOptions(mesl::codec::Method::ms).keep(0.01).bits(2);
  const std::string json = to_json(c);
  CHECK(json.find("\"codec\":\"ms:keep=0.01,bits=2,rounding=round,sign=nonneg,scope=batch\"") != std::string::npos);
  CHECK(json.find("\"topology\":\"sequential\"") != std::string::npos);
  CHECK(json.find("\"output\":") != std::string::npos);
  const std::string id = identity_json(c);
  CHECK(id.find("\"output\":") == std::string::npos);
  TrainConfig moved = c;
  moved.output = "elsewhere.h5";
  CHECK(identity_json(moved) == id);
  moved.seed = 7;
  CHECK(identity_json(moved) != id);
}
