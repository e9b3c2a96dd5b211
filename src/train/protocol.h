#pragma once
// The messages of mesl's split-learning protocol (docs/protocol.md) and their byte layouts. Payloads of the codecs
// travel as they are (tag kTagFwd, kTagBwd); everything else is one of the small structs below, serialised as
// fixed little-endian fields so that every byte on the wire is accounted for.
//
//   server -> client   Control{start_turn | train_round | evaluate | checkpoint | pause | average | stop},
//                      Bwd payload, Alive
//   client -> server   StepHeader (+ Fwd payload), StepDone, Control{turn_end | round_end | eval_end |
//                      checkpoint_done}, Model (for FedAvg), Signal
//   client -> client   Model (sequential: the bottom handed to the next client)
#include <cstdint>
#include <string>
#include <vector>

namespace mesl::train {

enum Tag : int {
  kTagControl = 1,
  kTagStep = 2,      // StepHeader: before each forward payload
  kTagFwd = 3,       // forward activations (codec payload)
  kTagBwd = 4,       // cut-layer gradient (codec payload)
  kTagModel = 5,     // a bottom model's state
  kTagStepDone = 6,  // StepDone: the client's timings after its backward
  kTagSignal = 7,    // a client received SIGTERM/SIGUSR1: the server should stop the job at a safe point
  kTagAlive = 8,     // empty, server -> idle client: the server still runs (not counted as traffic)
};

// Liveness of the server, as an idle client sees it. A client waiting for its turn cannot tell a long turn of
// another client from a stopped server, so while the server waits for some clients it tells every other client
// that it runs, at least every alive_every_s; a waiting client that hears nothing from the server for
// idle_limit_s ends the job. The limit leaves room for one interval plus --timeout-s of the server's own work
// (a step, an epoch's row, a checkpoint), and 2 s more, so that a client in its turn, which waits --timeout-s,
// reports a stopped server first.
inline double alive_every_s(double timeout_s) { return timeout_s / 4; }
inline double idle_limit_s(double timeout_s) { return timeout_s + alive_every_s(timeout_s) + 2.0; }

enum class ControlType : uint32_t {
  start_turn = 1,   // sequential: train `steps` batches (0: a local epoch) of epoch/round
  train_round = 2,  // sflv1/sflv2: everyone trains this round
  evaluate = 3,     // evaluate the test slice [begin, end)
  stop = 4,         // the run is over
  turn_end = 5,     // a client finished its turn/round; value = bytes it sent to other clients
  round_end = 6,
  eval_end = 7,     // value = test samples sent
  checkpoint = 8,   // save your part of the checkpoint in directory `extra`; `value`: the rank that must first
                    // take the bottom handed to it (sequential), 0 for none
  checkpoint_done = 9,
  pause = 10,       // finish the step in flight and end your turn now (the job is stopping)
  average = 11,     // sflv1/sflv2: `extra` is the averaged bottom (FedAvg)
};

// Control::flags
inline constexpr int64_t kFlagContinue = 1;  // start_turn: continue your own interrupted turn (no hand-over to take)
inline constexpr int64_t kFlagHandOver = 2;  // start_turn: hand the bottom to the next client after the turn
inline constexpr int64_t kFlagPaused = 4;    // turn_end / round_end: the turn ended early because of a pause

struct Control {
  explicit Control(ControlType t = ControlType::stop, int64_t epoch_ = 0, int64_t round_ = 0, int64_t steps_ = 0)
      : type(t), epoch(epoch_), round(round_), steps(steps_) {}
  ControlType type = ControlType::stop;
  int64_t epoch = 0;
  int64_t round = 0;
  int64_t steps = 0;
  int64_t begin = 0, end = 0;
  int64_t value = 0;
  int64_t flags = 0;
  std::vector<uint8_t> extra;  // a checkpoint directory, an averaged model

  std::vector<uint8_t> serialize() const;
  static Control parse(const std::vector<uint8_t>& bytes);
};

enum class StepKind : uint32_t { train = 1, eval = 2 };

// Sent before every forward payload. The labels travel here: the server computes the loss.
struct StepHeader {
  StepKind kind = StepKind::train;
  int64_t epoch = 0;
  int64_t round = 0;
  int64_t batch_size = 0;
  double forward_s = 0;   // client: bottom forward
  double encode_s = 0;    // client: forward encode
  double rel_error = 0;   // client: ||x - x_hat|| / ||x|| of this payload
  std::vector<int32_t> labels;

  std::vector<uint8_t> serialize() const;
  static StepHeader parse(const std::vector<uint8_t>& bytes);
};

// Sent after the client's backward, so the server can complete the step's metrics.
struct StepDone {
  double decode_s = 0;    // client: gradient decode
  double backward_s = 0;  // client: bottom backward and optimizer step
  double blocked_s = 0;   // client: from sending the header to holding the gradient

  std::vector<uint8_t> serialize() const;
  static StepDone parse(const std::vector<uint8_t>& bytes);
};

}  // namespace mesl::train
