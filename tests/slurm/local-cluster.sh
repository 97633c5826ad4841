#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for tests/test_slurm.py:
#   tests/slurm/local-cluster.sh start   # installs slurm-wlm and munge if missing
#   tests/slurm/local-cluster.sh stop
# Daemons are started by hand (there may be no systemd) and stopped by their PIDs;
# state, spool, logs and PID files live under $SLURM_LOCAL (default /tmp/slurm-local).
set -euo pipefail
dir=${SLURM_LOCAL:-/tmp/slurm-local}

start() {
    if ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
    fi
    mkdir -p "$dir"/{state,spool,log} /etc/slurm /run/munge /var/lib/munge /var/log/munge
    chown -R munge:munge /run/munge /var/lib/munge /var/log/munge 2>/dev/null || true
    if [ ! -s /etc/munge/munge.key ]; then
        mkdir -p /etc/munge
        dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null
        chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
    fi
    pgrep -x munged >/dev/null || runuser -u munge -- /usr/sbin/munged
    node=$(hostname -s)
    cpus=$(nproc)
    mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))
    cat > /etc/slurm/slurm.conf <<CONF
ClusterName=local
SlurmctldHost=$node(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
TaskPlugin=task/none
ProctrackType=proctrack/linuxproc
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=main Nodes=$node Default=YES MaxTime=INFINITE State=UP
CONF
    slurmctld -i
    slurmd
    for _ in $(seq 1 60); do
        state=$(sinfo -h -o %t 2>/dev/null || true)
        if [ "$state" = "idle" ]; then echo "slurm: $node idle ($cpus CPUs, ${mem} MB)"; return 0; fi
        sleep 0.5
    done
    echo "slurm: the node did not become idle (sinfo: ${state:-no answer}); logs in $dir/log" >&2
    return 1
}

stop() {
    for pid in "$dir"/slurmd.pid "$dir"/slurmctld.pid; do
        [ -s "$pid" ] && kill "$(cat "$pid")" 2>/dev/null || true
    done
    pkill -x munged 2>/dev/null || true
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
