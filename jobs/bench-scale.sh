#!/usr/bin/env bash
# The many-clients benchmark of docs/performance.md ("Thousands of clients"): the small CNN on Fashion-MNIST with MS
# keep 0.01 b 2, one epoch or round per run, N clients on few client ranks against one client per rank.
#
#   jobs/bench-scale.sh [OUTDIR]          (default results/bench-scale; one metrics file and log per run)
#
# Each row: topology, N, client ranks R, clients per round K, wall seconds, training samples per second, time from
# process start to the first step (rank 0, the metrics file's /ranks), peak resident memory of the largest rank and
# of all ranks summed, bytes of state per client, the sflv1 top replicas apart (K x the top's bytes with its
# momentum and gradient), and the spill's files (states written and read back, peak disk, seconds).
#
# Environment: MESL (executable), RUNS (which rows: space-separated names, default all of the list below), EXTRA
# (more `mesl train` options for every run, e.g. "--train-limit 2000" for a quick check), DATA options via EXTRA.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
mesl="${MESL:-$here/build/bin/mesl}"
out="${1:-$here/results/bench-scale}"
mkdir -p "$out"
[[ -x $mesl ]] || { echo "bench-scale.sh: $mesl not found; build first: cmake --preset default && cmake --build build" >&2; exit 2; }

common=(--model cnn --dataset fashion-mnist --codec ms --keep 0.01 --bits 2 --epochs 1 --threads 1 --quiet)
# name | client ranks | mesl train options. 10,000 clients of Fashion-MNIST hold 6 samples each: one batch of 6 per
# client and epoch, 10,000 steps, which the default --lr 0.05 with momentum drives to NaN; they run at 0.01.
runs=(
  "seq-4x1|4|--topology sequential --clients 4"
  "seq-32x1|32|--topology sequential --clients 32"
  "seq-4|2|--topology sequential --clients 4"
  "seq-100|2|--topology sequential --clients 100"
  "seq-1000|2|--topology sequential --clients 1000"
  "seq-10000|2|--topology sequential --clients 10000 --lr 0.01"
  "sflv1-4x1|4|--topology sflv1 --clients 4"
  "sflv1-32x1|32|--topology sflv1 --clients 32"
  "sflv1-4|2|--topology sflv1 --clients 4"
  "sflv1-100|2|--topology sflv1 --clients 100 --participation 0.1"
  "sflv1-1000|2|--topology sflv1 --clients 1000 --participation 0.1"
  "sflv1-10000|2|--topology sflv1 --clients 10000 --clients-per-round 100 --lr 0.01"
  "seq-10000-medium-spill|2|--topology sequential --clients 10000 --lr 0.01 --cut medium --epochs 2 --client-state-memory 256MiB"
)
wanted=" ${RUNS:-} "
for row in "${runs[@]}"; do
  IFS='|' read -r name ranks options <<<"$row"
  [[ $wanted == "  " || $wanted == *" $name "* ]] || continue
  echo "bench-scale: $name ($ranks client ranks): $options" >&2
  # shellcheck disable=SC2086
  MESL="$mesl" "$here/jobs/workstation.sh" -n "$ranks" "${common[@]}" $options ${EXTRA:-} --overwrite --output "$out/$name.h5" \
    >"$out/$name.log" 2>&1 || { echo "bench-scale: $name failed; see $out/$name.log" >&2; tail -n 5 "$out/$name.log" >&2; exit 1; }
done

/usr/bin/python3 - "$out" <<'PY'
import glob, json, os, sys
import h5py

def mb(b):
    return f"{b / 1e6:.0f}"

print("| run | topology | N | R | K | wall s | samples/s | first step s | peak RSS MB (largest / sum) | state B/client "
      "| top replicas MB | spill: written / read, peak disk MB, s |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for path in sorted(glob.glob(os.path.join(sys.argv[1], "*.h5")), key=os.path.getmtime):
    with h5py.File(path, "r") as f:
        config = json.loads(f.attrs["config"])
        e, r = f["epochs"], f["ranks"]
        samples, train_s = e["samples"][:].sum(), e["train_s"][:].sum()
        rss = r["peak_rss_bytes"][:]
        held, state = r["states_held"][:].sum(), r["state_bytes"][:].sum()
        per_client = state / held if held else 0
        k = int(f.attrs["participants_per_round"])
        replicas = "-"
        if config["topology"] == "sflv1":
            # A replica's weights, its momentum and its gradient: 3 x the top's bytes, per participant.
            replicas = mb(min(k, int(f.attrs["clients"])) * 3 * int(f.attrs["top_bytes"]))
        spill = "-"
        if r["spill_writes"][:].sum() > 0:
            spill = (f"{int(r['spill_writes'][:].sum())} / {int(r['spill_reads'][:].sum())}, "
                     f"{mb(r['spill_peak_bytes'][:].sum())}, {r['spill_s'][:].sum():.1f}")
        print(f"| {os.path.basename(path)[:-3]} | {config['topology']} | {config['clients']} "
              f"| {int(f.attrs['client_ranks'])} | {k} | {e['wall_s'][-1]:.1f} | {samples / train_s:.0f} "
              f"| {r['first_step_s'][0]:.2f} | {mb(rss.max())} / {mb(rss.sum())} | {per_client:.0f} | {replicas} "
              f"| {spill} |")
PY
