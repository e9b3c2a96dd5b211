# shellcheck shell=bash
# Shared by the batch scripts in jobs/slurm/ (sourced, not run): where mesl is, how to launch it under Slurm, and
# how to run it so that a signal to the batch shell reaches every rank. Nothing here needs editing; the batch
# scripts hold the settings a user changes.
#
# Environment (all optional):
#   MESL          the mesl executable (default: build/bin/mesl in the repository)
#   MESL_RESULTS  where metrics files go (default: results/ in the repository)
#   MESL_LAUNCHER auto (default) | srun | mpirun. auto takes `srun --mpi=pmix` when the cluster's Slurm has the
#                 PMIx plugin (srun --mpi=list), else Open MPI's mpirun, which reads the Slurm allocation itself.
#   SRUN_ARGS     extra srun flags;  MPIRUN_ARGS  extra mpirun flags (word-split)
#   TMPDIR        where the mpirun launcher's session folder goes (jobs/ompi-session.sh; default /tmp)

# The repository: the batch script finds it (it has to, to find this file) and sets MESL_REPO before sourcing.
: "${MESL_REPO:?the batch script sets MESL_REPO before sourcing mesl-job.sh}"

# shellcheck source=../ompi-session.sh
source "$MESL_REPO/jobs/ompi-session.sh"

# shellcheck disable=SC2034  # for the batch scripts
mesl_exe="${MESL:-$MESL_REPO/build/bin/mesl}"
# shellcheck disable=SC2034
mesl_results="${MESL_RESULTS:-$MESL_REPO/results}"

mesl_log() { echo "[$(date '+%F %T')] ${SLURM_JOB_ID:+job $SLURM_JOB_ID: }$*"; }
mesl_die() {
  echo "$(basename "${MESL_SCRIPT:-mesl-job.sh}"): $*" >&2
  exit 2
}

mesl_check_exe() {
  [[ -x $mesl_exe ]] || mesl_die "$mesl_exe not found or not executable; build it (cmake --preset default && cmake --build build --target mesl) or set MESL=/path/to/mesl"
}

# True when "$@" already holds the option $1 (as --opt or --opt=value), so that a caller's choice wins.
mesl_has_option() {
  local name="$1" a
  shift
  for a in "$@"; do
    [[ $a == "$name" || $a == "$name="* ]] && return 0
  done
  return 1
}

# Sets the array mesl_launch to the command that starts one rank per Slurm task.
mesl_choose_launcher() {
  local choice="${MESL_LAUNCHER:-auto}" plugins=""
  mesl_launcher_name=""
  if [[ $choice == auto ]]; then
    # The plugin list is the reliable test: `srun --mpi=pmix` fails at launch time, not submit time, without it.
    # (Read whole before grep: with pipefail, grep -q closing the pipe early would fail the test.)
    if command -v srun >/dev/null; then plugins="$(srun --mpi=list 2>&1 || true)"; fi
    if grep -qw pmix <<<"$plugins"; then choice=srun; else choice=mpirun; fi
  fi
  case "$choice" in
    srun)
      # srun takes the task count from the allocation and forwards the signals it receives to every task. Slurm
      # 22.05 to 23.02 do not pass the job's --cpus-per-task on to srun, so it is named again.
      # shellcheck disable=SC2206
      mesl_launch=(srun --mpi=pmix ${SLURM_CPUS_PER_TASK:+--cpus-per-task=$SLURM_CPUS_PER_TASK} ${SRUN_ARGS:-})
      ;;
    mpirun)
      # Open MPI's mpirun reads the Slurm allocation (nodes, tasks per node) and forwards SIGUSR1/SIGUSR2 to every
      # rank. Running as root (containers) needs its explicit permission.
      mesl_launch=(mpirun -np "${SLURM_NTASKS:?not inside a Slurm job with tasks}")
      if [[ $(id -u) -eq 0 ]]; then mesl_launch+=(--allow-run-as-root); fi
      # shellcheck disable=SC2206
      mesl_launch+=(${MPIRUN_ARGS:-})
      ;;
    *) mesl_die "MESL_LAUNCHER must be auto, srun or mpirun, not '$choice'" ;;
  esac
  mesl_launcher_name="$choice"
  mesl_log "launcher: ${mesl_launch[*]}"
}

