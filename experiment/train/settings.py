"""A run's settings (``RunSettings``: the model, its hyperparameters, the seed; its ``config``
names the configuration it applies, ``configurations``) and the grid searched around them.
"""
from dataclasses import asdict, dataclass, field

import torch

from configurations import TRAINING

PAPER_MODELS = ("average", "rnn", "lstm", "birnn")


@dataclass
class RunSettings:
    """One training run: a model, its hyperparameters, a seed (saved in its checkpoint)."""

    model: str = "rnn"
    config: str = "paper"                # the named configuration (configurations)
    hidden_dim: int = TRAINING.hidden[0]
    lr: float = 0.01
    momentum: float = TRAINING.momentum
    batch_size: int = TRAINING.batch_size
    epochs: int = TRAINING.epochs
    patience: int = TRAINING.patience    # stop after this many epochs without a better val acc
    seed: int = 0
    dropout: float = TRAINING.dropout    # the Average model's
    weight_decay: float = TRAINING.weight_decay
    dtype: str = "float32"               # training precision
    init: str = "nntools-2015"           # initial values (rnn_models.init)
    loss: str = "averaged"               # "averaged" or "per-step" (see ``loss``)
    options: dict = field(default_factory=dict)   # model options (peepholes, ...)

    def run_id(self):
        return f"{self.model}-{self.config}-h{self.hidden_dim}-lr{self.lr:g}-seed{self.seed}"

    def torch_dtype(self):
        return {"float32": torch.float32, "float64": torch.float64}[self.dtype]


def model_options(config):
    """The keyword arguments of ``rnn_models.build`` for run ``config``: the configuration's
    model options, and the Average model's dropout."""
    options = dict(config.options)
    if config.model == "average":
        options["dropout"] = config.dropout
    return options


def grid(config, lrs, hiddens):
    """The search grid around ``config`` (seed 0)."""
    return [RunSettings(**{**asdict(config), "lr": lr, "hidden_dim": h, "seed": 0})
            for lr in lrs for h in hiddens]


def model_base(model, base, era=None):
    """``base`` for ``model``: the configuration's model options and precision applied
    (``era``: a ``configurations.Configuration``, default the one ``base.config``
    names)."""
    from configurations import get
    era = era or get(base.config)
    return RunSettings(**{**asdict(base), "model": model, "dtype": era.dtype, "init": era.init,
                          "loss": era.loss, "options": {**era.model_options(model), **base.options}})
