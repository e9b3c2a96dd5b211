#include "context.h"

#include <torch/torch.h>

#include <algorithm>
#include <mutex>
#include <numeric>
#include <string>
#include <utility>

#include "mesl/data/partition.h"
#include "mesl/error.h"

namespace mesl::train {
namespace {

// A fixed kept count (--k, batch scope) must fit the smallest batch the run encodes: the last, partial batch of a
// client's shard or of an evaluation slice. Refusing it here costs seconds; finding it at that batch costs a run.
void check_fixed_k(const RunContext& ctx) {
  const TrainConfig& c = ctx.config;
  int64_t per_sample = 1;
  for (const int64_t s : ctx.cut_shape) per_sample *= s;
  int64_t smallest = *c.batch_size;
  auto consider = [&smallest](int64_t n, int64_t batch) {
    if (n <= 0) return;
    const int64_t tail = n % batch;
    smallest = std::min(smallest, tail > 0 ? tail : std::min(n, batch));
  };
  for (const auto& shard : ctx.shards) consider(static_cast<int64_t>(shard.size()), *c.batch_size);
  // Evaluation runs the test set in batches of --eval-batch-size, however many ranks share it.
  consider(ctx.test_size, c.eval_batch_size);
  const std::pair<const char*, const codec::CodecOptions*> codecs[] = {{"--k", &c.codec},
                                                                       {"the --grad-codec k", &c.grad_codec}};
  for (const auto& [name, o] : codecs) {
    if (!codec::is_sparse(o->method()) || !o->k()) continue;
    const bool per_row = o->scope() == codec::Scope::sample;
    const int64_t elements = per_row ? per_sample : smallest * per_sample;
    MESL_CHECK(*o->k() <= elements, ConfigError, name, " ", *o->k(), " is larger than the ", elements,
               " elements of ", per_row ? "one sample's activation" : "the smallest batch this run encodes (",
               per_row ? "" : std::to_string(smallest) + " samples)", "; use a smaller k or --keep");
  }
}

}  // namespace

RunContext make_context(const TrainConfig& raw, int world_size) {
  RunContext ctx;
  ctx.config = resolve_defaults(raw, world_size);
  validate(ctx.config, world_size);
  const TrainConfig& c = ctx.config;
  ctx.world_size = world_size;

  ctx.dataset.name = c.dataset;
  ctx.dataset.dir = c.data_dir;
  ctx.dataset.seed = c.seed;
  ctx.dataset.synthetic_train = c.synthetic_train;
  ctx.dataset.synthetic_test = c.synthetic_test;
  // Synthetic data takes the shape the model expects.
  const models::ModelInfo& mi = models::model_info(c.model);
  ctx.dataset.synthetic_channels = mi.default_in_channels;
  ctx.dataset.synthetic_image_size = mi.default_image_size;
  ctx.info = data::dataset_info(ctx.dataset);

  ctx.model.name(c.model).num_classes(ctx.info.num_classes).in_channels(ctx.info.channels);
  // The model sees what the loader produces: 224-pixel crops for resized-crop sets, the stored size otherwise.
  ctx.augment = c.augment == "auto"           ? data::default_augment(ctx.info)
                : c.augment == "crop-flip"    ? data::Augment::crop_flip
                : c.augment == "resized-crop" ? data::Augment::resized_crop
                                              : data::Augment::none;
  ctx.model.image_size(ctx.augment == data::Augment::resized_crop ? 224 : ctx.info.height);
  ctx.cut = models::resolve_cut(c.model, c.cut);

  const auto split = data::open_split(ctx.dataset, /*train=*/true);
  std::vector<int64_t> labels = split->labels();
  if (c.train_limit > 0 && c.train_limit < static_cast<int64_t>(labels.size())) labels.resize(c.train_limit);
  data::PartitionOptions p;
  p.scheme = data::parse_partition_scheme(c.partition);
  p.num_clients = c.clients;
  p.alpha = c.alpha;
  p.shards_per_client = c.shards_per_client;
  p.seed = c.seed;
  ctx.shards = data::partition(labels, ctx.info.num_classes, p);
  ctx.test_size = c.test_limit > 0 ? std::min(c.test_limit, ctx.info.test_size) : ctx.info.test_size;
  {
    // The weights come from LibTorch's global generator: ranks that are threads of one process (the in-process
    // transport) must not interleave their seeding and drawing.
    static std::mutex seeding;
    std::lock_guard<std::mutex> lock(seeding);
    torch::manual_seed(c.seed);
    ctx.net = models::make_split_net(ctx.model, ctx.cut);
  }
  ctx.cut_shape = ctx.net.cut_shape;
  check_fixed_k(ctx);
  return ctx;
}

int64_t eval_batches(const RunContext& ctx) {
  return (ctx.test_size + ctx.config.eval_batch_size - 1) / ctx.config.eval_batch_size;
}

std::pair<int64_t, int64_t> eval_share(const RunContext& ctx, int part, int parts) {
  const int64_t n = eval_batches(ctx);
  return {n * (part - 1) / parts, n * part / parts};
}

std::vector<int64_t> shard_sizes(const RunContext& ctx) {
  std::vector<int64_t> out;
  out.reserve(ctx.shards.size());
  for (const auto& s : ctx.shards) out.push_back(static_cast<int64_t>(s.size()));
  return out;
}

data::LoaderOptions train_loader_options(const RunContext& ctx, int64_t client) {
  data::LoaderOptions o;
  o.batch_size = *ctx.config.batch_size;
  o.shuffle = true;
  o.train = true;
  o.augment = ctx.augment;
  o.seed = ctx.config.seed;
  o.stream = static_cast<uint64_t>(client);
  return o;
}

data::Loader test_loader(const RunContext& ctx, const data::Split& split, int64_t begin, int64_t end) {
  data::LoaderOptions o;
  o.batch_size = ctx.config.eval_batch_size;
  o.shuffle = false;
  o.train = false;
  o.augment = ctx.augment;
  o.seed = ctx.config.seed;
  std::vector<int64_t> indices(static_cast<size_t>(end - begin));
  std::iota(indices.begin(), indices.end(), begin);
  return data::Loader(split, ctx.info, std::move(indices), o);
}

torch::nn::Sequential clone_sequential(const torch::nn::Sequential& net) {
  return torch::nn::Sequential(std::dynamic_pointer_cast<torch::nn::SequentialImpl>(net->clone()));
}

at::Device parse_device(const std::string& name, int local_rank) {
  if (name == "cpu") return at::kCPU;
  MESL_CHECK(name.rfind("cuda", 0) == 0, ConfigError, "unknown device '", name, "'; use cpu, cuda or cuda:N");
  MESL_CHECK(torch::cuda::is_available(), ConfigError, "device ", name,
             " needs a CUDA build of LibTorch and a GPU; this build or machine has none: use cpu");
  if (name == "cuda") {
    // Several GPUs per node: each rank takes one by its node-local rank.
    const auto gpus = static_cast<int>(torch::cuda::device_count());
    return at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(local_rank % std::max(gpus, 1)));
  }
  try {
    return at::Device(name);
  } catch (const c10::Error&) {
    throw ConfigError("unknown device '" + name + "'; use cpu, cuda or cuda:N");
  }
}

}  // namespace mesl::train
