#!/usr/bin/env bash
# mesl on a workstation: mpirun with the flags a single machine needs, everything else passed to `mesl train`.
#
#   jobs/workstation.sh -n 4 --codec ms --keep 0.01 --bits 2 --epochs 3 --output results/run.h5
#   jobs/workstation.sh -n 2 --clients 1000 --participation 0.1 --topology sflv1 --output results/many.h5
#
#   -n R        client ranks (default 4; R + 1 ranks: rank 0 is the server). Each hosts one client unless
#               --clients N puts N >= R clients on them (docs/protocol.md, "Clients and ranks").
#   MESL=path   the mesl executable (default: build/bin/mesl next to this script)
#   MPIRUN_ARGS extra mpirun flags, e.g. MPIRUN_ARGS="--mca btl_tcp_if_include lo"
#   TMPDIR      where mpirun's session folder goes (jobs/ompi-session.sh: one per launch, removed afterwards)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
mesl="${MESL:-$here/build/bin/mesl}"
ranks=4
if [[ "${1:-}" == "-n" ]]; then
  ranks="$2"
  shift 2
fi
if [[ ! -x "$mesl" ]]; then
  echo "workstation.sh: $mesl not found; build first: cmake --preset default && cmake --build build" >&2
  exit 2
fi
flags=(
  -np $((ranks + 1))
  --oversubscribe           # 11 ranks on a 2-core workstation is normal: ranks that wait do not spin
  --bind-to none            # let the OS place ranks; mesl shares the cores among them (--threads)
  --mca btl self,vader      # one machine: shared memory only
  --mca btl_vader_single_copy_mechanism none  # containers often forbid cross-process memory access
)
if [[ $(id -u) -eq 0 ]]; then flags+=(--allow-run-as-root); fi
# shellcheck disable=SC2086
# Through ompi-session.sh: a session folder of its own, so that runs side by side do not race (see that script).
exec "$here/jobs/ompi-session.sh" mpirun "${flags[@]}" ${MPIRUN_ARGS:-} "$mesl" train "$@"
