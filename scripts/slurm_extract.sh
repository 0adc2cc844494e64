#!/usr/bin/env bash
# Extract the codes on a Slurm cluster: a job array (one task per shard) and a merge job that
# starts when every task has succeeded (--dependency=afterok). Run it on the login node:
#
#   scripts/slurm_extract.sh                     # 16 shards, real pycaffe, CONFIG=paper
#   SHARDS=32 BACKEND=torch DEVICE=cuda SBATCH_TASK="--gres=gpu:1" scripts/slurm_extract.sh
#
# It writes $OUT_DIR/all_splits_$LAYER.h5 (every video of splits 1-3, once), exactly the store a
# single `make extract` writes. Tasks are --requeue: a preempted or requeued task resumes from
# its chunks. Settings (environment): VIDEOS, SPLITS_DIR, OUT_DIR, LAYER, BACKEND, DEVICE,
# CONFIG, WEIGHTS or RANDOM_WEIGHTS, SHARDS, CPUS (per task), EXTRACT_ARGS (more options of
# `python -m caffe_extract extract`, e.g. "--chunk 16"), SBATCH_TASK and SBATCH_MERGE
# (more sbatch options: partition, account, GPUs), PY (the venv's python; run
# `make setup caffe` once on the shared filesystem first).
set -euo pipefail
cd "$(dirname "$0")/.."
SHARDS=${SHARDS:-16}
OUT_DIR=${OUT_DIR:-features}
LAYER=${LAYER:-fc7}
PY=${PY:-$PWD/.venv/bin/python}
weights="--weights ${WEIGHTS:-models/bvlc_reference_caffenet.caffemodel}"
[ -z "${RANDOM_WEIGHTS:-}" ] || weights="--random-weights $RANDOM_WEIGHTS"
store="$OUT_DIR/all_splits_$LAYER.h5"
mkdir -p logs "$OUT_DIR"

array=$(sbatch --parsable --job-name=ucf101-codes --array=0-$((SHARDS - 1)) --requeue \
  --cpus-per-task="${CPUS:-4}" --output="logs/extract-%A_%a.out" ${SBATCH_TASK:-} <<JOB
#!/usr/bin/env bash
set -euo pipefail
exec "$PY" -m caffe_extract extract --videos "${VIDEOS:-data/UCF-101}" \
  --splits "${SPLITS_DIR:-data/ucfTrainTestlist}" --out-dir "$OUT_DIR" --layer "$LAYER" \
  --backend "${BACKEND:-caffe}" --device "${DEVICE:-auto}" --config "${CONFIG:-paper}" $weights \
  --workers "\$(( \${SLURM_CPUS_PER_TASK:-2} > 1 ? \${SLURM_CPUS_PER_TASK:-2} - 1 : 1 ))" \
  --shard "\$SLURM_ARRAY_TASK_ID/$SHARDS" ${EXTRACT_ARGS:-} --no-progress
JOB
)
merge=$(sbatch --parsable --job-name=ucf101-merge --dependency="afterok:$array" \
  --output="logs/merge-%j.out" ${SBATCH_MERGE:-} <<JOB
#!/usr/bin/env bash
set -euo pipefail
exec "$PY" -m caffe_extract merge --out "$store" $(for i in $(seq 0 $((SHARDS - 1))); do printf '"%s" ' "$store.shard${i}of$SHARDS"; done)
JOB
)
echo "submitted: extraction array $array ($SHARDS tasks), then merge $merge -> $store"
echo "$array $merge"
