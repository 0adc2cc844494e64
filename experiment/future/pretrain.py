"""Unsupervised pretraining (the paper's future work, after Srivastava et al. 2015, which it
cites; docs/future.md, "Unsupervised pretraining"): a composite LSTM autoencoder
(``rnn_models.autoencoder``) learns from the training videos' codes without their labels (the
validation codes only pick its epoch); the ``lstm`` classifier of seed s starts from the
encoder pretrained with seed s. The learning curve trains the classifier on 10, 25, 50 and 100%
of the training labels (``label_subset``: the same subsets with and without pretraining), with
and without that start.
"""
import math
import os
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from configurations import FUTURE, TRAINING
from rnn_models.autoencoder import CompositeAutoencoder

from experiment.train import Runtime, RunSettings, Split, fit, run_model, sgd

FRACTIONS = FUTURE.label_fractions


@dataclass
class PretrainSettings:
    """One pretraining run of the composite autoencoder (the knob table's "pretraining" rows)."""

    config: str = "paper"               # the named configuration the classifier runs under
    hidden_dim: int = TRAINING.hidden[0]        # must equal the classifier's
    split: int = FUTURE.pretrain_split          # k: the encoder reads x_1..x_k (T // 2 of 10)
    lr: float = FUTURE.pretrain_lr              # 0.003 diverged on the demo's codes (L ~ 7e3)
    momentum: float = TRAINING.momentum
    weight_decay: float = TRAINING.weight_decay
    batch_size: int = TRAINING.batch_size
    epochs: int = FUTURE.pretrain_epochs
    seed: int = 0
    dtype: str = "float32"
    init: str = "nntools-2015"
    options: dict = field(default_factory=dict)    # the LSTM's (peepholes, output gate)

    torch_dtype = RunSettings.torch_dtype

    def run_id(self):
        return f"autoencoder-{self.config}-h{self.hidden_dim}-k{self.split}-lr{self.lr:g}-seed{self.seed}"

    def tag(self):
        """What the classifier's runs depend on besides hidden size and seed (their folder)."""
        return f"pretrained-k{self.split}-lr{self.lr:g}-e{self.epochs}"


def label_subset(labels, fraction, seed=0):
    """Indices (sorted, int64) of a stratified, seeded ``fraction`` of the videos: of each class's
    n_c videos, the first ceil(fraction n_c) (at least 1) of a seeded permutation of them. The
    permutations depend on the seed only, so a smaller fraction's subset lies inside a larger
    one's. A ValueError for a fraction outside (0, 1]."""
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) \
            or not 0 < fraction <= 1:
        raise ValueError(f"label fraction must be in (0, 1] (0.1: a tenth of each class's "
                         f"training videos), got {fraction!r}")
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    kept = [rng.permutation(np.flatnonzero(labels == c))[:math.ceil(fraction * np.sum(labels == c))]
            for c in np.unique(labels)]
    return np.sort(np.concatenate(kept)).astype(np.int64)


def pretrain(config, train_x, val_x, out_dir, progress=True, device="cpu"):
    """Train the composite autoencoder of ``config`` on the codes ``train_x`` (N, T, D), no
    labels, with ``fit`` and the classifier's optimiser (resumes from OUT/checkpoints/RUN.pt).
    Returns ``fit``'s record: "history" (per epoch: mean training loss, validation loss on
    ``val_x``) and "best" (the lowest-validation-loss epoch: "epoch", "val_loss", "encoder",
    the encoder's weights under the classifier's names)."""
    def make(config, device):
        model = CompositeAutoencoder(train_x.shape[-1], config.hidden_dim, config.split,
                                     config.init, **config.options)
        model.to(device=device, dtype=config.torch_dtype())
        return model, sgd(model, config, device)

    unlabelled = [Split(x.to(device), torch.zeros(len(x), dtype=torch.int64, device=device))
                  for x in (train_x, val_x)]
    return fit(config, make, unlabelled, out_dir, Autoencoding(), progress, device)


