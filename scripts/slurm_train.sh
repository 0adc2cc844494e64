#!/usr/bin/env bash
# Train the results table on a Slurm cluster: the grid search as a job array (one task per
# split, model and grid point, seed 0), the seeds of each chosen setting as a second array
# (after the first: --dependency=afterok), and the report as a last job (after the second).
# The report runs the same command as `make train`, which finds every run done and writes the
# tables: the results equal a single-process `make train`'s. Run it on the login node:
#
#   scripts/slurm_train.sh                              # the paper's four models, split 1
#   SPLITS="1 2 3" DEVICE=cuda SBATCH_TASK="--gres=gpu:1" scripts/slurm_train.sh
#
# Settings (environment): FEATURES, RESULTS, MODELS, SPLITS, CONFIG, LAYER, DEVICE, TRAIN_ARGS
# (more `experiment.train` options, e.g. "--lr 0.003 0.001 --hidden 512 --seeds 3"), CPUS,
# SBATCH_TASK and SBATCH_REPORT (more sbatch options), PY.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-$PWD/.venv/bin/python}
RESULTS=${RESULTS:-results/ucf101-${CONFIG:-paper}}
command="\"$PY\" -m experiment.train --features \"${FEATURES:-features}\" --out \"$RESULTS\" \
  --models ${MODELS:-average rnn lstm birnn} --splits ${SPLITS:-1} --config ${CONFIG:-paper} \
  --layer ${LAYER:-fc7} --device ${DEVICE:-auto} ${TRAIN_ARGS:-} --no-progress"
count() { eval "$command --stage $1 --count"; }
n_search=$(count search)
n_seeds=$(count seeds)
mkdir -p logs "$RESULTS"

submit() {   # submit NAME DEPENDENCY ARRAY COMMAND...
  local name=$1 dependency=$2 array=$3
  shift 3
  sbatch --parsable --job-name="$name" ${dependency:+--dependency=afterok:$dependency} \
    ${array:+--array=$array} --requeue --cpus-per-task="${CPUS:-2}" \
    --output="logs/$name-%A_%a.out" ${SBATCH_TASK:-} <<JOB
#!/usr/bin/env bash
set -euo pipefail
exec $*
JOB
}
search=$(submit train-search "" "0-$((n_search - 1))" "$command --stage search --task \$SLURM_ARRAY_TASK_ID")
seeds=$(submit train-seeds "$search" "0-$((n_seeds - 1))" "$command --stage seeds --task \$SLURM_ARRAY_TASK_ID")
report=$(SBATCH_TASK="${SBATCH_REPORT:-}" submit train-report "$seeds" "" "$command")
echo "submitted: search array $search ($n_search tasks), seeds array $seeds ($n_seeds tasks, after it), report $report -> $RESULTS"
echo "$search $seeds $report"
