#!/usr/bin/env bash
# A real sweep across a (single-node) Slurm cluster: a 4-task job array runs the shards, a job
# that depends on it merges them, and the merged files must equal an unsharded run byte for byte.
# flashsim only shards and merges; Slurm does the distribution. Needs root (as on CI machines);
# installs Debian's slurmctld, slurmd, slurm-client and munge when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$(pwd)/target/release/flashsim"
[ -x "$bin" ] || cargo build --release --bin flashsim
work=$(mktemp -d /tmp/flashsim-slurm.XXXXXX)
sweep=(sweep scenarios/sweep-gateway.toml --replications 2 --grid traffic.users=20000,40000)

if ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
  echo "installing slurm and munge"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurmctld slurmd slurm-client munge >/dev/null
fi

host=$(hostname -s)
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/munge
cat > /etc/slurm/slurm.conf <<EOF
ClusterName=flashsim-ci
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
NodeName=$host CPUs=$(nproc) State=UNKNOWN
PartitionName=ci Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF

chown munge:munge /run/munge
[ -s /etc/munge/munge.key ] || { dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null; chown munge:munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key; }
pgrep -x munged >/dev/null || runuser -u munge -- /usr/sbin/munged
pgrep -x slurmctld >/dev/null || slurmctld
pgrep -x slurmd >/dev/null || slurmd
for _ in $(seq 1 30); do
  sinfo -h -o '%T' 2>/dev/null | grep -qE 'idle|mixed|alloc' && break
  sleep 1
done
sinfo

array=$(sbatch --parsable --array=0-3 --output="$work/shard-%a.log" \
  --wrap "$bin ${sweep[*]} --out $work/parts")
merge=$(sbatch --parsable --dependency=afterok:"$array" --output="$work/merge.log" \
  --wrap "$bin merge $work/parts --out $work/merged")
echo "array job $array, merge job $merge"
for _ in $(seq 1 300); do
  [ -z "$(squeue -h -j "$array,$merge" 2>/dev/null)" ] && break
  sleep 1
done
cat "$work"/shard-*.log "$work/merge.log" || true
ls "$work/parts"

"$bin" "${sweep[@]}" --out "$work/whole"
cmp "$work/merged/sweep.csv" "$work/whole/sweep.csv"
cmp "$work/merged/sweep-summary.csv" "$work/whole/sweep-summary.csv"
echo "slurm sweep: merged shards equal the unsharded run"
rm -rf "$work"
