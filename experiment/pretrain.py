"""Unsupervised pretraining (issue 24, the paper's future work; Srivastava et al. 2015, which the
paper cites): a composite LSTM autoencoder (``rnn_models.autoencoder``) learns from the training
videos' codes without their labels; the ``lstm`` classifier starts from its encoder's weights.
The learning curve trains the classifier on 10, 25, 50 and 100% of the training labels, with and
without that start, where Srivastava et al. found the gain largest: with few labels.

    results = learning_curve(base, [0.003], [128], range(3), (train, val, test), 8, "results/x")
    plot_learning_curve(results, "results/x/learning_curve.png")

What the autoencoder sees: the training split's codes (the train list minus the validation
groups), never the test codes, never a label; the validation codes only to pick its epoch
(lowest validation loss). One autoencoder per (hidden size, seed): the classifier of seed s
starts from the encoder pretrained with seed s, so that the seeds' spread counts the
pretraining's too. The label subsets are stratified and seeded (``label_subset``), nested,
and the same for the runs with and without pretraining: the two curves differ only in the
encoder's initial weights. Every run is checkpointed and resumes, as ``train_run``.
"""
import math
import os
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from configurations import FUTURE, TRAINING
from rnn_models.autoencoder import CompositeAutoencoder

from .train import (CheckpointClock, NonFiniteLoss, Split, TrainConfig, _atomic_save, model_base,
                    restore, run_model, sgd)

FRACTIONS = FUTURE.label_fractions


