"""The training engine: everything a model's training needs, once (its modules:
docs/development.md, "Inside experiment/"). The names imported here are its public face;
studies and tools import them from here."""
from .checkpoints import (CHECKPOINT_SECONDS, CheckpointClock, CheckpointError, atomic_save,
                          load_checkpoint, restore)
from .classification import (Classification, Running, best_model, classifier, evaluate,
                             model_inputs, sgd, training_loss)
from .cli import main
from .cluster import stage_tasks
from .data import Data, Split, features_dir, load_data, store_paths
from .loop import ERRORS, NonFiniteLoss, fit, set_deterministic
from .protocol import (Protocol, Runtime, finite_history, read_run, run_model, search_then_seeds,
                       searched, summary, tested_run, train_run, val_probabilities)
from .settings import PAPER_MODELS, RunSettings, grid, model_base, model_options
