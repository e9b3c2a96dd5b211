#include "mesl/train/activations.h"

#include "context.h"
#include "halves.h"
#include "mesl/error.h"

namespace mesl::train {

Activations sample_activations(const TrainConfig& raw, int64_t train_steps, int64_t batches) {
  TrainConfig config = raw;
  config.topology = "local";
  config.clients = 1;
  config.codec = codec::CodecOptions(codec::Method::identity);
  const RunContext ctx = make_context(config, 1);
  const auto train_split = data::open_split(ctx.dataset, true);
  const auto test_split = data::open_split(ctx.dataset, false);
  BottomHalf bottom(ctx.net.bottom, ctx.config, at::kCPU);
  TopHalf top(ctx.net.top, ctx.config, at::kCPU);

  Activations out;
  out.cut = ctx.cut;
  out.cut_shape = ctx.cut_shape;
  data::Loader loader(*train_split, ctx.info, ctx.shards.at(0), train_loader_options(ctx, 1));
  double tail_loss = 0;
  int64_t tail_steps = 0;
  for (int64_t i = 0; i < train_steps; ++i) {
    const data::Batch b = loader.batch(i / loader.num_batches(), i % loader.num_batches());
    const at::Tensor act = bottom.forward(b.images);
    const TopStep step = top.train_step(act.detach(), b.labels);
    bottom.backward(step.grad);
    if (i >= train_steps - std::max<int64_t>(1, train_steps / 10)) {
      tail_loss += step.loss;
      ++tail_steps;
    }
  }
  out.train_loss = tail_steps ? tail_loss / static_cast<double>(tail_steps) : 0.0;
  data::Loader test = test_loader(ctx, *test_split, 0, ctx.test_size);
  MESL_CHECK(test.num_batches() > 0, ConfigError, "the test set is empty; check --test-limit");
  for (int64_t i = 0; i < std::min(batches, test.num_batches()); ++i) {
    const data::Batch b = test.batch(0, i);
    // Only whole batches, so that every tensor has the same shape and the same codec settings.
    if (b.labels.size(0) != ctx.config.eval_batch_size && !out.tensors.empty()) break;
    out.tensors.push_back(bottom.infer(b.images));
  }
  return out;
}

}  // namespace mesl::train
