#!/usr/bin/env bash
# Installs what mesl needs from Debian 12's packages, and nothing when everything is there already.
# Run as root, or as a user with sudo. Used by jobs/quickstart.sh and CI (.ci/run).
set -euo pipefail

packages=(
  # build
  build-essential cmake ninja-build
  # libraries
  libtorch-dev libopenmpi-dev openmpi-bin libhdf5-dev libcxxopts-dev doctest-dev zlib1g-dev
  # LibTorch on Debian links the reference BLAS; OpenBLAS (OpenMP build) is a drop-in replacement that makes its
  # linear layers an order of magnitude faster (docs/performance.md). Nothing depends on it.
  libopenblas0-openmp
  # the default dataset of the quick start
  dataset-fashion-mnist
  # analysis
  python3 python3-h5py python3-matplotlib python3-pandas python3-numpy
)
# Extra packages a caller asks for (CI adds the Slurm, fuzzing and sanitizer tools).
packages+=("$@")

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "setup-debian: all ${#packages[@]} packages are installed"
  exit 0
fi
echo "setup-debian: installing ${missing[*]}"
sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
