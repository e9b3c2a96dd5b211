#!/usr/bin/env bash
# The README's quick start on a fresh Debian 12 machine: install what is missing, build mesl, and train the small
# CNN on Fashion-MNIST (Debian's dataset-fashion-mnist) with 4 clients and MS compression (keep 0.01, 2 bits).
set -euo pipefail
cd "$(dirname "$0")/.."
bash jobs/setup-debian.sh
cmake --preset default -DMESL_BUILD_TESTS=OFF >/dev/null
cmake --build build --target mesl
mkdir -p results
jobs/workstation.sh -n 4 --model cnn --cut shallow --codec ms --keep 0.01 --bits 2 --epochs 2 \
  --output results/quickstart.h5 --overwrite "$@"
echo
echo "results: results/quickstart.h5"
echo "  summary: analysis/summary.py results/quickstart.h5"
echo "  curves:  analysis/plot.py results/quickstart.h5 --out results/plots"
