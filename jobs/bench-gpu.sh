#!/usr/bin/env bash
# The GPU figures of docs/performance.md, on a machine with an NVIDIA GPU and a CUDA build of LibTorch (PyTorch's
# pip wheel carries one: its cmake prefix is found from `python3 -c 'import torch'`, or set TORCH_PREFIX):
#   build    a Release build against that LibTorch, in build-gpu/
#   test     the GPU agreement tests (ctest codec.cuda: GPU payloads and decodes equal the CPU's)
#   bench    `mesl codec bench --device cuda`: every method on the 256x64x32x32 ReLU tensor, MS on the cut shapes
#   train    VGG19 at its medium cut on synthetic CIFAR-shaped data: server on the CPU or the GPU (1 client under
#            mpirun), everything on the GPU (--topology local), and SplitFed V1 with 4 clients and the server on the GPU
#
#   jobs/bench-gpu.sh [OUTDIR]      default results/bench-gpu; STAGES="build test bench train" to choose
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
out="$(mkdir -p "${1:-results/bench-gpu}" && cd "${1:-results/bench-gpu}" && pwd)"
stages=" ${STAGES:-build test bench train} "
build="$here/build-gpu"
mesl="$build/bin/mesl"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true

if [[ $stages == *" build "* ]]; then
  # With nvcc found (MESL_CUDA_KERNELS=AUTO), ms gets its CUDA kernels; without it, the LibTorch-ops path only.
  [[ -x /usr/local/cuda/bin/nvcc ]] && export PATH="/usr/local/cuda/bin:$PATH"
  prefix="${TORCH_PREFIX:-$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')}"
  cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" >"$out/configure.log"
  grep "mesl: LibTorch" "$out/configure.log"
  cmake --build "$build" -j "$(nproc)" >"$out/build.log"
fi
if [[ $stages == *" test "* ]]; then
  ctest --test-dir "$build" -R '^codec\.cuda$' --output-on-failure
fi
if [[ $stages == *" bench "* ]]; then
  : >"$out/codecs-cuda.jsonl"
  bench() { "$mesl" codec bench --device cuda --repeat 50 --reference-repeat 10 "$@" >>"$out/codecs-cuda.jsonl"; }
  for method in "ms --keep 0.01 --bits 2" "sp --keep 0.04125" "rt --keep 0.04125" "qu --bits 2" "qu --bits 3" identity fp16; do
    # shellcheck disable=SC2086
    bench --method $method --shape 256,64,32,32
  done
  for shape in 64,16,16 256,4,4 512,2,2 128,16,16 256,8,8 64,56,56 128,28,28 256,14,14; do
    bench --method ms --keep 0.01 --bits 2 --shape "256,$shape"
  done
  python3 - "$out/codecs-cuda.jsonl" <<'PY'
import json, sys
print("| method | shape | encode ms | decode ms | device copy ms | encode / copy | decode / copy | identical to reference |")
print("|---|---|---|---|---|---|---|---|")
for line in open(sys.argv[1]):
    r = json.loads(line)
    print(f"| {r['spec'].split(',rounding')[0]} | {'x'.join(map(str, r['shape']))} | {r['encode_ms']:.2f} | "
          f"{r['decode_ms']:.2f} | {r['copy_ms']:.3f} | {r['encode_vs_copy']:.0f} | {r['decode_vs_copy']:.0f} | {r.get('identical', '')} |")
PY
fi
if [[ $stages == *" train "* ]]; then
  mkdir -p "$out/train"
  common=(--model vgg19 --cut medium --dataset synthetic --synthetic-train 1024 --synthetic-test 128 --batch-size 128
          --epochs 2 --threads 4 --seed 0 --quiet --overwrite)  # a rerun measures again
  mpi=("$here/jobs/ompi-session.sh" mpirun --oversubscribe --bind-to none)  # a session folder per launch
  for codec in identity "ms --keep 0.01 --bits 2"; do
    name=${codec%% *}
    # shellcheck disable=SC2086
    {
      "${mpi[@]}" -np 2 "$mesl" train --topology sequential "${common[@]}" --codec $codec --output "$out/train/servercpu-$name.h5"
      "${mpi[@]}" -np 2 "$mesl" train --topology sequential "${common[@]}" --codec $codec --server-device cuda --output "$out/train/servergpu-$name.h5"
      "$mesl" train --topology local "${common[@]}" --codec $codec --server-device cuda --client-device cuda --output "$out/train/allgpu-$name.h5"
    } >/dev/null
  done
  "${mpi[@]}" -np 5 "$mesl" train --topology sflv1 "${common[@]}" --codec ms --keep 0.01 --bits 2 --server-device cuda \
    --output "$out/train/sflv1-4clients-servergpu-ms.h5" >/dev/null
  python3 - "$out/train" <<'PY'
import glob, os, sys
import h5py
for path in sorted(glob.glob(os.path.join(sys.argv[1], "*.h5"))):
    with h5py.File(path, "r") as f:
        e = f["epochs"]
        print(f"{os.path.basename(path)[:-3]:32s} {e['samples'][-1] / e['train_s'][-1]:8.0f} samples/s (second epoch)")
PY
fi
