#!/usr/bin/env bash
# jobs/ompi-session.sh and the launch in jobs/slurm/mesl-job.sh, without Slurm:
#   1. a launch gets a session folder of its own under TMPDIR, Open MPI uses it, and it is gone after a success, a
#      failure (the status passes through), SIGTERM and SIGKILL to mpirun;
#   2. the user's choice wins: OMPI_MCA_orte_tmpdir_base set, or orte_tmpdir_base / --tmpdir on the command line;
#   3. mesl_run_forwarding_signals (the Slurm scripts' launch) with the mpirun launcher: one log line naming the
#      launcher, its status and its first error line when the run fails before its first training step, none when
#      it failed after it; its session folder is gone either way.
#
# usage: test_ompi_session.sh REPOSITORY MPIRUN [MPIRUN FLAGS...]
set -euo pipefail
repo="$1"
shift
mpirun=("$@")
session="$repo/jobs/ompi-session.sh"

work="$(mktemp -d /tmp/mesl-ompi-session-test.XXXXXX)"
trap 'rm -rf "$work"' EXIT
export TMPDIR="$work/tmp"
mkdir -p "$TMPDIR"

fail() {
  echo "FAIL: $*"
  exit 1
}

folders() { find "$TMPDIR" -maxdepth 1 -name 'mesl-ompi.*' | sort; }

# Waits (up to 5 s) until no session folder is left under TMPDIR.
expect_no_folder() {
  local i
  for ((i = 0; i < 50; i++)); do
    [[ -z $(folders) ]] && return 0
    sleep 0.1
  done
  fail "$1: session folder(s) left behind: $(folders)"
}

# 1. One folder per launch, used by Open MPI, removed afterwards.
out="$("$session" "${mpirun[@]}" -np 2 sh -c 'echo "base=$OMPI_MCA_orte_tmpdir_base"; ls -d "$OMPI_MCA_orte_tmpdir_base"/ompi.*')"
bases="$(sed -n 's/^base=//p' <<<"$out" | sort -u)"
[[ $(wc -l <<<"$bases") -eq 1 && $bases == "$TMPDIR"/mesl-ompi.* ]] ||
  fail "the ranks did not share one folder under TMPDIR: $out"
grep -q "^$bases/ompi\." <<<"$out" || fail "Open MPI did not put its session files in $bases: $out"
expect_no_folder "after a successful run"

rc=0
"$session" "${mpirun[@]}" -np 1 sh -c 'exit 3' >/dev/null 2>&1 || rc=$?
((rc != 0)) || fail "a failing rank's status did not pass through (status 0)"
expect_no_folder "after a failed run"

for signal in TERM KILL; do
  "$session" "${mpirun[@]}" -np 1 sleep 60 >/dev/null 2>&1 &
  pid=$!
  for ((i = 0; i < 100; i++)); do
    [[ -n $(find "$TMPDIR" -mindepth 2 -maxdepth 2 -name 'ompi.*' 2>/dev/null) ]] && break
    sleep 0.1
  done
  [[ -n $(folders) ]] || fail "no session folder while mpirun runs"
  kill "-$signal" "$pid"
  wait "$pid" 2>/dev/null || true
  # SIGKILL leaves mpirun's rank behind for a moment: the folder goes with mpirun itself.
  expect_no_folder "after SIGTERM to mpirun"
  pkill -KILL -f "^sleep 60$" 2>/dev/null || true
done

# 2. The user's choice wins, and nothing is made then.
mkdir -p "$work/mine"
out="$(OMPI_MCA_orte_tmpdir_base="$work/mine" "$session" "${mpirun[@]}" -np 1 sh -c 'echo "$OMPI_MCA_orte_tmpdir_base"')"
[[ $out == "$work/mine" ]] || fail "OMPI_MCA_orte_tmpdir_base was replaced: $out"
out="$("$session" "${mpirun[@]}" --mca orte_tmpdir_base "$work/mine" -np 1 sh -c 'ls -d "$TMPDIR"/mesl-ompi.* '"$work/mine"'/ompi.* 2>/dev/null; true')"
! grep -q "mesl-ompi\." <<<"$out" || fail "a folder was made although --mca orte_tmpdir_base was given: $out"
grep -qF "$work/mine/ompi." <<<"$out" || fail "--mca orte_tmpdir_base did not take effect: $out"
expect_no_folder "with the user's own base"

# 3. The Slurm scripts' launch: the one-line report of a failure before the first training step.
launch() {
  (
    export MESL_REPO="$repo"
    # shellcheck source=../../jobs/slurm/mesl-job.sh
    source "$repo/jobs/slurm/mesl-job.sh"
    mesl_launcher_name=mpirun
    mesl_run_forwarding_signals "$@"
  )
}
rc=0
log="$(launch "${mpirun[@]}" --no-such-option -np 1 true 2>"$work/err")" || rc=$?
((rc != 0)) || fail "mpirun with a bad option reported success"
line="$(grep "launcher mpirun failed before the first training step (status $rc): " <<<"$log")" ||
  fail "no one-line report of the launch failure; the log: $log $(cat "$work/err")"
[[ $(wc -l <<<"$line") -eq 1 && $line == *"no-such-option"* ]] || fail "the report does not name mpirun's error: $line"
grep -q "no-such-option" "$work/err" || fail "mpirun's own message did not reach the job's error log"
expect_no_folder "after a failed launch"

rc=0
log="$(launch "${mpirun[@]}" -np 1 sh -c 'echo "mesl: first training step done 1.00 s after start-up"; echo oops >&2; exit 4' 2>/dev/null)" || rc=$?
((rc != 0)) || fail "a run that failed after its first step reported success"
grep -q "first training step done" <<<"$log" || fail "the run's output did not reach the log: $log"
! grep -q "failed before the first training step" <<<"$log" || fail "a failure after the first step was reported as a launch failure: $log"
expect_no_folder "after a run that failed while training"

rc=0
log="$(launch "${mpirun[@]}" -np 1 true 2>/dev/null)" || rc=$?
((rc == 0)) || fail "a successful launch returned $rc"
! grep -q "failed" <<<"$log" || fail "a successful launch was reported as failed: $log"
echo "PASS: session folders made, used and removed; the user's choice wins; launch failures named in one line"
