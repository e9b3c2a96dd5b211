#pragma once
// The messages of mesl's split-learning protocol (docs/protocol.md) and their byte layouts. Payloads of the codecs
// travel as they are (tag kTagFwd, kTagBwd); everything else is one of the small structs below, serialised as
// fixed little-endian fields so that every byte on the wire is accounted for. A client rank hosts several clients
// (schedule.h, Placement): the messages of split learning name the client they are for or from.
//
//   server -> client rank   Control{start_turn | train_round | go | evaluate | checkpoint | pause | stop}, Bwd,
//                           Alive
//   client rank -> server   StepHeader (+ Fwd payload), StepDone, Control{turn_end | round_end | eval_end |
//                           checkpoint_done | report}, Model (a bottom for FedAvg), Signal
//   client rank -> rank     Model (sequential: the bottom handed to the next client, when it lives elsewhere)
//
// Counted traffic (docs/protocol.md, "Counting") is split learning's, as if every client were its own machine:
// the per-client messages (start_turn, train_round, turn_end, round_end, StepHeader, Fwd, Bwd, StepDone, Model,
// and the hand-over between clients on one rank, which travels in memory). The simulator's own orchestration
// (go, evaluate, eval_end, checkpoint, checkpoint_done, pause, stop, report, Signal, Alive) is not counted;
// evaluation's StepHeaders and payloads are, apart (eval_fwd).
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
  start_turn = 1,   // turns: `client` trains `steps` batches from batch `begin` of epoch/round; `peer`: the client
                    // whose rank holds the newest bottom (0: this rank has it); `value`: the client to hand the
                    // bottom to after the turn (0: none)
  train_round = 2,  // parallel: `client` trains `steps` batches from `begin`; `value`: how many train_round
                    // messages its rank gets this round (they all come at the round's start); `extra`: the
                    // round's starting bottom (the last FedAvg) when the client starts the round afresh
  evaluate = 3,     // evaluate test batches [begin, end) (of --eval-batch-size); `extra`: the bottom to use, or
                    // empty for the one the rank holds (turns)
  stop = 4,         // the run is over
  turn_end = 5,     // `client` finished its turn; `value` = bytes it handed to the next client
  round_end = 6,    // `client` finished its round (its bottom follows as a Model message unless paused)
  eval_end = 7,     // value = test samples sent
  checkpoint = 8,   // save your part of the checkpoint in directory `extra`; `value`: a client whose bottom the
                    // rank that hosts it also saves (turns: the newest bottom), 0 for none
  checkpoint_done = 9,
  pause = 10,       // finish the step in flight and end every turn or round of this rank now (the job stops)
  report = 12,      // a client rank's answer to stop: what it used (resources.h), in `extra`
  go = 13,          // round robin: `client` takes its next step now (the server calls every step)
};

// Control::flags
inline constexpr int64_t kFlagPaused = 4;  // turn_end / round_end: the turn or round ended early (a pause)

struct Control {
  explicit Control(ControlType t = ControlType::stop, int64_t epoch_ = 0, int64_t round_ = 0, int64_t steps_ = 0)
      : type(t), epoch(epoch_), round(round_), steps(steps_) {}
  ControlType type = ControlType::stop;
  int64_t client = 0;  // the client it is for or from (0: the rank)
  int64_t peer = 0;    // another client it concerns (start_turn)
  int64_t epoch = 0;
  int64_t round = 0;
  int64_t steps = 0;
  int64_t begin = 0, end = 0;
  int64_t value = 0;
  int64_t flags = 0;
  std::vector<uint8_t> extra;  // a checkpoint directory, a bottom

  std::vector<uint8_t> serialize() const;
  static Control parse(const std::vector<uint8_t>& bytes);
};

enum class StepKind : uint32_t { train = 1, eval = 2 };

// Sent before every forward payload. The labels travel here: the server computes the loss.
struct StepHeader {
  StepKind kind = StepKind::train;
  int64_t client = 0;     // the client whose batch it is (0 in evaluation)
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
