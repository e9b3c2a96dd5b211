#!/usr/bin/env bash
# The codec benchmark tables of docs/performance.md: `mesl codec bench` (fast and reference implementations and a
# plain copy of the same seeded tensor, medians over repeats) for every method at the 2.32 bits-per-element budget
# on the 256x64x32x32 ReLU tensor with 1 and 2 threads (and at 2 threads with the SSE2 kernels; rt both as plain
# top-k, its evaluation encode, and with its training draw), then MS on every cut shape of docs/models.md (batch 256),
# then the sparse methods with sample scope.
#
#   jobs/bench-codecs.sh [OUTDIR]      default results/bench-codecs; REPEAT=5 REF_REPEAT=3 (the reference's repeats)
#
# Writes OUTDIR/codecs.jsonl (one JSON line per bench) and prints the markdown tables. Build Release first.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-results/bench-codecs}"
repeat="${REPEAT:-5}"
ref_repeat="${REF_REPEAT:-3}"
mesl="${MESL:-$here/build/bin/mesl}"
mkdir -p "$out"
: >"$out/codecs.jsonl"

bench() {  # label, then mesl codec bench arguments
  local label=$1
  shift
  echo "bench: $label $*" >&2
  "$mesl" codec bench --repeat "$repeat" --reference-repeat "$ref_repeat" "$@" | sed "s/^{/{\"label\":\"$label\",/" >>"$out/codecs.jsonl"
}

methods=(
  "ms|--method ms --keep 0.01 --bits 2"
  "sp|--method sp --keep 0.04125 --positions bitmap"
  "rt|--method rt --keep 0.04125 --positions bitmap"
  "rt-training|--method rt --keep 0.04125 --positions bitmap --training"
  "qu2|--method qu --bits 2"
  "qu3|--method qu --bits 3"
)
for threads in 1 2; do
  for entry in "${methods[@]}"; do
    # shellcheck disable=SC2086
    bench "main" ${entry#*|} --shape 256,64,32,32 --dist relu --threads "$threads"
  done
done
# The same at 2 threads with the SSE2 kernels (x86-64: the default is AVX-512 or AVX2 where the CPU has it), for
# comparison.
for entry in "${methods[@]}"; do
  # shellcheck disable=SC2086
  bench "sse2" ${entry#*|} --shape 256,64,32,32 --dist relu --threads 2 --isa sse2 --no-reference
done
# The cut shapes of docs/models.md at batch 256: VGG19, ResNet18, ResNet34 (shallow, medium, deep).
for shape in 64,16,16 256,4,4 512,2,2 64,32,32 128,16,16 256,8,8 64,56,56 128,28,28 256,14,14; do
  bench "cuts" --method ms --keep 0.01 --bits 2 --shape "256,$shape" --dist relu --threads 2
done
# Sample scope (one threshold per sample): the sparse methods on the main shape, and MS on one cut of each size.
for threads in 1 2; do
  for entry in "${methods[@]:0:4}"; do
    # shellcheck disable=SC2086
    bench "sample" ${entry#*|} --scope sample --shape 256,64,32,32 --dist relu --threads "$threads"
  done
done
for shape in 64,16,16 256,4,4 512,2,2 64,56,56; do
  bench "sample-cuts" --method ms --keep 0.01 --bits 2 --scope sample --shape "256,$shape" --dist relu --threads 2
done

/usr/bin/python3 - "$out/codecs.jsonl" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
def spec(r):
    s = r["spec"].replace(",rounding=round,sign=nonneg,scope=batch", "").replace(",scope=batch", "")
    return s + " (training)" if r.get("training") and s.startswith("rt:") else s
print("| method | shape | threads | isa | encode ms | decode ms | copy ms | enc/copy | dec/copy | ref encode ms | "
      "ref decode ms | enc speedup | dec speedup | peak B/elem | bpe | identical |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for r in rows:
    ref = r.get("reference", {})
    print(f"| {spec(r)} | {'x'.join(map(str, r['shape']))} | {r['threads']} | {r.get('isa', '')} | {r['encode_ms']:.1f} | "
          f"{r['decode_ms']:.1f} | {r['copy_ms']:.1f} | {r['encode_vs_copy']:.2f} | {r['decode_vs_copy']:.2f} | "
          f"{ref.get('encode_ms', float('nan')):.0f} | {ref.get('decode_ms', float('nan')):.0f} | "
          f"{r.get('encode_speedup', float('nan')):.1f} | {r.get('decode_speedup', float('nan')):.1f} | "
          f"{r['encode_peak_bytes_per_element']:.3f} | {r['bpe']:.3f} | {r.get('identical', '')} |")
main = {(spec(r), r["threads"]): r for r in rows if r["label"] == "main"}
print()
print("| method | encode 1 thread ms | encode 2 threads ms | encode scaling | decode 1 ms | decode 2 ms | decode scaling |")
print("|---|---|---|---|---|---|---|")
for (s, t), r in main.items():
    if t != 1 or (s, 2) not in main:
        continue
    r2 = main[(s, 2)]
    print(f"| {s} | {r['encode_ms']:.1f} | {r2['encode_ms']:.1f} | {r['encode_ms'] / r2['encode_ms']:.2f}x | "
          f"{r['decode_ms']:.1f} | {r2['decode_ms']:.1f} | {r['decode_ms'] / r2['decode_ms']:.2f}x |")
PY
