#!/usr/bin/env bash
# An Open MPI session directory of its own for each mpirun that mesl starts.
#
#   jobs/ompi-session.sh mpirun -np 4 ... build/bin/mesl train ...   (run: a prefix to any mpirun command line)
#   source jobs/ompi-session.sh                                        (sourced: the two functions below)
#
# Why: Open MPI 4.x keeps a job's session files under <base>/ompi.<host>.<uid>/ (base: /tmp), one folder that every
# mpirun of one user on one node shares. When one mpirun removes it as it ends while another starts, the second
# fails before the first rank runs: "A call to mkdir was unable to create the desired directory ... File exists ...
# orte_session_dir failed" (open-mpi/ompi issue 8510; seen here in about 1 of 200 overlapping launches). Sweeps
# packed on one node, two workstation runs side by side and CTest's parallel MPI tests all start mpirun together.
#
# What: a fresh base folder, ${TMPDIR:-/tmp}/mesl-ompi.XXXXXX, made before the launch and passed to Open MPI as the
# MCA parameter orte_tmpdir_base (environment variable OMPI_MCA_orte_tmpdir_base), and removed after mpirun ends.
# Run as a prefix, the script becomes mpirun (exec): signals reach mpirun directly and the exit status is mpirun's.
# A watcher that ignores the usual signals removes the folder once mpirun is gone, however it ended (an error,
# a signal, even SIGKILL). Sourced, mesl_ompi_session_begin makes the folder and mesl_ompi_session_end removes it.
#
# The user's choice wins: with OMPI_MCA_orte_tmpdir_base already set, or orte_tmpdir_base named on the command line
# (`--mca orte_tmpdir_base DIR` or mpirun's `--tmpdir DIR`, in MPIRUN_ARGS for the job scripts), nothing is made and
# the command runs as given.
# MESL_OMPI_SESSION=off switches the script off (mpirun as given, with Open MPI's shared folder: the state before
# this script, for diagnosis). Set TMPDIR to move the folders (node-local scratch on a cluster); the path must stay short (Open MPI puts Unix
# sockets in it, whose paths are limited to 107 characters).

# True when the session directory base is the user's choice: set in the environment or named in "$@", or this
# script switched off (MESL_OMPI_SESSION=off: Open MPI's own shared folder, as before; for diagnosis).
mesl_ompi_tmpdir_chosen() {
  [[ ${MESL_OMPI_SESSION:-on} == off ]] && return 0
  [[ -n ${OMPI_MCA_orte_tmpdir_base:-} ]] && return 0
  local a
  for a in "$@"; do
    [[ $a == orte_tmpdir_base || $a == --tmpdir || $a == -tmpdir ]] && return 0
  done
  return 1
}

# Makes the folder and exports OMPI_MCA_orte_tmpdir_base, unless the user chose (arguments: the launch command
# line, to look for their --mca). Sets mesl_ompi_session_dir (empty when nothing was made). Returns 2 with a
# message when the folder cannot be made.
mesl_ompi_session_begin() {
  mesl_ompi_session_dir=""
  mesl_ompi_tmpdir_chosen "$@" && return 0
  local base="${TMPDIR:-/tmp}"
  if ! mesl_ompi_session_dir="$(mktemp -d "$base/mesl-ompi.XXXXXX" 2>/dev/null)"; then
    mesl_ompi_session_dir=""
    echo "ompi-session.sh: cannot make a session folder in $base; set TMPDIR to a writable folder" >&2
    return 2
  fi
  export OMPI_MCA_orte_tmpdir_base="$mesl_ompi_session_dir"
}

# Removes what mesl_ompi_session_begin made (nothing when the user chose).
mesl_ompi_session_end() {
  [[ -n ${mesl_ompi_session_dir:-} ]] || return 0
  rm -rf "$mesl_ompi_session_dir"
  [[ ${OMPI_MCA_orte_tmpdir_base:-} != "$mesl_ompi_session_dir" ]] || unset OMPI_MCA_orte_tmpdir_base
  mesl_ompi_session_dir=""
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  set -euo pipefail
  if (($# == 0)); then
    echo "usage: ompi-session.sh MPIRUN [ARGS...]  (runs the command with an Open MPI session folder of its own)" >&2
    exit 2
  fi
  mesl_ompi_session_begin "$@"
  if [[ -n $mesl_ompi_session_dir ]]; then
    # $$ stays this process's id through the exec: the watcher waits for mpirun to end. It ignores the signals a
    # terminal or a job scheduler sends the whole process group, holds none of the caller's files open, and is
    # started twice removed, so that mpirun's only children are its own.
    (
      (
        trap '' INT TERM HUP QUIT USR1 USR2
        tail --pid=$$ -s 0.1 -f /dev/null
        rm -rf "$mesl_ompi_session_dir"
      ) &
    ) </dev/null >/dev/null 2>&1
  fi
  exec "$@"
fi
