#!/usr/bin/env bash
# The end-to-end benchmark of docs/performance.md: training samples per second of `mesl train` with one client
# (2 MPI ranks, sequential) and the identity codec, then with MS (keep 0.01, b 2), against `--topology local` (one
# process, the same split model and codec, no MPI), for the small CNN (synthetic 28x28) and VGG19 and ResNet18 at
# their three cuts (synthetic 32x32). Samples per second come from the /epochs table: samples / train_s of the
# last epoch (the first one warms up the allocator and the kernels); evaluation is excluded.
#
#   jobs/bench-train.sh [OUTDIR]      default results/bench-train; THREADS=2 TRAIN=512 EPOCHS=2 to change
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-results/bench-train}"
threads="${THREADS:-2}"
train="${TRAIN:-512}"
epochs="${EPOCHS:-2}"
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

for model_cut in cnn:shallow cnn:deep vgg19:shallow vgg19:medium vgg19:deep resnet18:shallow resnet18:medium \
                 resnet18:deep; do
  model=${model_cut%%:*} cut=${model_cut#*:}
  for topology in local mpi; do
    run "$model-$cut-$topology-identity" --model "$model" --cut "$cut" --codec identity
    run "$model-$cut-$topology-ms" --model "$model" --cut "$cut" --codec ms --keep 0.01 --bits 2
  done
done

/usr/bin/python3 - "$out" <<'PY'
import glob, os, sys
import h5py
rate = {}
for path in glob.glob(os.path.join(sys.argv[1], "*.h5")):
    with h5py.File(path, "r") as f:
        rate[os.path.basename(path)[:-3]] = f["epochs/samples"][-1] / f["epochs/train_s"][-1]
print("| model | cut | local identity | MPI identity | MPI/local | local MS | MPI MS | MS cost over MPI identity |")
print("|---|---|---|---|---|---|---|---|")
for key in sorted({k.rsplit("-", 2)[0] for k in rate}, key=lambda k: (k.split("-")[0], ["shallow", "medium", "deep"].index(k.split("-")[1]))):
    li, mi = rate[key + "-local-identity"], rate[key + "-mpi-identity"]
    lm, mm = rate[key + "-local-ms"], rate[key + "-mpi-ms"]
    model, cut = key.split("-")
    print(f"| {model} | {cut} | {li:.0f} | {mi:.0f} | {mi / li:.3f} | {lm:.0f} | {mm:.0f} | {(mi / mm - 1) * 100:+.1f}% |")
print("(samples per second of training, last epoch)")
PY
