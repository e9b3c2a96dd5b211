#!/bin/bash
# A stopped rank must not hang the job: runs `mpi_contract --dead-peer` under the launcher and checks that rank 0
# noticed rank 1 within its timeout, that the job ended with rank 0's abort code (3), and that no rank's process
# is left behind, not even the stopped one.
#
# Usage: dead_peer.sh PROGRAM LAUNCHER... (e.g. mpirun --oversubscribe -n 3)
set -u
program=$1
shift
dir=$(mktemp -d /tmp/mesl-dead-peer.XXXXXX)
trap 'rm -rf "$dir"' EXIT

fail() {
  echo "FAIL: $*"
  exit 1
}

start=$(date +%s)
"$@" "$program" --dead-peer "$dir" >"$dir/output" 2>&1
code=$?
elapsed=$(($(date +%s) - start))
cat "$dir/output"
echo "launcher exit code $code after ${elapsed} s"

# A process that is gone, or a zombie nobody reaped yet (a container's init may not reap), no longer runs.
running() {
  [ -r "/proc/$1/stat" ] || return 1
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != "Z" ] && [ "$state" != "X" ]
}

leftover=()
for file in "$dir"/rank*.pid; do
  [ -e "$file" ] || fail "no rank wrote its pid (did the job start?)"
  pid=$(cat "$file")
  for _ in $(seq 50); do running "$pid" || break; sleep 0.1; done
  if running "$pid"; then
    leftover+=("$pid")
    kill -CONT "$pid" 2>/dev/null
    kill -KILL "$pid" 2>/dev/null  # this test started it: do not leave it behind even when failing
  fi
done

[ "${#leftover[@]}" -eq 0 ] || fail "rank processes ${leftover[*]} were left behind"
[ "$(ls "$dir"/rank*.pid | wc -l)" -ge 2 ] || fail "fewer than 2 ranks wrote their pid"
grep -q "rank 0 noticed after .* s: rank 1 did not answer within 2 s" "$dir/output" || fail "rank 0 did not report rank 1"
grep -q "rank 0 ends the job" "$dir/output" || fail "rank 0 did not end the job"
[ "$code" -eq 3 ] || fail "expected the launcher to exit with rank 0's abort code 3, got $code"
[ "$elapsed" -lt 30 ] || fail "the job took ${elapsed} s to end"
echo "PASS: the stopped rank was detected and the whole job ended"
