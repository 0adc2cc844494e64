"""The experiment: everything that runs the paper's study over the models and the codes.

    train/      the training engine: data, the one loop, checkpoints, the protocol (search, then
                seeds, each tested once), parallel runs; ``python -m experiment.train``
    analysis/   what the runs' predictions say: statistics, power, the results tables, plots
    future/     the paper's future work beside its models (``python -m experiment.future``):
                motion stream and fusion, ten crops, fine-tuning, pretraining
    studies/    the drift ledger (2015 vs today, knob by knob) and the rehearsal at UCF-101's
                scale
    tools/      benches, prediction for a new video, the demo's bit checks

    python -m experiment.train                train, select, test, report   (make train, make demo)
    python -m experiment.future               the future-work table          (make future)
    python -m experiment.studies.drift        what each 2015-vs-today knob costs  (make drift)
    python -m experiment.analysis.power       what the test set can detect   (make power)
    python -m experiment.analysis.stats       intervals and verdicts from predictions.csv
    python -m experiment.tools.predict        the top-5 classes of a new video
    python -m experiment.tools.bench          training epochs against their GEMM bound (make bench)
    python -m experiment.studies.rehearsal    `make train` at UCF-101's scale  (make rehearsal)

Imports point down: analysis <- train <- future, studies <- tools. This package imports the
others (reference, configurations, rnn_models, caffe_extract); none of them imports it.
"""
# First, before numpy or torch load: the CPU kernels pinned (common/reproducible.py).
import common.reproducible  # noqa: F401  (isort: skip)
