// The local topology: sequential split learning in one process, with the same workers, model and codecs as the
// MPI roles but no transport. It is the reference that shows what the split and the transport cost. Payload bytes
// (forward, backward, evaluation) are counted as the codecs produce them; there are no control or model messages.
#include "mesl/train/run.h"
#include "recorder.h"
#include "workers.h"

namespace mesl::train {

int run_local(const RunContext& ctx, Recorder& rec) {
  const TrainConfig& c = ctx.config;
  const auto train_split = data::open_split(ctx.dataset, true);
  const auto test_split = data::open_split(ctx.dataset, false);
  const models::SplitNet& net = ctx.net;
  const at::Device client_device = parse_device(c.client_device, 0);
  const at::Device server_device = parse_device(c.server_device, 0);

  std::vector<std::unique_ptr<ClientWorker>> clients;
  for (int64_t k = 1; k <= c.clients; ++k) {
    clients.push_back(std::make_unique<ClientWorker>(ctx, k, *train_split, *test_split,
                                                     clone_sequential(net.bottom), client_device));
  }
  ServerWorker server(ctx, net, server_device);
  comm::Traffic& traffic = rec.traffic();

  ClientWorker* holder = nullptr;  // the client whose bottom is the newest
  for (int64_t round = 0; round < *c.epochs; ++round) {
    const double lr = learning_rate(c, round);
    server.set_lr(lr);
    for (auto& w : clients) {
      w->begin_round(round, lr);
      // Sequential split learning hands the bottom from client to client; here it is a copy in memory.
      if (holder && holder != w.get()) load_state(*w->bottom().net(), save_state(*holder->bottom().net()));
      const int64_t steps = w->turn_steps();
      for (int64_t i = 0; i < steps; ++i) {
        ClientWorker::Forward f = w->forward(round, round);
        ServerWorker::Result r = server.train_step(w->client(), f.header, f.payload);
        traffic.count(comm::Direction::fwd, f.payload.size(), payload_header_bytes(f.payload));
        traffic.count(comm::Direction::bwd, r.grad_payload.size(), payload_header_bytes(r.grad_payload));
        const StepDone done = w->backward(r.grad_payload, r.server_s);
        complete_row(r.row, done, r.server_s);
        r.row.step = rec.next_step();
        rec.add_step(r.row);
      }
      holder = w.get();
    }
    EvalCounts test;
    holder->evaluate(0, ctx.test_size, [&](const StepHeader& h, const std::vector<uint8_t>& payload) {
      traffic.count(comm::Direction::eval_fwd, payload.size(), payload_header_bytes(payload));
      test.add(server.eval_step(h, payload));
    });
    rec.end_epoch(round, test, lr);
  }
  rec.finish();
  return 0;
}

}  // namespace mesl::train
