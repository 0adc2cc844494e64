"""The experiment: everything that runs the paper's study over the models and the codes.

    python -m experiment.train      train, select, test, report      (make train, make demo)
    python -m experiment.drift      what each 2015-vs-today knob costs  (make drift)
    python -m experiment.power      what the test set can detect        (make power)
    python -m experiment.predict    the top-5 classes of a new video
    python -m experiment.stats      intervals and verdicts recomputed from predictions.csv
    python -m experiment.bench      training epochs against their GEMM bound (make bench)
    python -m experiment.rehearsal  `make train` at UCF-101's scale     (make rehearsal)

Modules: train, report (tables and plots), stats, power, drift, predict, readme_check,
bench, device_bench, rehearsal, theano_step. This package imports the others (reference,
configurations, rnn_models, caffe_extract); none of them imports it.
"""
# First, before numpy or torch load: the CPU kernels pinned (common/reproducible.py).
import common.reproducible  # noqa: F401  (isort: skip)
