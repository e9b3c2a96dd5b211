#!/usr/bin/env bash
# The end-to-end benchmark of docs/performance.md: training samples per second of `mesl train` with one client
# (2 MPI ranks, sequential) and the identity codec, then with MS (keep 0.01, b 2), against `--topology local` (one
# process, the same split model and codec, no MPI), for the small CNN (synthetic 28x28) and VGG19 and ResNet18 at
# their three cuts (synthetic 32x32). Samples per second come from the /epochs table: samples / train_s of the
# last epoch (the first one warms up the allocator and the kernels); evaluation is excluded.
#
# A shared VM's speed drifts by 10-40% within minutes, as much as the effects measured. So the four runs of a
# setting (local and MPI, identity and MS) follow each other, in reverse order every other round, and REPEAT rounds
# of them are interleaved over the whole list: each ratio is taken within a round, and the table gives the mean of
# the rounds' ratios with their range. A second table takes the same ratios from the median step of /steps, which
# a few slow steps do not move, and gives the codec's own time per step (encode + decode): MS's cost net of the
# compute that drifts.
#
#   jobs/bench-train.sh [OUTDIR]      default results/bench-train
#   THREADS=2 TRAIN=512 EPOCHS=2 REPEAT=1 to change; MODELS="cnn:shallow cnn:deep" for a subset
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-results/bench-train}"
threads="${THREADS:-2}"
train="${TRAIN:-512}"
epochs="${EPOCHS:-2}"
repeat="${REPEAT:-1}"
models="${MODELS:-cnn:shallow cnn:deep vgg19:shallow vgg19:medium vgg19:deep resnet18:shallow resnet18:medium resnet18:deep}"
mesl="${MESL:-$here/build/bin/mesl}"
mkdir -p "$out"
rm -f "$out"/*.h5

common=(--dataset synthetic --synthetic-train "$train" --synthetic-test 64 --batch-size 64 --epochs "$epochs"
        --threads "$threads" --seed 0 --quiet)
run() {  # name, then mesl train arguments
  local name=$1
  shift
  echo "bench: $name" >&2
  if [[ $name == *-local-* ]]; then
    "$mesl" train --topology local "${common[@]}" "$@" --output "$out/$name.h5" >/dev/null
  else
    MESL="$mesl" "$here/jobs/workstation.sh" -n 1 --topology sequential "${common[@]}" "$@" \
      --output "$out/$name.h5" >/dev/null
  fi
}

for round in $(seq "$repeat"); do
  for model_cut in $models; do
    model=${model_cut%%:*} cut=${model_cut#*:}
    # Odd rounds run the four settings in one order, even rounds in the reverse order: a drift of the machine's speed
    # that is linear over a round then weighs on both sides of each ratio alike over two rounds.
    settings=(local:identity local:ms mpi:identity mpi:ms)
    if ((round % 2 == 0)); then settings=(mpi:ms mpi:identity local:ms local:identity); fi
    for setting in "${settings[@]}"; do
      topology=${setting%%:*} codec=${setting#*:}
      codec_args=(--codec identity)
      if [[ $codec == ms ]]; then codec_args=(--codec ms --keep 0.01 --bits 2); fi
      run "$model-$cut-$topology-$codec-$round" --model "$model" --cut "$cut" "${codec_args[@]}"
    done
  done
done

/usr/bin/python3 - "$out" <<'PY'
import collections, glob, os, statistics, sys
import h5py
# (model, cut) -> {(run, round): figures of the run's last epoch}
runs = collections.defaultdict(dict)
for path in glob.glob(os.path.join(sys.argv[1], "*.h5")):
    model, cut, topology, codec, rnd = os.path.basename(path)[:-3].split("-")
    with h5py.File(path, "r") as f:
        epoch = f["steps/epoch"][:]
        last = epoch == epoch.max()
        col = {name: f["steps/" + name][:][last] for name in ("encode_s", "decode_s", "compute_s", "comm_s")}
        codec_s = col["encode_s"] + col["decode_s"]
        runs[(model, cut)][(f"{topology}-{codec}", int(rnd))] = {
            "rate": f["epochs/samples"][-1] / f["epochs/train_s"][-1],
            # A step's critical path as /steps splits it (the client's encode, forward, wait, decode, backward; the
            # server's share inside the wait). Its median over the epoch is not moved by a few slow steps.
            "step_ms": 1e3 * statistics.median(codec_s + col["compute_s"] + col["comm_s"]),
            "codec_ms": 1e3 * statistics.median(codec_s),
        }

def cell(values, fmt, unit=""):  # mean, and the range when there are several rounds
    text = format(statistics.mean(values), fmt) + unit
    return text if len(values) == 1 else f"{text} ({format(min(values), fmt)}{unit} to {format(max(values), fmt)}{unit})"

cuts = ["shallow", "medium", "deep"]
rounds = sorted({rnd for r in runs.values() for _, rnd in r})
names = ("local-identity", "mpi-identity", "local-ms", "mpi-ms")

def per_round(model, cut, key):  # run name -> that figure in each round
    return {n: [runs[(model, cut)][(n, i)][key] for i in rounds] for n in names}

order = sorted(runs, key=lambda k: (k[0], cuts.index(k[1])))

print("| model | cut | local, identity | MPI, identity | MPI / local | local, MS | MPI, MS | MS cost over MPI identity |")
print("|---|---|---|---|---|---|---|---|")
for model, cut in order:
    rate = per_round(model, cut, "rate")
    ratio = [m / l for l, m in zip(rate["local-identity"], rate["mpi-identity"])]
    ms_cost = [(i / m - 1) * 100 for i, m in zip(rate["mpi-identity"], rate["mpi-ms"])]
    print(f"| {model} | {cut} | {statistics.mean(rate['local-identity']):.0f} | "
          f"{statistics.mean(rate['mpi-identity']):.0f} | {cell(ratio, '.3f')} | "
          f"{statistics.mean(rate['local-ms']):.0f} | {statistics.mean(rate['mpi-ms']):.0f} | "
          f"{cell(ms_cost, '+.1f', '%')} |")
print(f"(samples per second of training, last epoch; means over {len(rounds)} interleaved round(s), ratios taken "
      "within each round)")
print()
print("| model | cut | step ms: local, identity | MPI, identity | MPI, MS | MPI / local | MS cost over MPI identity "
      "| codec ms: MPI, identity | MPI, MS | MS codec time over identity's, share of the step |")
print("|---|---|---|---|---|---|---|---|---|---|")
for model, cut in order:
    step, codec = per_round(model, cut, "step_ms"), per_round(model, cut, "codec_ms")
    ratio = [l / m for l, m in zip(step["local-identity"], step["mpi-identity"])]
    ms_cost = [(m / i - 1) * 100 for i, m in zip(step["mpi-identity"], step["mpi-ms"])]
    share = [(m - c) / i * 100 for i, c, m in zip(step["mpi-identity"], codec["mpi-identity"], codec["mpi-ms"])]
    print(f"| {model} | {cut} | {statistics.mean(step['local-identity']):.2f} | "
          f"{statistics.mean(step['mpi-identity']):.2f} | {statistics.mean(step['mpi-ms']):.2f} | "
          f"{cell(ratio, '.3f')} | {cell(ms_cost, '+.1f', '%')} | {statistics.mean(codec['mpi-identity']):.3f} | "
          f"{statistics.mean(codec['mpi-ms']):.3f} | {cell(share, '+.1f', '%')} |")
print("(medians over the last epoch's steps of /steps: a step is encode + decode + compute + comm, the codec's share "
      "encode + decode; means over the rounds, ratios taken within each round)")
PY
