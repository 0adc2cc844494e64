"""The training engine: everything a model's training needs, once (its modules:
docs/development.md, "Inside experiment/"). The names imported here are its public face;
studies and tools import them from here."""
from .checkpoints import CheckpointError, atomic_save, load_checkpoint
from .classification import (Classification, Running, best_model, evaluate, model_inputs, sgd,
                             training_loss)
from .cli import main
from .data import Data, Split, features_dir, load_data
from .loop import ERRORS, fit, set_deterministic
from .protocol import (Protocol, Runtime, read_run, run_model, search_then_seeds, searched,
                       summary, tested_run, train_run, val_probabilities)
from .settings import PAPER_MODELS, RunSettings, model_base, model_options
from .stores import store_paths
