#!/usr/bin/env bash
# jobs/slurm/*.sbatch under a real single-node Slurm that this test starts and tears down:
#   1. run.sbatch (launched with srun --mpi=pmix, found by the script itself) and sweep.sbatch (every setting of
#      the default array, launched with mpirun) with a tiny synthetic configuration: their metrics files are
#      complete and the sweep's are named by setting and hold that setting's codec;
#   2. preemptible.sbatch, once with srun and once with mpirun: SIGUSR1 to its batch shell mid-run makes mesl
#      checkpoint and the job requeue itself; the requeued attempt resumes, and the one metrics file has every epoch
#      once and its steps without gaps or repeats.
#
# usage: test_slurm.sh MESL_EXECUTABLE REPOSITORY
# Needs root and Debian's slurm-wlm and munge. Without them it skips loudly with exit status 77 (CTest's
# SKIP_RETURN_CODE); with MESL_REQUIRE_SLURM=1 (CI) it fails instead, so that a skip cannot pass for a pass.
set -euo pipefail

mesl="$1"
repo="$2"
here="$(cd "$(dirname "$0")" && pwd)"
# The test's own deadline, below CTest's TIMEOUT, so that it always gets to tear the cluster down.
deadline=$((SECONDS + ${MESL_SLURM_TEST_BUDGET_S:-330}))

skip() {
  if [[ ${MESL_REQUIRE_SLURM:-0} == 1 ]]; then
    echo "FAIL: jobs.slurm cannot run: $* (MESL_REQUIRE_SLURM=1 says this machine must run it)"
    exit 1
  fi
  local line="=================================================================================================================="
  printf '%s\n' "$line" "SKIPPED: jobs.slurm did not run: $*" \
    "  The Slurm batch scripts are NOT tested. Run this test as root with Debian's packages installed:" \
    "    apt-get install --no-install-recommends slurm-wlm munge     (or: bash jobs/setup-debian.sh slurm-wlm munge)" \
    "  Set MESL_REQUIRE_SLURM=1 to make this a failure instead of a skip (CI does)." "$line"
  exit 77
}

[[ $(id -u) -eq 0 ]] || skip "it must run as root (it starts munged, slurmctld and slurmd)"
for tool in munged mungekey munge unmunge slurmctld slurmd sbatch srun scontrol squeue sinfo scancel; do
  command -v "$tool" >/dev/null || skip "$tool is missing (packages slurm-wlm and munge)"
done
/usr/bin/python3 -c 'import h5py, numpy' 2>/dev/null || skip "/usr/bin/python3 lacks h5py (package python3-h5py)"
[[ -x $mesl ]] || { echo "FAIL: $mesl is not an executable; build the mesl target first"; exit 1; }

# shellcheck source=single_node_slurm.sh
source "$here/single_node_slurm.sh"

work="$(mktemp -d /tmp/mesl-slurm-test.XXXXXX)"
chmod 0755 "$work"
failed_step=""

dump_job_logs() {
  local f
  for f in "$work"/jobs/*.out; do
    [[ -f $f ]] || continue
    echo "---- $f"
    tail -n 40 "$f"
  done
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if ((rc != 0)); then
    echo "FAILED${failed_step:+ at: $failed_step}; job logs and Slurm logs follow"
    dump_job_logs
    slurm_dump_logs
  fi
  slurm_stop
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

fail() {
  echo "FAIL: $*"
  exit 1
}

step() {
  failed_step="$*"
  slurm_log "$*"
}

time_left() { ((SECONDS < deadline)) || fail "out of time (the test's budget is spent) during: $failed_step"; }

# The JobState of every record of a job (an array has one per task).
job_states() { scontrol -o show job "$1" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p'; }
job_field() { scontrol -o show job "$1" 2>/dev/null | sed -n "s/.* $2=\\([^ ]*\\).*/\\1/p" | head -n 1; }

is_final() {
  case "$1" in
    COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | BOOT_FAIL | DEADLINE | PREEMPTED) return 0 ;;
  esac
  return 1
}

