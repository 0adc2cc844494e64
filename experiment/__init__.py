"""The experiment: everything that runs the paper's study over the models and the codes. Its
packages (train, analysis, future, studies, tools) and their imports: docs/development.md,
"Inside experiment/".

    python -m experiment.train                train, select, test, report   (make train, make demo)
    python -m experiment.future               the future-work table          (make future)
    python -m experiment.studies.drift        what each 2015-vs-today knob costs  (make drift)
    python -m experiment.analysis.power       what the test set can detect   (make power)
    python -m experiment.analysis.stats       intervals and verdicts from predictions.csv
    python -m experiment.tools.predict        the top-5 classes of a new video
    python -m experiment.tools.bench          training epochs against their GEMM bound (make bench)
    python -m experiment.studies.rehearsal    `make train` at UCF-101's scale  (make rehearsal)
"""
# First, before numpy or torch load: the CPU kernels pinned (common/reproducible.py).
import common.reproducible  # noqa: F401  (isort: skip)
