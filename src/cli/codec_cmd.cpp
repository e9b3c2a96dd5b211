// `mesl codec`: the codecs from the command line, for scripts and benchmarks.
//   roundtrip  HDF5 dataset -> payload -> x_hat, both written to HDF5, one JSON line of figures
//   encode     HDF5 dataset -> raw payload file          decode  raw payload file -> HDF5
//   bench      seeded tensor: fast vs reference vs a plain copy, medians, peak memory
//   plan       equal-budget settings of every method for a target bits per element
#include <torch/cuda.h>

#include <algorithm>
#include <chrono>
#include <iostream>

#include "cli_util.h"
#include "commands.h"
#include "mesl/codec/codec.h"
#include "mesl/codec/plan.h"
#include "mesl/error.h"
#include "mesl/h5/h5.h"
#include "mesl/util/json.h"
#include "peak_memory.h"

namespace mesl::cli {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Largest payload file `mesl codec decode` reads: what a tensor at the decoder's element limit can need.
constexpr size_t kMaxPayloadFile = (size_t{1} << 28) * 8 + 4096;

at::Tensor read_input(const std::string& path, const std::string& dataset) {
  h5::SilenceErrors quiet;
  const h5::File file(path, h5::Mode::read_only);
  at::Tensor x = file.read_tensor(dataset);
  if (!at::isFloatingType(x.scalar_type())) x = x.to(at::kFloat);
  return x;
}

void sync(const at::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize();
}

Json payload_facts(const codec::Codec& c, const at::Tensor& x, size_t payload_bytes) {
  const auto shape = x.sizes().vec();
  Json j;
  j.add("method", codec::to_string(c.options().method()))
      .add("spec", codec::to_spec(c.options()))
      .add("impl", codec::to_string(c.options().impl()))
      .add("shape", shape)
      .add("d", x.numel())
      .add("k", c.kept_count(shape))
      .add("bits", codec::effective_bits(c.options()))
      .add("payload_bytes", static_cast<int64_t>(payload_bytes))
      .add("header_bytes", static_cast<int64_t>(c.header_bytes(shape)))
      .add("bpe", c.bits_per_element(shape))
      .add("wire_bpe", x.numel() > 0 ? 8.0 * static_cast<double>(payload_bytes) / static_cast<double>(x.numel()) : 0.0);
  return j;
}

cxxopts::Options codec_options_for(const std::string& action, const std::string& what) {
  cxxopts::Options o("mesl codec " + action, what);
  add_codec_options(o, CodecOptionNames{}, "ms");
  return o;
}

int roundtrip(int argc, char** argv) {
  auto options = codec_options_for("roundtrip", "Encode an HDF5 dataset, decode it, write x_hat and the payload");
  options.add_options("Files")
      ("input", "Input HDF5 file", cxxopts::value<std::string>())
      ("dataset", "Dataset in the input file", cxxopts::value<std::string>())
      ("output", "Output HDF5 file (x_hat float32, payload uint8)", cxxopts::value<std::string>());
  auto args = parse(options, argc, argv, {"", "Files", "Codec", "Benchmark"});
  if (!args) return 0;
  require(*args, "mesl codec roundtrip", {"input", "dataset", "output"});
  codec::Codec c(codec_options(*args, CodecOptionNames{}));
  const at::Tensor x = read_input((*args)["input"].as<std::string>(), (*args)["dataset"].as<std::string>());
  // Create the output before the work, so that a bad --output costs nothing.
  h5::SilenceErrors quiet;
  const h5::File out((*args)["output"].as<std::string>(), h5::Mode::create_truncate);

  auto t0 = Clock::now();
  const auto payload = c.encode(x);
  const double encode_s = seconds_since(t0);
  t0 = Clock::now();
  const at::Tensor x_hat = codec::decode(payload, codec::DecodeOptions().impl(c.options().impl()));
  const double decode_s = seconds_since(t0);
  const double error = codec::relative_error(x, x_hat);

  out.write_tensor("x_hat", x_hat.to(at::kFloat));
  out.write_bytes("payload", payload);
  Json facts = payload_facts(c, x, payload.size());
  facts.add("rel_l2_error", error).add("encode_ms", encode_s * 1e3).add("decode_ms", decode_s * 1e3);
  out.set_attribute("method", codec::to_string(c.options().method()));
  out.set_attribute("spec", codec::to_spec(c.options()));
  out.set_attribute("payload_bytes", static_cast<int64_t>(payload.size()));
  out.set_attribute("header_bytes", static_cast<int64_t>(c.header_bytes(x.sizes().vec())));
  out.set_attribute("k", c.kept_count(x.sizes().vec()));
  out.set_attribute("bpe", c.bits_per_element(x.sizes().vec()));
  out.set_attribute("rel_l2_error", error);
  out.set_attribute("source", (*args)["input"].as<std::string>() + ":" + (*args)["dataset"].as<std::string>());
  out.flush();
  std::cout << facts.str() << std::endl;
  return 0;
}

int encode(int argc, char** argv) {
  auto options = codec_options_for("encode", "Encode an HDF5 dataset into a raw payload file");
  options.add_options("Files")
      ("input", "Input HDF5 file", cxxopts::value<std::string>())
      ("dataset", "Dataset in the input file", cxxopts::value<std::string>())
      ("output", "Payload file to write (the exact wire bytes)", cxxopts::value<std::string>());
  auto args = parse(options, argc, argv, {"", "Files", "Codec", "Benchmark"});
  if (!args) return 0;
  require(*args, "mesl codec encode", {"input", "dataset", "output"});
  codec::Codec c(codec_options(*args, CodecOptionNames{}));
  const at::Tensor x = read_input((*args)["input"].as<std::string>(), (*args)["dataset"].as<std::string>());
  const auto t0 = Clock::now();
  const auto payload = c.encode(x);
  const double encode_s = seconds_since(t0);
  write_file((*args)["output"].as<std::string>(), payload);
  std::cout << payload_facts(c, x, payload.size()).add("encode_ms", encode_s * 1e3).str() << std::endl;
  return 0;
}

int decode(int argc, char** argv) {
  cxxopts::Options options("mesl codec decode", "Decode a raw payload file into HDF5 (dataset x_hat)");
  options.add_options()
      ("input", "Payload file", cxxopts::value<std::string>())
      ("output", "Output HDF5 file", cxxopts::value<std::string>())
      ("impl", "fast | reference", cxxopts::value<std::string>()->default_value("fast"))
      ("threads", "Decoder threads (0: LibTorch's setting)", cxxopts::value<int>()->default_value("0"))
      ("max-elements", "Refuse payloads describing more elements than this",
       cxxopts::value<int64_t>()->default_value(std::to_string(int64_t{1} << 28)));
  auto args = parse(options, argc, argv, {"", "Files", "Codec", "Benchmark"});
  if (!args) return 0;
  require(*args, "mesl codec decode", {"input", "output"});
  const auto payload = read_file((*args)["input"].as<std::string>(), kMaxPayloadFile);
  codec::DecodeLimits limits;
  limits.max_elements = (*args)["max-elements"].as<int64_t>();
  MESL_CHECK(limits.max_elements >= 0, ConfigError, "--max-elements must be >= 0; got ", limits.max_elements);
  const auto t0 = Clock::now();
  const codec::Header h = codec::read_header(payload.data(), payload.size(), limits);
  const at::Tensor x_hat = codec::decode(payload, codec::DecodeOptions()
                                                      .impl(codec::parse_impl((*args)["impl"].as<std::string>()))
                                                      .threads((*args)["threads"].as<int>())
                                                      .limits(limits));
  const double decode_s = seconds_since(t0);
  h5::SilenceErrors quiet;
  const h5::File out((*args)["output"].as<std::string>(), h5::Mode::create_truncate);
  out.write_tensor("x_hat", x_hat.to(at::kFloat));
  out.set_attribute("method", codec::to_string(h.method));
  out.set_attribute("payload_bytes", static_cast<int64_t>(payload.size()));
  out.flush();
  Json j;
  j.add("method", codec::to_string(h.method))
      .add("shape", h.shape)
      .add("d", h.d)
      .add("k", codec::layout_of(h).kept)
      .add("bits", h.bits)
      .add("payload_bytes", static_cast<int64_t>(payload.size()))
      .add("header_bytes", static_cast<int64_t>(codec::header_bytes(h)))
      .add("decode_ms", decode_s * 1e3);
  std::cout << j.str() << std::endl;
  return 0;
}

// Median wall time of `repeat` calls of f (after one warm-up call).
template <typename F>
double median_seconds(int repeat, const at::Device& device, F&& f) {
  f();
  sync(device);
  std::vector<double> times;
  for (int i = 0; i < repeat; ++i) {
    const auto t0 = Clock::now();
    f();
    sync(device);
    times.push_back(seconds_since(t0));
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

int bench(int argc, char** argv) {
  auto options = codec_options_for("bench", "Time a codec on a seeded tensor against its reference and a copy");
  options.add_options("Benchmark")
      ("shape", "Tensor shape", cxxopts::value<std::string>()->default_value("256,64,32,32"))
      ("dist", "Values: relu | normal | uniform", cxxopts::value<std::string>()->default_value("relu"))
      ("repeat", "Timed repetitions (median reported)", cxxopts::value<int>()->default_value("10"))
      ("reference-repeat", "Repetitions of the reference implementation",
       cxxopts::value<int>()->default_value("3"))
      ("no-reference", "Skip the reference implementation")
      ("device", "cpu | cuda | cuda:N", cxxopts::value<std::string>()->default_value("cpu"))
      ("isa", "Instruction set of the CPU kernels: avx512 | avx2 | sse2 (default: the best the CPU has, or "
                "MESL_CODEC_ISA)",
       cxxopts::value<std::string>())
      ("data-seed", "Seed of the input tensor", cxxopts::value<uint64_t>()->default_value("0"))
      ("training", "rt: time the training encode (a new random draw per encode) instead of plain top-k")
      ("decode-streaming-bytes", "The qu decoder writes outputs of at least this size with streaming stores "
       "(0: every output, 9223372036854775807: none; default 16 MiB)", cxxopts::value<int64_t>());
  auto args = parse(options, argc, argv, {"", "Files", "Codec", "Benchmark"});
  if (!args) return 0;
  codec::CodecOptions fast_opts = codec_options(*args, CodecOptionNames{});
  fast_opts.impl(codec::Impl::fast);
  const auto shape = parse_shape((*args)["shape"].as<std::string>());
  const auto dist = (*args)["dist"].as<std::string>();
  MESL_CHECK(dist == "relu" || dist == "normal" || dist == "uniform", ConfigError, "--dist must be relu, normal or uniform");
  const int repeat = (*args)["repeat"].as<int>();
  MESL_CHECK(repeat >= 1, ConfigError, "--repeat must be >= 1");
  const at::Device device((*args)["device"].as<std::string>());
  MESL_CHECK(device.is_cpu() || torch::cuda::is_available(), ConfigError,
             "--device ", device.str(), " needs a CUDA build of LibTorch and a GPU; use --device cpu");
  if (fast_opts.threads() > 0) at::set_num_threads(fast_opts.threads());
  if (args->count("isa")) codec::set_kernel_isa((*args)["isa"].as<std::string>());
  if (args->count("decode-streaming-bytes")) {
    const auto bytes = (*args)["decode-streaming-bytes"].as<int64_t>();
    MESL_CHECK(bytes >= 0, ConfigError, "--decode-streaming-bytes must be >= 0 (0 streams every output)");
    codec::set_decode_streaming_bytes(bytes);
  }

  at::Generator gen = at::detail::createCPUGenerator((*args)["data-seed"].as<uint64_t>());
  at::Tensor x = at::empty(shape, at::kFloat);
  if (dist == "uniform") x.uniform_(0.0, 1.0, gen);
  else x.normal_(0.0, 1.0, gen);
  if (dist == "relu") x.clamp_min_(0.0);
  x = x.to(device);
  const double input_gb = static_cast<double>(x.numel()) * 4 / 1e9;

  at::Tensor copy_target = at::empty_like(x);
  const double copy_s = median_seconds(repeat, device, [&] { copy_target.copy_(x); });
  copy_target = at::Tensor();

  // rt encodes plain top-k in evaluation; in training each encode draws anew (both implementations draw the same
  // set for the same draw number, which the comparison below resets).
  const bool training = args->count("training") > 0;
  codec::Codec fast(fast_opts);
  fast.train(training);
  std::vector<uint8_t> payload;
  const double encode_s = median_seconds(repeat, device, [&] { payload = fast.encode(x); });
  const auto decode_opts = codec::DecodeOptions().impl(codec::Impl::fast).threads(fast_opts.threads()).device(device);
  at::Tensor x_hat;
  const double decode_s = median_seconds(repeat, device, [&] { x_hat = codec::decode(payload, decode_opts); });
  PeakMemory peak;
  peak.start();
  { const auto once = fast.encode(x); }
  const int64_t encode_peak = peak.extra_bytes();
  peak.start();
  { const auto once = codec::decode(payload, decode_opts); }
  const int64_t decode_peak = peak.extra_bytes();

  const double d = static_cast<double>(std::max<int64_t>(x.numel(), 1));
  Json out = payload_facts(fast, x, payload.size());
  out.add("dist", dist)
      .add("device", device.str())
      .add("threads", at::get_num_threads())
      .add("isa", codec::kernel_isa())
      .add("training", training)
      .add("decode_streaming_bytes", codec::decode_streaming_bytes())
      .add("rel_l2_error", codec::relative_error(x.cpu(), x_hat.cpu()))
      .add("copy_ms", copy_s * 1e3)
      .add("copy_gbps", 2 * input_gb / copy_s)  // read + write
      .add("encode_ms", encode_s * 1e3)
      .add("decode_ms", decode_s * 1e3)
      .add("encode_gbps", input_gb / encode_s)
      .add("decode_gbps", input_gb / decode_s)
      .add("encode_vs_copy", encode_s / copy_s)
      .add("decode_vs_copy", decode_s / copy_s)
      .add("encode_peak_bytes_per_element", encode_peak < 0 ? -1.0 : static_cast<double>(encode_peak) / d)
      .add("decode_peak_bytes_per_element", decode_peak < 0 ? -1.0 : static_cast<double>(decode_peak) / d);
  if (!args->count("no-reference")) {
    codec::Codec reference(codec::CodecOptions(fast_opts).impl(codec::Impl::reference));
    reference.train(training);
    const int ref_repeat = std::max(1, (*args)["reference-repeat"].as<int>());
    std::vector<uint8_t> ref_payload;
    const double ref_encode_s = median_seconds(ref_repeat, device, [&] { ref_payload = reference.encode(x); });
    const auto ref_decode = codec::DecodeOptions().impl(codec::Impl::reference).device(device);
    at::Tensor ref_hat;
    const double ref_decode_s = median_seconds(ref_repeat, device, [&] { ref_hat = codec::decode(ref_payload, ref_decode); });
    if (training) {  // the same draw from both
      fast.set_draws(0);
      reference.set_draws(0);
      payload = fast.encode(x);
      ref_payload = reference.encode(x);
      x_hat = codec::decode(payload, decode_opts);
      ref_hat = codec::decode(ref_payload, ref_decode);
    }
    Json ref;
    ref.add("encode_ms", ref_encode_s * 1e3).add("decode_ms", ref_decode_s * 1e3);
    out.add("reference", ref)
        .add("encode_speedup", ref_encode_s / encode_s)
        .add("decode_speedup", ref_decode_s / decode_s)
        .add("identical", ref_payload == payload && at::equal(ref_hat.cpu(), x_hat.cpu()));
  }
  std::cout << out.str() << std::endl;
  return 0;
}

int plan(int argc, char** argv) {
  cxxopts::Options options("mesl codec plan", "Settings of every method that meet a bits-per-element budget");
  options.add_options()
      ("bpe", "Budget in bits per element, e.g. 2.32", cxxopts::value<double>())
      ("shape", "Tensor shape, e.g. 256,64,16,16", cxxopts::value<std::string>())
      ("bits", "ms mask width", cxxopts::value<int>()->default_value("2"))
      ("scope", "batch | sample (sample: the budget holds per row)", cxxopts::value<std::string>()->default_value("batch"))
      ("format", "json (one line per setting) | table", cxxopts::value<std::string>()->default_value("json"));
  auto args = parse(options, argc, argv, {"", "Files", "Codec", "Benchmark"});
  if (!args) return 0;
  require(*args, "mesl codec plan", {"bpe", "shape"});
  const auto shape = parse_shape((*args)["shape"].as<std::string>());
  const auto format = (*args)["format"].as<std::string>();
  MESL_CHECK(format == "json" || format == "table", ConfigError, "--format must be json or table");
  codec::CodecOptions base;
  base.scope(codec::parse_scope((*args)["scope"].as<std::string>()));
  const double budget = (*args)["bpe"].as<double>();
  const auto entries = codec::plan_budget(budget, shape, (*args)["bits"].as<int>(), base);
  if (format == "table") {
    std::printf("%-58s %12s %10s %14s\n", "setting", "k", "bpe", "payload bytes");
  }
  for (const auto& e : entries) {
    if (format == "table") {
      std::printf("%-58s %12lld %10.4f %14zu\n", codec::to_spec(e.options).c_str(), static_cast<long long>(e.k),
                  e.bpe, e.payload_bytes);
      continue;
    }
    Json j;
    j.add("method", codec::to_string(e.options.method()))
        .add("spec", codec::to_spec(e.options))
        .add("budget", budget)
        .add("k", e.k)
        .add("bits", codec::effective_bits(e.options))
        .add("bpe", e.bpe)
        .add("payload_bytes", static_cast<int64_t>(e.payload_bytes));
    if (e.options.keep()) j.add("keep", *e.options.keep());
    if (codec::is_sparse(e.options.method()) && e.options.method() != codec::Method::ms)
      j.add("positions", codec::to_string(e.options.positions()));
    std::cout << j.str() << "\n";
  }
  std::cout.flush();
  return 0;
}

}  // namespace

int codec_command(int argc, char** argv) {
  const std::string usage =
      "usage: mesl codec <roundtrip|encode|decode|bench|plan> [options]   (mesl codec <action> --help)";
  if (argc < 2) throw ConfigError("missing codec action; " + usage);
  if (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    std::cout << usage << std::endl;
    return 0;
  }
  const std::string action = argv[1];
  if (action == "roundtrip") return roundtrip(argc - 1, argv + 1);
  if (action == "encode") return encode(argc - 1, argv + 1);
  if (action == "decode") return decode(argc - 1, argv + 1);
  if (action == "bench") return bench(argc - 1, argv + 1);
  if (action == "plan") return plan(argc - 1, argv + 1);
  throw ConfigError("unknown codec action '" + action + "'; " + usage);
}

}  // namespace mesl::cli
