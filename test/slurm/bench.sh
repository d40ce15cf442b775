#!/bin/bash
# bench.sh - the 10-day x 2-policy PlanetLab sweep by neat sweep (--workers 2) and through the harness Slurm
# as 2, 10 and 20 shards of 1 CPU each, submit to merged; checks the figures equal (jq, bc). Ports 17817/17818.
set -euo pipefail
W=$(cd "$(dirname "$0")/../.." && pwd); N="node $W/bin/neat.js"; T=${PLANETLAB:-$W/../shared/traces/planetlab}
D=$(mktemp -d /tmp/slurmbench.XXXX)
SLURMCTLD_PORT=17817 SLURMD_PORT=17818 $W/test/slurm/harness/start.sh $D/cluster >/dev/null
export SLURM_CONF=$D/cluster/slurm.conf
GRID="--trace $T --days all --policies thr-mmt-0.8,lr-mmt-1.2"
t0=$(date +%s.%N); $N sweep $GRID --workers 2 --output $D/local.jsonl >/dev/null 2>&1; t1=$(date +%s.%N)
echo "local neat sweep --workers 2: $(echo "$t1-$t0" | bc) s"
for shards in 2 10 20; do
  O=$D/s$shards; t0=$(date +%s.%N)
  id=$($N sweep slurm $GRID --shards $shards --output-dir $O 2>/dev/null)
  while [ -n "$(squeue -h -j $id)" ]; do sleep 0.2; done
  $N sweep merge $O/shard-*.jsonl --output $O/merged.jsonl >/dev/null; t1=$(date +%s.%N)
  same=$(diff <(jq -cS 'del(.wallMs,.decisionTimeMs)' $O/merged.jsonl | sort) <(jq -cS 'del(.wallMs,.decisionTimeMs)' $D/local.jsonl | sort) >/dev/null && echo identical || echo DIFFERENT)
  echo "slurm $shards shards (1 cpu each) submit→merged: $(echo "$t1-$t0" | bc) s; figures $same"
done
$W/test/slurm/harness/stop.sh $D/cluster; rm -rf $D