# Runs "$@" (launcher + mesl train + options) in the background and waits for it, forwarding SIGUSR1.
#
# SIGUSR1 to the batch shell (`#SBATCH --signal=B:USR1@T` before the time limit, `scancel --signal=USR1 --batch`,
# a preemption with PreemptParameters=send_user_signal) reaches only this shell, so it is passed on to the launcher;
# srun and mpirun both hand it to every rank, mesl checkpoints at the next step boundary and every rank exits 0.
# SIGTERM is not forwarded: Slurm sends it to every process of the job at once (scancel, a time limit, a preemption
# without send_user_signal), so the ranks have it already and a second signal would make them stop without a
# checkpoint. The shell only keeps waiting, so that the ranks get Slurm's KillWait to write theirs.
# With the mpirun launcher the run gets an Open MPI session folder of its own under TMPDIR (jobs/ompi-session.sh), so
# that array tasks packed on one node do not race for the shared one; it is removed when the launcher has ended.
# The launcher's output goes to the job's log as it comes and is kept aside too: when the run fails before its
# first training step (rank 0 prints "mesl: first training step ..." then), one line names the launcher, its status
# and its first error line, which is otherwise lost among Open MPI's help text.
# Afterwards mesl_stop_signal names the signal the shell received (empty if none); returns the launcher's status.
mesl_run_forwarding_signals() {
  mesl_stop_signal=""
  local signals=0 before rc out_log err_log out_fd err_fd out_pid err_pid
  mesl_pid=""
  if [[ ${mesl_launcher_name:-} == mpirun ]]; then
    mesl_ompi_session_begin "$@" || return 2
    trap mesl_ompi_session_end EXIT
    [[ -z $mesl_ompi_session_dir ]] || mesl_log "Open MPI session folder: $mesl_ompi_session_dir"
  fi
  out_log="$(mktemp "${TMPDIR:-/tmp}/mesl-launch-out.XXXXXX")" && err_log="$(mktemp "${TMPDIR:-/tmp}/mesl-launch-err.XXXXXX")" ||
    mesl_die "cannot make a file in ${TMPDIR:-/tmp}; set TMPDIR to a writable folder"
  exec {out_fd}> >(tee "$out_log")
  out_pid=$!
  exec {err_fd}> >(tee "$err_log" >&2)
  err_pid=$!
  # bash runs a trap only between commands, and `wait` is interruptible, so the job runs in the background. The
  # traps come first: a signal that arrived before the launch would otherwise end the shell.
  trap 'mesl_stop_signal=USR1; signals=$((signals + 1)); mesl_log "SIGUSR1: asking mesl to checkpoint and stop"; [[ -z $mesl_pid ]] || kill -USR1 "$mesl_pid" 2>/dev/null' USR1
  trap 'mesl_stop_signal=${mesl_stop_signal:-TERM}; signals=$((signals + 1)); mesl_log "SIGTERM: waiting for the ranks to stop"' TERM
  "$@" >&"$out_fd" 2>&"$err_fd" &
  mesl_pid=$!
  while true; do
    before=$signals
    wait "$mesl_pid"
    rc=$?
    # A trap interrupts `wait` with a status above 128 while the job goes on: wait again for its real status
    # (bash keeps the status of a child that ended in the meantime, so this cannot hang).
    if ((signals != before && rc > 128)); then continue; fi
    break
  done
  trap - USR1 TERM
  # The copies end once everything that held the launcher's output has closed it.
  exec {out_fd}>&- {err_fd}>&-
  wait "$out_pid" "$err_pid" 2>/dev/null || true
  if [[ ${mesl_launcher_name:-} == mpirun ]]; then
    mesl_ompi_session_end
    trap - EXIT
  fi
  if ((rc != 0)) && ! grep -q '^mesl: first training step done' "$out_log"; then
    mesl_log "launcher ${mesl_launcher_name:-$1} failed before the first training step (status $rc): $(mesl_first_error_line "$err_log")"
  fi
  rm -f "$out_log" "$err_log"
  return "$rc"
}

# The first line of a launcher's error output that says something (Open MPI frames its messages with lines of
# dashes), or a note that there was none.
mesl_first_error_line() {
  local line
  while IFS= read -r line; do
    [[ $line =~ [[:alnum:]] ]] || continue
    echo "$line"
    return 0
  done <"$1"
  echo "(it wrote no error message)"
}
