#!/bin/bash
# Extract UCF-101 codes on a Slurm cluster: one job-array task per shard, then one merge job.
#
#   sbatch scripts/slurm_extract.sh            # 16 shards (the --array below), train and test
#   # when all tasks are done (or: sbatch --dependency=afterok:JOBID --wrap "...merge..."):
#   for s in train test; do
#     .venv/bin/python -m caffe_extract merge --out features/split1_${s}_fc7.h5 \
#       features/split1_${s}_fc7.h5.shard*of16
#   done
#
# Each task resumes by itself if it is preempted and requeued (--requeue): rerun = continue.
# Run `make setup caffe` (and `make data weights`) once on the shared filesystem first.
# For the PyTorch port on GPUs: BACKEND=torch DEVICE=cuda and add  #SBATCH --gres=gpu:1.
#SBATCH --job-name=ucf101-codes
#SBATCH --array=0-15
#SBATCH --cpus-per-task=4
#SBATCH --mem=8G
#SBATCH --time=04:00:00
#SBATCH --requeue
#SBATCH --output=logs/extract-%A_%a.out
set -euo pipefail
cd "${SLURM_SUBMIT_DIR:-.}"
N=${SLURM_ARRAY_TASK_COUNT:-16}
I=${SLURM_ARRAY_TASK_ID:-0}
exec .venv/bin/python -m caffe_extract extract \
  --videos "${VIDEOS:-data/UCF-101}" --splits "${SPLITS:-data/ucfTrainTestlist}" \
  --out-dir "${OUT_DIR:-features}" --layer "${LAYER:-fc7}" \
  --backend "${BACKEND:-caffe}" --device "${DEVICE:-cpu}" \
  --workers "$(( ${SLURM_CPUS_PER_TASK:-4} - 1 ))" --shard "$I/$N" --no-progress