class Autoencoding:
    """The autoencoder's objective for ``fit``: its squared error per code (``model.loss``),
    the mean over the epoch's training codes, judged by the validation loss (lower is better);
    the best epoch keeps the encoder's weights."""

    @staticmethod
    def inputs(split):
        return split

    def start_epoch(self):
        self.total, self.n = 0.0, 0

    @staticmethod
    def terms(model, x, y):
        return model.loss(x), None

    def account(self, out, y, loss):
        self.total += float(loss.detach()) * len(y)
        self.n += len(y)

    def epoch_result(self):
        return {"train_loss": self.total / self.n}

    @staticmethod
    def validate(model, val, forward=None):
        with torch.no_grad():
            return {"val_loss": float(model.eval().loss(val.x.to(next(model.parameters()).dtype)))}

    @staticmethod
    def better(row, best):
        return row["val_loss"] < best["val_loss"]

    @staticmethod
    def best_entry(model, row):
        return {"val_loss": row["val_loss"], "encoder": model.encoder_weights()}

    @staticmethod
    def postfix(row):
        return {"loss": f"{row['train_loss']:.2f}", "val": f"{row['val_loss']:.2f}"}


def learning_curve(protocol, data, out_dir, runtime=Runtime(), pretraining=None,
                   full_from=None, fractions=FRACTIONS):
    """The ``lstm`` classifier trained on each label fraction of ``fractions``, without and
    with pretraining (``protocol``, ``data``, ``runtime``: as ``run_model``'s). pretraining: a
    ``PretrainSettings`` (None: the defaults; hidden_dim and seed are set per run). The
    autoencoders live in OUT/pretrain, the classifiers in OUT/fraction-F/{scratch,TAG};
    full_from: a results folder holding the LSTM from scratch on every label (the main
    table's), reused for fraction 1 without pretraining. Returns one result per (fraction,
    pretrained), in ``fractions``' order, without before with: ``run_model``'s dict plus
    "fraction" and "pretrained"."""
    lstm = protocol.of("lstm")
    pretraining = replace(pretraining or PretrainSettings(), config=lstm.config,  # the classifier's
                          dtype=lstm.dtype, init=lstm.init, options=lstm.options,
                          momentum=lstm.momentum, weight_decay=lstm.weight_decay,
                          batch_size=lstm.batch_size)
    fractions = list(fractions)
    for fraction in fractions:
        label_subset([0], fraction)                      # a bad fraction fails before any work
    encoders = {}
    for hidden in protocol.hiddens:
        for seed in sorted(set(protocol.seeds) | {0}):   # the search runs with seed 0
            config = replace(pretraining, hidden_dim=hidden, seed=seed)
            record = pretrain(config, data.train.x, data.val.x,
                              os.path.join(out_dir, "pretrain"), runtime.progress, runtime.device)
            encoders[hidden, seed] = record["best"]["encoder"]
    results = []
    for fraction in fractions:
        keep = torch.from_numpy(label_subset(data.train.y.numpy(), fraction))
        subset = data._replace(train=Split(data.train.x[keep], data.train.y[keep]))
        for pretrained in (False, True):
            folder = os.path.join(out_dir, f"fraction-{fraction:g}",
                                  pretraining.tag() if pretrained else "scratch")
            if fraction == 1.0 and not pretrained and full_from is not None:
                folder = full_from                       # the same runs: every label, no encoder
            start = (lambda c: encoders[c.hidden_dim, c.seed]) if pretrained else None
            result = run_model("lstm", protocol, subset, folder, runtime, initial=start)
            results.append({**result, "fraction": fraction, "pretrained": pretrained})
    return results


def plot_learning_curve(results, path, note=""):
    """learning_curve.png: test accuracy vs the fraction of training labels (log axis), without
    and with pretraining; the line is the mean over seeds, the dots the seeds."""
    from experiment.analysis.plots import pyplot, save_figure
    fig, ax = pyplot().subplots(figsize=(5, 3.6))
    for pretrained, label, colour in ((False, "LSTM", "C0"),
                                      (True, "LSTM, pretrained encoder", "C1")):
        mine = sorted((r for r in results if r["pretrained"] == pretrained),
                      key=lambda r: r["fraction"])
        ax.plot([r["fraction"] for r in mine], [r["test_acc_mean"] for r in mine], marker="o",
                color=colour, label=label)
        for r in mine:
            accs = [run["test_acc"] for run in r["runs"]]
            ax.scatter([r["fraction"]] * len(accs), accs, s=10, color=colour, alpha=0.5)
    ax.set_xscale("log")
    fractions = sorted({r["fraction"] for r in results})
    ax.set_xticks(fractions, [f"{f:.0%}" for f in fractions])
    ax.minorticks_off()
    ax.set_xlabel("training labels used")
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1.03)
    ax.legend(loc="lower right", fontsize=8)
    save_figure(fig, path, note, 50)
