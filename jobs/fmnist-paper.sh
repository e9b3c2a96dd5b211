#!/usr/bin/env bash
# The seed paper's comparison in small (docs/results.md, "What runs here"), on a workstation: the small CNN on
# Fashion-MNIST with 10 clients (sequential split learning, IID shards), at the shallow and the deep cut, the
# uncompressed baseline and four codecs at one budget of 2.32 bits per element -- MS (keep 0.01, b 2), SP and RT
# (bitmap positions, keep 0.04125), QU (3 bits: 2.32 has no QU setting) -- then the compression error of every
# method at equal budgets on real activations, and the analysis (tables and figures).
#
#   jobs/fmnist-paper.sh [OUTDIR]            default results/fmnist-paper; EPOCHS=3 CLIENTS=10 to change
#
# Runs whose file is complete are skipped, so an interrupted script continues where it stopped. docs/results.md
# shows what a run on a 2-core machine produced.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-results/fmnist-paper}"
epochs="${EPOCHS:-3}"
clients="${CLIENTS:-10}"
mesl="${MESL:-$here/build/bin/mesl}"
python="${PYTHON:-/usr/bin/python3}"
mkdir -p "$out"

methods=(
  "identity|--codec identity"
  "ms|--codec ms --keep 0.01 --bits 2"
  "sp|--codec sp --keep 0.04125 --positions bitmap"
  "rt|--codec rt --keep 0.04125 --positions bitmap"
  "qu|--codec qu --bits 3"
)
start=$(date +%s)
for cut in shallow deep; do
  for entry in "${methods[@]}"; do
    name="${entry%%|*}"
    codec="${entry#*|}"
    file="$out/$cut-$name.h5"
    if [[ -f "$file.done" || -f "$file.failed" ]]; then
      echo "== $cut $name: ran already ($file)"
      continue
    fi
    echo "== $cut cut, $name ($codec)"
    # A run that fails (a method that diverges is a result too) is recorded and left out of the analysis; its
    # metrics file keeps what it wrote before the failure.
    # shellcheck disable=SC2086
    if MESL="$mesl" "$here/jobs/workstation.sh" -n "$clients" --model cnn --cut "$cut" --dataset fashion-mnist \
      --epochs "$epochs" --seed 0 $codec --overwrite --output "$file" 2> >(tee "$file.log" >&2); then
      touch "$file.done"
    else
      grep -m1 "mesl: error" "$file.log" >"$file.failed" || echo "failed" >"$file.failed"
      echo "== $cut $name FAILED: $(cat "$file.failed")"
    fi
  done
  if [[ ! -f "$out/errors-$cut.h5" ]]; then
    echo "== compression error at equal budgets, $cut cut"
    "$mesl" errors --model cnn --cut "$cut" --dataset fashion-mnist --bpe 2.32,3,4,6 --train-steps 300 \
      --batches 8 --output "$out/errors-$cut.h5" > "$out/errors-$cut.txt"
  fi
done
echo "== training and measurements took $(( $(date +%s) - start )) s"

echo "== analysis"
runs=()
for done in "$out"/shallow-*.h5.done "$out"/deep-*.h5.done; do runs+=("${done%.done}"); done
for failed in "$out"/*.h5.failed; do
  [[ -f $failed ]] && echo "== left out: ${failed%.failed}: $(cat "$failed")" | tee -a "$out/failed.txt"
done
"$python" "$here/analysis/summary.py" "${runs[@]}" --csv "$out/summary.csv" | tee "$out/summary.txt"
"$python" "$here/analysis/traffic.py" "${runs[@]}" --csv "$out/traffic.csv" | tee "$out/traffic.txt"
"$python" "$here/analysis/plot.py" "${runs[@]}" --by cut --out "$out/plots"
"$python" "$here/analysis/errors.py" "$out"/errors-shallow.h5 "$out"/errors-deep.h5 --out "$out/plots" | tee "$out/errors.txt"
echo "== results in $out (summary.txt, traffic.txt, errors.txt, plots/)"
