#!/usr/bin/env bash
# A real single-node Slurm cluster on this machine, for the tests (`make test-slurm`):
#
#   scripts/slurm_local.sh start DIR     # install (apt) if needed, configure in DIR, start
#   export SLURM_CONF=DIR/slurm.conf     # then sbatch, squeue, scontrol as on any cluster
#   scripts/slurm_local.sh stop DIR      # stop the daemons (by their pid files)
#
# Debian's slurmctld/slurmd/slurm-client (Slurm 22.05) and munge, on localhost only, ports
# 16817/16818 (not the defaults, so that a real Slurm on the machine is not disturbed), all
# state, spool, pid and log files in DIR. Needs root (or sudo) for apt and for munge's
# /run/munge. Accounting is off: wait for jobs with squeue.
set -euo pipefail
action=${1:?usage: slurm_local.sh start|stop DIR}
dir=$(mkdir -p "${2:?usage: slurm_local.sh start|stop DIR}" && cd "$2" && pwd)
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
say() { echo "==> [slurm] $*" >&2; }
as_munge() { if [ -z "$SUDO" ]; then runuser -u munge -- "$@"; else sudo -u munge "$@"; fi; }

stop() {
  for daemon in slurmd slurmctld; do
    if [ -f "$dir/$daemon.pid" ]; then
      $SUDO kill "$(cat "$dir/$daemon.pid")" 2>/dev/null || true
      rm -f "$dir/$daemon.pid"
    fi
  done
  # jobs still running under a stopped slurmd would outlive the test
  $SUDO pkill -f "slurmstepd.*$dir" 2>/dev/null || true
}

if [ "$action" = stop ]; then
  stop
  say "stopped"
  exit 0
fi
[ "$action" = start ] || { echo "usage: slurm_local.sh start|stop DIR" >&2; exit 2; }

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || \
   ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
  "$(dirname "$(readlink -f "$0")")/apt_install.sh" slurmctld slurmd slurm-client munge || exit 1
fi

# munge: the package made /etc/munge/munge.key; the daemon runs as user munge
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  say "starting munged"
  $SUDO mkdir -p /run/munge
  $SUDO chown munge:munge /run/munge
  [ -f /etc/munge/munge.key ] || as_munge /usr/sbin/mungekey --verbose
  as_munge /usr/sbin/munged
  for _ in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
fi
munge -n | unmunge >/dev/null || { echo "error: munge does not work" >&2; exit 1; }

stop   # a previous run's daemons in this folder
mkdir -p "$dir/spool" "$dir/state"
cpus=$(nproc)
memory=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 / 2 ))
cat > "$dir/slurm.conf" <<EOF
ClusterName=local
SlurmctldHost=localhost
SlurmctldPort=16817
SlurmdPort=16818
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MinJobAge=600
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$dir/slurm.conf"
say "starting slurmctld and slurmd (config: $SLURM_CONF)"
$SUDO slurmctld -f "$SLURM_CONF"
$SUDO slurmd -f "$SLURM_CONF" -N localhost
for _ in $(seq 100); do
  if sinfo -h -o %t 2>/dev/null | grep -qx "idle"; then
    say "ready: $(sinfo -h -o '%D node, %c CPUs, %t')"
    exit 0
  fi
  sleep 0.2
done
echo "error: the Slurm node did not come up; see $dir/slurmctld.log and $dir/slurmd.log" >&2
stop
exit 1
