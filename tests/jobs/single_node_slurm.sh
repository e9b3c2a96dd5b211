# shellcheck shell=bash
# A throw-away single-node Slurm cluster for tests (sourced): munged, slurmctld and slurmd from Debian's munge and
# slurm-wlm, run as root with every file under one directory and nothing in /etc touched. The client commands find
# it through SLURM_CONF, which the jobs inherit too (sbatch exports the environment).
#
#   slurm_start DIR     starts munged, slurmctld and slurmd, waits until the node is idle; exports SLURM_CONF
#   slurm_sbatch ARGS   sbatch, with the mark that lets slurm_stop find what the job left behind
#   slurm_stop          cancels the jobs, stops the daemons it started (by their process ids), then ends any
#                       process that still carries this cluster's mark; DIR stays
#
# The machine has no cgroups and no systemd: process tracking by /proc (proctrack/linuxproc), no task binding
# (task/none), no accounting daemon; the daemons run in the foreground (-D) as background children of the test.

slurm_dir=""
slurm_pids=()
# Set only in the environment of the daemons and of sbatch, so every process of the cluster and of its jobs carries
# it, and the test's own processes do not.
slurm_mark=""

slurm_log() { echo "[$(date +%T)] $*"; }

# A TCP port nothing listens on (the kernel's choice; slurmctld and slurmd get one each).
slurm_free_port() {
  /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

slurm_write_conf() {
  local host ctld_port slurmd_port cpus
  host="$(hostname -s)"
  ctld_port="$(slurm_free_port)"
  slurmd_port="$(slurm_free_port)"
  while [[ $slurmd_port == "$ctld_port" ]]; do slurmd_port="$(slurm_free_port)"; done
  # slurm_node_cpus (set by the caller) claims more CPUs than the machine has, to pack more jobs on it.
  cpus="${slurm_node_cpus:-$(nproc)}"
  cat >"$slurm_dir/slurm.conf" <<EOF
# Written by tests/jobs/single_node_slurm.sh for one test run.
ClusterName=mesltest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$slurm_dir/munge/munge.socket.2
StateSaveLocation=$slurm_dir/state
SlurmdSpoolDir=$slurm_dir/spool
SlurmctldPidFile=$slurm_dir/run/slurmctld.pid
SlurmdPidFile=$slurm_dir/run/slurmd.pid
SlurmctldLogFile=$slurm_dir/log/slurmctld.log
SlurmdLogFile=$slurm_dir/log/slurmd.log
# No cgroups here: track processes through /proc, bind nothing.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
$( ((cpus > $(nproc))) && echo "SlurmdParameters=config_overrides")
# Finished jobs stay visible to scontrol (there is no accounting database for sacct).
MinJobAge=900
KillWait=15
# Schedule at once when something changes, and often enough otherwise.
SchedulerParameters=sched_min_interval=0,sched_interval=2
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
}

slurm_start() {
  slurm_dir="$1"
  slurm_mark="MESL_TEST_SLURM_CLUSTER=$slurm_dir"
  mkdir -p "$slurm_dir"/{state,spool,log,run}
  # munged checks that its directories are not writable by others and that the key is private.
  install -d -m 0755 "$slurm_dir/munge"
  mungekey --create --keyfile="$slurm_dir/munge/munge.key" --force >/dev/null
  chmod 0600 "$slurm_dir/munge/munge.key"
  munged --foreground --force --key-file="$slurm_dir/munge/munge.key" --socket="$slurm_dir/munge/munge.socket.2" \
    --pid-file="$slurm_dir/munge/munged.pid" --log-file="$slurm_dir/log/munged.log" \
    --seed-file="$slurm_dir/munge/munged.seed" >"$slurm_dir/log/munged.out" 2>&1 &
  slurm_pids+=($!)
  local i
  for ((i = 0; i < 100; i++)); do
    [[ -S $slurm_dir/munge/munge.socket.2 ]] && break
    sleep 0.1
  done
  munge -S "$slurm_dir/munge/munge.socket.2" -n | unmunge -S "$slurm_dir/munge/munge.socket.2" >/dev/null ||
    { slurm_log "munged does not work: $(cat "$slurm_dir/log/munged.log")"; return 1; }

  slurm_write_conf
  export SLURM_CONF="$slurm_dir/slurm.conf"
  env "$slurm_mark" slurmctld -D -i >"$slurm_dir/log/slurmctld.out" 2>&1 &
  slurm_pids+=($!)
  env "$slurm_mark" slurmd -D >"$slurm_dir/log/slurmd.out" 2>&1 &
  slurm_pids+=($!)
  for ((i = 0; i < 600; i++)); do
    if [[ $(sinfo -h -N -o '%t' 2>/dev/null) == idle ]]; then
      slurm_log "Slurm is up: $(sinfo -h -N -o '%N %c CPUs %t')"
      return 0
    fi
    for pid in "${slurm_pids[@]}"; do
      kill -0 "$pid" 2>/dev/null || { slurm_log "a Slurm daemon (pid $pid) died"; slurm_dump_logs; return 1; }
    done
    sleep 0.1
  done
  slurm_log "the node did not become idle in 60 s: $(sinfo -N 2>&1)"
  slurm_dump_logs
  return 1
}

slurm_dump_logs() {
  local f
  for f in "$slurm_dir"/log/*; do
    [[ -s $f ]] || continue
    echo "---- $f (last 30 lines)"
    tail -n 30 "$f"
  done
}

slurm_sbatch() { env "$slurm_mark" sbatch "$@"; }

# Processes of this cluster that are still alive: the daemons, slurmstepd and the jobs' processes (the mark).
slurm_marked_pids() {
  local d
  [[ -n $slurm_mark ]] || return 0
  for d in /proc/[0-9]*; do
    if { tr '\0' '\n' <"$d/environ"; } 2>/dev/null | grep -qxF "$slurm_mark"; then
      echo "${d#/proc/}"
    fi
  done
}

slurm_stop() {
  [[ -n $slurm_dir ]] || return 0
  local i pid
  if [[ -n ${SLURM_CONF:-} ]] && ((${#slurm_pids[@]} > 1)); then
    # Jobs first, while slurmd can still end their processes.
    scancel --full --quiet --partition=test 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
      [[ -z $(squeue -h -t RUNNING,COMPLETING,PENDING -o %i 2>/dev/null) ]] && break
      sleep 0.2
    done
  fi
  # slurmd, slurmctld, then munged (the order that lets each one finish talking to the next).
  for ((i = ${#slurm_pids[@]} - 1; i >= 0; i--)); do
    pid="${slurm_pids[$i]}"
    kill -TERM "$pid" 2>/dev/null || continue
    for _ in {1..50}; do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  slurm_pids=()
  # Whatever of the jobs survived (a step slurmd could not end): this test started them.
  for pid in $(slurm_marked_pids); do
    slurm_log "killing leftover job process $pid: $({ tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null | cut -c1-100)"
    kill -KILL "$pid" 2>/dev/null || true
  done
}
