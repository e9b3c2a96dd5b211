#!/usr/bin/env bash
# The end-to-end benchmark of docs/performance.md: training samples per second of `mesl train` with one client
# (2 MPI ranks, sequential) and the identity codec, then with MS (keep 0.01, b 2), against `--topology local` (one
# process, the same split model and codec, no MPI), for the small CNN (synthetic 28x28) and VGG19 and ResNet18 at
# their three cuts (synthetic 32x32). Samples per second come from the /epochs table: samples / train_s of the
# last epoch (the first one warms up the allocator and the kernels); evaluation is excluded.
#
# A shared VM's speed drifts by 10-40% within minutes, as much as the effects measured. So the four runs of a
# setting (local and MPI, identity and MS) follow each other, and REPEAT rounds of them are interleaved over the
# whole list: each ratio is taken within a round, and the table gives the mean of the rounds' ratios with their
# range.
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
    for topology in local mpi; do
      run "$model-$cut-$topology-identity-$round" --model "$model" --cut "$cut" --codec identity
      run "$model-$cut-$topology-ms-$round" --model "$model" --cut "$cut" --codec ms --keep 0.01 --bits 2
    done
  done
done

/usr/bin/python3 - "$out" <<'PY'
import collections, glob, os, statistics, sys
import h5py
rate = collections.defaultdict(dict)  # (model, cut) -> {(run, round): samples per second}
for path in glob.glob(os.path.join(sys.argv[1], "*.h5")):
    model, cut, topology, codec, rnd = os.path.basename(path)[:-3].split("-")
    with h5py.File(path, "r") as f:
        rate[(model, cut)][(f"{topology}-{codec}", int(rnd))] = f["epochs/samples"][-1] / f["epochs/train_s"][-1]

def cell(values, fmt, unit=""):  # mean, and the range when there are several rounds
    text = format(statistics.mean(values), fmt) + unit
    return text if len(values) == 1 else f"{text} ({format(min(values), fmt)}{unit} to {format(max(values), fmt)}{unit})"

print("| model | cut | local, identity | MPI, identity | MPI / local | local, MS | MPI, MS | MS cost over MPI identity |")
print("|---|---|---|---|---|---|---|---|")
cuts = ["shallow", "medium", "deep"]
rounds = sorted({rnd for runs in rate.values() for _, rnd in runs})
for model, cut in sorted(rate, key=lambda k: (k[0], cuts.index(k[1]))):
    r = rate[(model, cut)]
    series = {run: [r[(run, n)] for n in rounds] for run in ("local-identity", "mpi-identity", "local-ms", "mpi-ms")}
    ratio = [m / l for l, m in zip(series["local-identity"], series["mpi-identity"])]
    ms_cost = [(i / m - 1) * 100 for i, m in zip(series["mpi-identity"], series["mpi-ms"])]
    print(f"| {model} | {cut} | {statistics.mean(series['local-identity']):.0f} | "
          f"{statistics.mean(series['mpi-identity']):.0f} | {cell(ratio, '.3f')} | "
          f"{statistics.mean(series['local-ms']):.0f} | {statistics.mean(series['mpi-ms']):.0f} | "
          f"{cell(ms_cost, '+.1f', '%')} |")
print(f"(samples per second of training, last epoch; means over {len(rounds)} interleaved round(s), ratios taken "
      "within each round)")
PY