# Waits until every record of each job has ended; fails unless all COMPLETED with exit code 0.
wait_jobs() {
  local id s pending record
  while true; do
    pending=0
    for id in "$@"; do
      for s in $(job_states "$id"); do is_final "$s" || pending=1; done
    done
    ((pending)) || break
    time_left
    sleep 1
  done
  for id in "$@"; do
    while read -r record; do
      [[ $record == *"JobState=COMPLETED"* && $record == *"ExitCode=0:0"* ]] ||
        fail "job did not complete: $(grep -o 'JobId=[^ ]*\|ArrayTaskId=[^ ]*\|JobState=[^ ]*\|Reason=[^ ]*\|ExitCode=[^ ]*' <<<"$record" | tr '\n' ' ')"
    done < <(scontrol -o show job "$id")
  done
}

# --- the cluster -----------------------------------------------------------------------------------------------
step "starting a single-node Slurm in $work/slurm"
slurm_start "$work/slurm" || fail "Slurm did not start"
plugins="$(srun --mpi=list 2>&1)" || fail "srun --mpi=list failed: $plugins"
grep -qw pmix <<<"$plugins" || fail "this Slurm has no PMIx plugin (srun --mpi=list): $plugins"

# Everything the jobs write goes under $work; the scripts find the repository themselves (scontrol's Command=,
# since the submit directory is outside it). Containers forbid Open MPI's cross-process memory copies.
mkdir -p "$work/jobs" "$work/results" "$work/checkpoints"
export MESL="$mesl" MESL_RESULTS="$work/results" MESL_CHECKPOINTS="$work/checkpoints"
export OMPI_MCA_btl_vader_single_copy_mechanism=none
unset MESL_REPO MESL_LAUNCHER
cd "$work/jobs"
# 2 clients (3 ranks) on one CPU each job: --overcommit lets 3 tasks share the allocation of one.
small=(--ntasks=3 --cpus-per-task=1 --overcommit --chdir="$work/jobs")
tiny=(--dataset synthetic --synthetic-train 512 --synthetic-test 128 --epochs 2 --batch-size 32 --model cnn --threads 1
  --quiet)

# --- one run and the sweep ---------------------------------------------------------------------------------------
step "submitting run.sbatch and sweep.sbatch"
run_id="$(slurm_sbatch --parsable "${small[@]}" --output="$work/jobs/run-%j.out" \
  "$repo/jobs/slurm/run.sbatch" "${tiny[@]}")"
# The sweep's settings as the script lists them: "index name spec".
settings="$(MESL_REPO="$repo" bash "$repo/jobs/slurm/sweep.sbatch" | sed -n 's/^ *\([0-9][0-9]*\)  *\([^ ]*\)  *\([^ ]*\)$/\1 \2 \3/p')"
count="$(wc -l <<<"$settings")"
((count == 9)) || fail "sweep.sbatch lists $count settings, expected 9: $settings"
sweep_id="$(MESL_LAUNCHER=mpirun MESL_SWEEP_NAME=sweep slurm_sbatch --parsable "${small[@]}" --array="0-$((count - 1))" \
  --output="$work/jobs/sweep-%A_%a.out" "$repo/jobs/slurm/sweep.sbatch" "${tiny[@]}")"
slurm_log "run job $run_id, sweep array job $sweep_id"

step "waiting for run.sbatch (job $run_id) and sweep.sbatch (array job $sweep_id)"
wait_jobs "$run_id" "$sweep_id"

step "checking run.sbatch's metrics file and launcher"
grep -q "launcher: srun --mpi=pmix" "$work/jobs/run-$run_id.out" || fail "run.sbatch did not launch with srun --mpi=pmix"
/usr/bin/python3 "$here/check_run.py" --epochs 2 --steps-per-epoch 16 --method ms "$work/results/mesl-$run_id.h5" ||
  fail "run.sbatch's metrics file is incomplete"

step "checking the sweep's metrics files (one per setting, named by it)"
expected="$(cut -d' ' -f2 <<<"$settings" | sed 's/$/.h5/' | sort)"
actual="$(find "$work/results/sweep" -mindepth 1 -printf '%f\n' | sort)"
[[ $actual == "$expected" ]] || fail "sweep files: ${actual//$'\n'/ }; expected ${expected//$'\n'/ }"
while read -r index name spec; do
  grep -q "launcher: mpirun" "$work/jobs/sweep-${sweep_id}_$index.out" || fail "setting $index did not use mpirun"
  /usr/bin/python3 "$here/check_run.py" --epochs 2 --steps-per-epoch 16 --method "${spec%%:*}" \
    "$work/results/sweep/$name.h5" || fail "sweep setting $index ($name) is incomplete"
