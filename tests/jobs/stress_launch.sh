#!/usr/bin/env bash
# Overlapping mpirun launches through the project's launch paths, counting the ones that fail (not run by CI: it
# takes minutes). Issue 34: Open MPI 4.x's shared session folder makes some of them fail at orte_init
# ("A call to mkdir was unable to create the desired directory ... File exists"); jobs/ompi-session.sh gives each
# launch a folder of its own.
#
#   tests/jobs/stress_launch.sh workstation   LOOPS (4) parallel loops of LAUNCHES (250) back-to-back
#                                             `jobs/workstation.sh -n 1` launches of a trivial program
#   tests/jobs/stress_launch.sh slurm         an array of TASKS (200) short run.sbatch tasks with the mpirun
#                                             launcher, packed on a single-node Slurm of NODE_CPUS (8) CPUs
#   tests/jobs/stress_launch.sh all           both (the default)
#
# SHARED=1 reproduces the state before the fix: MESL_OMPI_SESSION=off, so every launch uses Open MPI's default
# shared folder. Prints one line per path: launches, failures, and how many of the failures were the session-folder
# race. The Slurm path needs root and Debian's slurm-wlm and munge.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
what="${1:-all}"
loops="${LOOPS:-4}" launches="${LAUNCHES:-250}" tasks="${TASKS:-200}"
work="$(mktemp -d /tmp/mesl-stress-launch.XXXXXX)"
chmod 0755 "$work"
label="per-launch session folders"
if [[ ${SHARED:-0} == 1 ]]; then
  export MESL_OMPI_SESSION=off
  label="Open MPI's shared session folder (before the fix)"
fi
export OMPI_MCA_btl_vader_single_copy_mechanism=none

race() { { grep -lE "unable to create the desired directory|orte_session_dir failed" "$@" 2>/dev/null || true; } | wc -l; }

stress_workstation() {
  local i
  mkdir -p "$work/ws"
  for ((i = 0; i < loops; i++)); do
    (
      local n failed=0
      for ((n = 0; n < launches; n++)); do
        if ! MESL=/bin/true "$repo/jobs/workstation.sh" -n 1 >"$work/ws/$i-$n.log" 2>&1; then
          failed=$((failed + 1))
        else
          rm -f "$work/ws/$i-$n.log"
        fi
      done
      echo "$failed" >"$work/ws/failed-$i"
    ) &
  done
  wait
  local failed races
  failed=0
  for i in "$work/ws"/failed-*; do failed=$((failed + $(cat "$i"))); done
  races="$(race "$work"/ws/*.log)"
  echo "workstation.sh: $((loops * launches)) launches in $loops parallel loops, $failed failed ($races by the session-folder race) -- $label"
}

stress_slurm() {
  [[ $(id -u) -eq 0 ]] || { echo "slurm: needs root"; return 1; }
  # shellcheck source=single_node_slurm.sh
  source "$repo/tests/jobs/single_node_slurm.sh"
  # More CPUs than the machine has, so that more array tasks run at once (slurmd accepts them with config_overrides).
  slurm_node_cpus="${NODE_CPUS:-8}"
  trap 'slurm_stop' EXIT
  slurm_start "$work/slurm" >/dev/null || { echo "slurm: the cluster did not start"; return 1; }
  mkdir -p "$work/jobs" "$work/results"
  local id state
  id="$(cd "$work/jobs" && MESL=/bin/true MESL_RESULTS="$work/results" MESL_LAUNCHER=mpirun MESL_REPO="$repo" \
    slurm_sbatch --parsable --array="0-$((tasks - 1))" --ntasks=1 --cpus-per-task=1 --output="$work/jobs/task-%A_%a.out" \
    "$repo/jobs/slurm/run.sbatch")"
  while squeue -h -j "$id" 2>/dev/null | grep -q .; do sleep 2; done
  local completed=0 failed=0
  while read -r state; do
    if [[ $state == *"JobState=COMPLETED"* && $state == *"ExitCode=0:0"* ]]; then completed=$((completed + 1)); else failed=$((failed + 1)); fi
  done < <(scontrol -o show job "$id")
  local reported
  reported="$({ grep -l "failed before the first training step" "$work"/jobs/*.out 2>/dev/null || true; } | wc -l)"
  echo "slurm array: $tasks tasks of run.sbatch with mpirun, up to $slurm_node_cpus at once: $completed completed, $failed failed ($(race "$work"/jobs/*.out) by the session-folder race, $reported reported as launch failures) -- $label"
  slurm_stop
  trap - EXIT
}

case "$what" in
  workstation) stress_workstation ;;
  slurm) stress_slurm ;;
  all) stress_workstation; stress_slurm ;;
  *) echo "usage: stress_launch.sh [workstation|slurm|all]" >&2; exit 2 ;;
esac
rm -rf "$work"