@dataclass
class PretrainConfig:
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
    labels; resumes from OUT/checkpoints/RUN.pt. Returns the record: "history" (per epoch: mean
    training loss, validation loss on ``val_x``) and "best" (the lowest-validation-loss epoch:
    "epoch", "val_loss", "encoder", the encoder's weights under the classifier's names).

    Optimiser: the classifier's (SGD, Nesterov momentum), minibatches of ``batch_size`` codes
    shuffled with the seed; L is ``rnn_models.autoencoder``'s squared error per code.
    """
    from tqdm import tqdm
    os.makedirs(os.path.join(out_dir, "checkpoints"), exist_ok=True)
    path = os.path.join(out_dir, "checkpoints", config.run_id() + ".pt")
    torch.manual_seed(config.seed)
    dtype = TrainConfig(dtype=config.dtype).torch_dtype()
    model = CompositeAutoencoder(train_x.shape[-1], config.hidden_dim, config.split,
                                 config.init, **config.options).to(device=device, dtype=dtype)
    optimizer = sgd(model, config, device)
    shuffle = torch.Generator().manual_seed(config.seed)
    state = {"epoch": 0, "history": [], "best": None, "config": asdict(config), "stopped": False}
    if os.path.exists(path):
        saved = restore(path, config, model, optimizer, shuffle, device)
        state = {k: saved[k] for k in ("epoch", "history", "best", "config", "stopped")}
    train_x, val_x = train_x.to(device), val_x.to(device)
    bar = tqdm(total=config.epochs, initial=state["epoch"], desc=config.run_id(), unit="epoch",
               disable=not progress, dynamic_ncols=True, leave=False)
    checkpoint = CheckpointClock()
    for epoch in range(state["epoch"] + 1, config.epochs + 1):
        model.train()
        order = torch.randperm(len(train_x), generator=shuffle).to(train_x.device)
        total = 0.0
        for start in range(0, len(order), config.batch_size):
            x = train_x[order[start:start + config.batch_size]].to(dtype)     # (B, T, D)
            loss = model.loss(x)
            if not torch.isfinite(loss):
                raise NonFiniteLoss(f"{config.run_id()}: the autoencoder's loss became "
                                    f"{float(loss)} at epoch {epoch}; try a smaller lr")
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(x)
        with torch.no_grad():
            val_loss = float(model.eval().loss(val_x.to(dtype)))
        state["history"].append({"run": config.run_id(), "epoch": epoch,
                                 "train_loss": total / len(train_x), "val_loss": val_loss})
        if state["best"] is None or val_loss < state["best"]["val_loss"]:
            state["best"] = {"epoch": epoch, "val_loss": val_loss,
                             "encoder": model.encoder_weights()}
        state["epoch"] = epoch
        if checkpoint.due(epoch == config.epochs):
            _atomic_save({**state, "model": model.state_dict(),
                          "optimizer": optimizer.state_dict(), "shuffle_rng": shuffle.get_state(),
                          "torch_rng": torch.get_rng_state()}, path)
        bar.set_postfix(loss=f"{total / len(train_x):.2f}", val=f"{val_loss:.2f}")
        bar.update(1)
    bar.close()
    return state


def learning_curve(base, lrs, hiddens, seeds, data, n_classes, out_dir, fractions=FRACTIONS,
                   progress=True, device="cpu", pretraining=None, full_from=None):
    """The ``lstm`` classifier trained on each label fraction, without and with pretraining.

    base, lrs, hiddens, seeds, n_classes, device: as ``experiment.train.run_model`` (``base.model``
    is ignored: the curve is the LSTM's). data: (train, val, test) ``Split``s. pretraining: a
    ``PretrainConfig`` (its hidden_dim and seed are set per run; None: the defaults). The
    autoencoders live in OUT/pretrain, the classifiers in OUT/fraction-F/{scratch,TAG};
    full_from: a results folder whose runs are the LSTM from scratch on every label (the main
    table's, same settings), reused for fraction 1 without pretraining instead of trained again.

    Returns one result per (fraction, pretrained), fractions in the order given, without
    before with: ``run_model``'s dict plus "fraction" and "pretrained" (bool).
    """
    fractions = list(fractions)
    for fraction in fractions:
        label_subset([0], fraction)                      # a bad fraction fails before any work
    train, val, test = data
    lstm = model_base("lstm", base)
    pretraining = PretrainConfig(**{**asdict(pretraining or PretrainConfig()),   # the classifier's
                                    "config": lstm.config, "dtype": lstm.dtype, "init": lstm.init,
                                    "options": lstm.options})
    encoders = {}
    for hidden in hiddens:
        for seed in sorted(set(seeds) | {0}):            # the search runs with seed 0
            config = PretrainConfig(**{**asdict(pretraining), "hidden_dim": hidden, "seed": seed})
            record = pretrain(config, train.x, val.x, os.path.join(out_dir, "pretrain"),
                              progress, device)
            encoders[hidden, seed] = record["best"]["encoder"]
    results = []
    for fraction in fractions:
        keep = torch.from_numpy(label_subset(train.y.numpy(), fraction))
        subset = Split(train.x[keep], train.y[keep])
        for pretrained in (False, True):
            folder = os.path.join(out_dir, f"fraction-{fraction:g}",
                                  pretraining.tag() if pretrained else "scratch")
            if fraction == 1.0 and not pretrained and full_from is not None:
                folder = full_from                       # the same runs: every label, no encoder
            start = (lambda c: encoders[c.hidden_dim, c.seed]) if pretrained else None
            result = run_model("lstm", base, lrs, hiddens, seeds, (subset, val, test), n_classes,
                               folder, progress, device=device, initial=start)
            results.append({**result, "fraction": fraction, "pretrained": pretrained})
    return results


def curve_rows(results):
    """[(fraction, pretrained, test accuracy mean, std, per-seed accuracies)], in results' order."""
    return [(r["fraction"], r["pretrained"], r["test_acc_mean"], r["test_acc_std"],
             [run["test_acc"] for run in r["runs"]]) for r in results]


def plot_learning_curve(results, path, note=""):
    """learning_curve.png: test accuracy vs the fraction of training labels (log axis), without
    and with pretraining; the line is the mean over seeds, the dots the seeds."""
    from .report import _pyplot, _suptitle, save_figure
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.6))
    rows = curve_rows(results)
    for pretrained, label, colour in ((False, "LSTM", "C0"),
                                      (True, "LSTM, pretrained encoder", "C1")):
        mine = sorted(r for r in rows if r[1] == pretrained)
        ax.plot([r[0] for r in mine], [r[2] for r in mine], marker="o", color=colour, label=label)
        for fraction, _, _, _, accs in mine:
            ax.scatter([fraction] * len(accs), accs, s=10, color=colour, alpha=0.5)
    ax.set_xscale("log")
    fractions = sorted({r[0] for r in rows})
    ax.set_xticks(fractions, [f"{f:.0%}" for f in fractions])
    ax.minorticks_off()
    ax.set_xlabel("training labels used")
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1.03)
    ax.legend(loc="lower right", fontsize=8)
    _suptitle(fig, note, 50)
    save_figure(fig, path)