done <<<"$settings"

# --- preemption and resume --------------------------------------------------------------------------------------
# Twice, side by side: srun and mpirun pass the forwarded SIGUSR1 on to the ranks in their own ways.
step "submitting preemptible.sbatch with each launcher"
long=(--dataset synthetic --synthetic-train 1024 --synthetic-test 128 --epochs 8 --batch-size 32 --model cnn --threads 1)
declare -A launcher_of
for launcher in srun mpirun; do
  id="$(MESL_LAUNCHER=$launcher slurm_sbatch --parsable "${small[@]}" --output="$work/jobs/preemptible-%j.out" \
    "$repo/jobs/slurm/preemptible.sbatch" "${long[@]}")"
  launcher_of[$id]=$launcher
done
preempted=("${!launcher_of[@]}")
slurm_log "preemptible jobs: $(for id in "${preempted[@]}"; do echo -n "$id (${launcher_of[$id]}) "; done)"

for id in "${preempted[@]}"; do
  step "waiting for preemptible.sbatch (job $id) to finish its second epoch"
  until grep -q "^epoch 2/8" "$work/jobs/preemptible-$id.out" 2>/dev/null; do
    ! is_final "$(job_states "$id")" || fail "job $id ended before its second epoch"
    time_left
    sleep 0.2
  done
  step "SIGUSR1 to the batch shell of job $id: checkpoint, requeue"
  scancel --signal=USR1 --batch "$id"
done

for id in "${preempted[@]}"; do
  step "waiting for job $id to requeue"
  until [[ $(job_field "$id" Restarts) -ge 1 ]]; do
    [[ $(job_states "$id") != COMPLETED ]] || fail "job $id completed without being requeued"
    time_left
    sleep 0.5
  done
  # Slurm holds a requeued job back for two minutes (its begin time); a cluster would wait, the test need not.
  # But slurmd refuses a job credential issued in the same second as the revocation of the last attempt's
  # ("credential revoked"), so the release waits until the old attempt is gone and a few seconds more.
  until [[ $(job_states "$id") == PENDING ]]; do
    time_left
    sleep 0.5
  done
  slurm_log "job $id requeued: $(scontrol -o show job "$id" | grep -o 'JobState=[^ ]*\|Reason=[^ ]*' | tr '\n' ' ')"
done
sleep 3
for id in "${preempted[@]}"; do scontrol update JobId="$id" StartTime=now; done

step "waiting for the requeued jobs ${preempted[*]} to resume and finish"
wait_jobs "${preempted[@]}"

for id in "${preempted[@]}"; do
  step "checking the preempted and resumed run of job $id (${launcher_of[$id]})"
  log="$work/jobs/preemptible-$id.out"
  restarts="$(job_field "$id" Restarts)"
  [[ $restarts == 1 ]] || fail "job $id restarted $restarts times, expected once"
  grep -q "launcher: ${launcher_of[$id]}" "$log" || fail "job $id did not launch with ${launcher_of[$id]}"
  grep -q "SIGUSR1: asking mesl to checkpoint and stop" "$log" || fail "the batch shell did not see SIGUSR1"
  grep -q "mesl: stopped by signal" "$log" || fail "mesl did not report the stop"
  grep -q "requeueing job $id" "$log" || fail "the script did not requeue itself"
  grep -q "attempt 2: resuming from $work/checkpoints/$id/step-" "$log" || fail "the second attempt did not resume"
  compgen -G "$work/checkpoints/$id/step-*/COMPLETE" >/dev/null || fail "no complete checkpoint in checkpoints/$id"
  /usr/bin/python3 "$here/check_run.py" --epochs 8 --steps-per-epoch 32 --method ms \
    "$work/results/mesl-preemptible-$id.h5" || fail "the resumed run's metrics file is incomplete"
done

failed_step=""
slurm_log "PASS: run.sbatch, sweep.sbatch ($count settings), preemptible.sbatch with srun and mpirun (requeued and resumed)"
