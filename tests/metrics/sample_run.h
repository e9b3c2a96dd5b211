#pragma once
// Rows and attributes for the metrics tests: every field of a row a different function of its index, so that a
// field written to the wrong column, or a row to the wrong place, shows up.
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "mesl/metrics/run_writer.h"

namespace mesl::testing {

inline metrics::StepRow sample_step(int64_t i) {
  metrics::StepRow row;
  row.step = i;
  row.epoch = 100 + i;
  row.round = 200 + i;
  row.client = 1 + i % 3;
  row.batch_size = 64 - i % 5;
  row.loss = 2.5 - 0.001 * static_cast<double>(i);
  row.fwd_bytes = 1000000 + 17 * i;
  row.bwd_bytes = 2000000 + 19 * i;
  row.encode_s = 0.001 * static_cast<double>(i);
  row.decode_s = 0.002 * static_cast<double>(i);
  row.compute_s = 0.003 * static_cast<double>(i);
  row.comm_s = 0.004 * static_cast<double>(i);
  row.rel_error = 0.0001 * static_cast<double>(i);
  return row;
}

inline metrics::EpochRow sample_epoch(int64_t i) {
  metrics::EpochRow row;
  row.epoch = i;
  row.train_loss = 1.0 / static_cast<double>(i + 1);
  row.test_acc1 = 0.5 + 0.01 * static_cast<double>(i);
  row.test_acc5 = 0.9 + 0.001 * static_cast<double>(i);
  row.fwd_bytes = 50000000 * (i + 1);
  row.bwd_bytes = 40000000 * (i + 1);
  row.model_bytes = 3000000 * (i + 1);
  row.control_bytes = 100 * (i + 1);
  row.wall_s = 12.5 * static_cast<double>(i + 1);
  row.link_s = 8.25 * static_cast<double>(i + 1);
  row.lr = 0.1 / static_cast<double>(i + 1);
  row.samples = 1000 + i;
  row.train_s = 2.5 * static_cast<double>(i + 1);
  row.participants = 10 + 3 * i;
  return row;
}

// Each column's expected value, read from the row independently of the library's own field-to-column code.
using StepField = std::pair<std::string, std::function<double(const metrics::StepRow&)>>;
using EpochField = std::pair<std::string, std::function<double(const metrics::EpochRow&)>>;

inline const std::vector<StepField>& step_fields() {
  static const std::vector<StepField> fields = {
      {"step", [](const metrics::StepRow& r) { return static_cast<double>(r.step); }},
      {"epoch", [](const metrics::StepRow& r) { return static_cast<double>(r.epoch); }},
      {"round", [](const metrics::StepRow& r) { return static_cast<double>(r.round); }},
      {"client", [](const metrics::StepRow& r) { return static_cast<double>(r.client); }},
      {"batch_size", [](const metrics::StepRow& r) { return static_cast<double>(r.batch_size); }},
      {"loss", [](const metrics::StepRow& r) { return r.loss; }},
      {"fwd_bytes", [](const metrics::StepRow& r) { return static_cast<double>(r.fwd_bytes); }},
      {"bwd_bytes", [](const metrics::StepRow& r) { return static_cast<double>(r.bwd_bytes); }},
      {"encode_s", [](const metrics::StepRow& r) { return r.encode_s; }},
      {"decode_s", [](const metrics::StepRow& r) { return r.decode_s; }},
      {"compute_s", [](const metrics::StepRow& r) { return r.compute_s; }},
      {"comm_s", [](const metrics::StepRow& r) { return r.comm_s; }},
      {"rel_error", [](const metrics::StepRow& r) { return r.rel_error; }},
  };
  return fields;
}

inline const std::vector<EpochField>& epoch_fields() {
  static const std::vector<EpochField> fields = {
      {"epoch", [](const metrics::EpochRow& r) { return static_cast<double>(r.epoch); }},
      {"train_loss", [](const metrics::EpochRow& r) { return r.train_loss; }},
      {"test_acc1", [](const metrics::EpochRow& r) { return r.test_acc1; }},
      {"test_acc5", [](const metrics::EpochRow& r) { return r.test_acc5; }},
      {"fwd_bytes", [](const metrics::EpochRow& r) { return static_cast<double>(r.fwd_bytes); }},
      {"bwd_bytes", [](const metrics::EpochRow& r) { return static_cast<double>(r.bwd_bytes); }},
      {"model_bytes", [](const metrics::EpochRow& r) { return static_cast<double>(r.model_bytes); }},
      {"control_bytes", [](const metrics::EpochRow& r) { return static_cast<double>(r.control_bytes); }},
      {"wall_s", [](const metrics::EpochRow& r) { return r.wall_s; }},
      {"link_s", [](const metrics::EpochRow& r) { return r.link_s; }},
      {"lr", [](const metrics::EpochRow& r) { return r.lr; }},
      {"samples", [](const metrics::EpochRow& r) { return static_cast<double>(r.samples); }},
      {"train_s", [](const metrics::EpochRow& r) { return r.train_s; }},
      {"participants", [](const metrics::EpochRow& r) { return static_cast<double>(r.participants); }},
  };
  return fields;
}

// Five clients whose every field tells its column apart; `rounds` scales the counts (the table is rewritten).
inline std::vector<metrics::ClientRow> sample_clients(int64_t rounds) {
  std::vector<metrics::ClientRow> rows;
  for (int64_t c = 1; c <= 5; ++c) {
    metrics::ClientRow r;
    r.client = c;
    r.rank = (c + 1) / 2;
    r.shard_size = 100 * c;
    r.steps = 10 * c * rounds;
    r.fwd_bytes = 1000 * c;
    r.bwd_bytes = 2000 * c;
    r.model_bytes = 3000 * c;
    r.control_bytes = 4000 * c;
    r.rounds = rounds;
    rows.push_back(r);
  }
  return rows;
}

inline std::vector<metrics::RankRow> sample_ranks() {
  std::vector<metrics::RankRow> rows(2);
  for (int64_t i = 0; i < 2; ++i) {
    metrics::RankRow& r = rows[static_cast<size_t>(i)];
    r.rank = i;
    r.clients = 5 * i;
    r.peak_rss_bytes = (1 + i) << 28;
    r.state_peak_bytes = 77 * i;
    r.states_held = 5 * i;
    r.state_bytes = 4321 * i;
    r.spill_writes = 3 * i;
    r.spill_reads = 2 * i;
    r.spill_peak_bytes = 1234 * i;
    r.spill_s = 0.5 * static_cast<double>(i);
    r.first_step_s = 1.25 + static_cast<double>(i);
  }
  return rows;
}

inline metrics::RunAttributes sample_attributes() {
  metrics::RunAttributes attributes;
  attributes.config_json =
      R"({"method": "ms", "codec": "ms:keep=0.01,bits=2", "epochs": 3, "note": "a \"quoted\" μ"})";
  attributes.cut_shape = {64, 16, 16};
  attributes.world_size = 11;
  attributes.hosts = {"node-1", "node \"2\"\\x"};
  attributes.strings = {{"method", "ms"}, {"codec", "ms:keep=0.01,bits=2"}, {"model", "cnn"},
                        {"dataset", "fashion-mnist"}, {"topology", "sequential"}};
  attributes.ints = {{"cut", 2}, {"clients", 10}, {"seed", 1}};
  attributes.doubles = {{"bpe", 2.32}};
  return attributes;
}

inline std::vector<metrics::MessageTotal> sample_totals() {
  return {{"fwd", 12, 1234567, 480}, {"bwd", 12, 7654321, 0}, {"model", 2, 999, 0}};
}

}  // namespace mesl::testing
