#!/bin/bash
# start.sh <dir> - a private one-node Slurm cluster on 127.0.0.1, everything it
# writes (configuration, munge key and socket, state, logs, PIDs) under <dir>.
# Install-free: it assumes Debian's slurm-wlm and munge (.ci/run installs them).
# Prints SLURM_CONF=<dir>/slurm.conf; commands given that variable talk to this
# cluster and to no other. Ports: SLURMCTLD_PORT and SLURMD_PORT (defaults
# 16817/16818), on loopback, so that it never meets a site's Slurm on 6817/6818.
set -euo pipefail
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
DIR=${1:?usage: start.sh <dir>}
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
CTLD_PORT=${SLURMCTLD_PORT:-16817}
SLURMD_PORT=${SLURMD_PORT:-16818}
NODE=$(hostname -s)
CPUS=$(nproc)
USER_NAME=$(id -un)
for tool in munged slurmctld slurmd sinfo sbatch squeue; do
    command -v "$tool" >/dev/null || { echo "start.sh: $tool is missing (apt-get install slurm-wlm munge)" >&2; exit 3; }
done
mkdir -p "$DIR/munge" "$DIR/state" "$DIR/spool" "$DIR/log" "$DIR/run"
# munged refuses a key others can read; clients need to reach the socket (x), not list the directory.
chmod 711 "$DIR/munge"
[ -f "$DIR/munge/munge.key" ] || { head -c 1024 /dev/urandom > "$DIR/munge/munge.key"; chmod 400 "$DIR/munge/munge.key"; }
SOCKET=$DIR/munge/munge.socket
cat > "$DIR/slurm.conf" <<CONF
ClusterName=neat-test
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=$USER_NAME
SlurmdUser=$USER_NAME
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$SOCKET
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool/slurmd-%n
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
MinJobAge=30
NodeName=$NODE NodeHostname=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
CONF
munged --socket="$SOCKET" --key-file="$DIR/munge/munge.key" --pid-file="$DIR/run/munged.pid" \
    --log-file="$DIR/log/munged.log" --seed-file="$DIR/munge/munge.seed" --force
export SLURM_CONF=$DIR/slurm.conf
# -i: a fresh state, never a job left from an earlier run of the harness.
slurmctld -f "$SLURM_CONF" -i
slurmd -f "$SLURM_CONF" -N "$NODE"
for _ in $(seq 1 60); do
    state=$(sinfo -h -N -n "$NODE" -o '%t' 2>/dev/null || true)
    if [ "$state" = idle ]; then
        echo "SLURM_CONF=$SLURM_CONF"
        exit 0
    fi
    sleep 0.5
done
echo "start.sh: node $NODE not idle after 30 s (state: ${state:-none}); logs in $DIR/log" >&2
tail -n 20 "$DIR/log/slurmctld.log" "$DIR/log/slurmd.log" >&2 || true
exit 1
