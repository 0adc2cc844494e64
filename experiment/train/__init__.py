"""The training engine: everything a model's training needs, once.

    settings.py        a run's settings (``RunSettings``), the grid around them
    data.py            a split's codes in memory (``Split``), one official split (``Data``,
                       ``load_data``), where the stores are
    stores.py          the one rule for stores used together (``check_together``)
    outputs.py         one results folder, one command (``claim``)
    loop.py            the one training loop, ``fit`` (resume, checkpoints, early stop, progress)
    checkpoints.py     when a checkpoint is due, how it is written, read and resumed from
    classification.py  the classifiers' objective, loss, evaluation and optimiser
    protocol.py        search, then seeds, each tested once (``run_model``); a run's record
    cluster.py         runs as units: a cluster's job-array tasks and --jobs' workers
    parallel.py        ``--jobs N``: the units N at once
    cli.py             ``python -m experiment.train``

The names below are the engine's public face; studies and tools import them from here.
"""
from .checkpoints import (CHECKPOINT_SECONDS, CheckpointClock, CheckpointError, atomic_save,
                          load_checkpoint, restore)
from .classification import (Classification, Running, best_model, classifier, evaluate,
                             model_inputs, sgd, training_loss)
from .cli import main
from .cluster import stage_tasks
from .data import Data, Split, features_dir, load_data, store_paths
from .loop import ERRORS, NonFiniteLoss, fit, set_deterministic
from .protocol import (Protocol, Runtime, finite_history, read_run, run_model, search_then_seeds, searched,
                       summary, tested_run, train_run, val_probabilities)
from .settings import PAPER_MODELS, RunSettings, grid, model_base, model_options

__all__ = ["CHECKPOINT_SECONDS", "CheckpointClock", "CheckpointError", "atomic_save",
           "load_checkpoint", "restore", "Classification", "Running", "best_model", "classifier",
           "evaluate", "model_inputs", "sgd", "training_loss", "main", "stage_tasks", "Data",
           "Split", "features_dir", "load_data", "store_paths", "NonFiniteLoss", "fit",
           "set_deterministic", "ERRORS", "Protocol", "Runtime", "finite_history", "read_run", "run_model", "search_then_seeds",
           "searched", "summary", "tested_run", "train_run", "val_probabilities", "PAPER_MODELS",
           "RunSettings", "grid", "model_base", "model_options"]
