#!/bin/bash
# Wall time of the whole tiny-prm pipeline (rollouts, labels, training), the bundled command without --export,
# with the load average sampled every 30 s beside it. Results: benchmarks/results/prm_pipeline_time.json
# (written by hand from this script's output: /usr/bin/time's report, the command's JSON line, the load samples).
# Run: bash benchmarks/time_prm_pipeline.sh runs/prm/timing   (the folder must not exist: nothing cached)
set -u
OUT=${1:?usage: time_prm_pipeline.sh OUT_DIR}
if [ -e "$OUT" ]; then echo "$OUT exists; its cached rollouts would skip the sampling being timed" >&2; exit 2; fi
echo "start $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg)"
( while true; do echo "load $(date -u +%T) $(cut -d' ' -f1-3 /proc/loadavg)"; sleep 30; done ) &
SAMPLER=$!
/usr/bin/time -v reasoner train prm --policy tiny --labels exact --problems 2000 --samples 4 --steps 150 --lr 2e-3 \
    --threads 1 --out "$OUT"
STATUS=$?
kill $SAMPLER
echo "end $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg) exit $STATUS"
