"""The figures of a results folder: learning curves, confusion matrices, the PCA of the codes
(the paper's Figure 7), and the pieces every plot shares (the Agg backend, the random-weights
banner across the top, the write-and-free)."""
import os

import numpy as np

from common.files import replacing
from configurations import NAMES


def pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def save_figure(fig, path, note="", width=70):
    """The random-weights banner ``note`` across the top of ``fig`` (wrapped to ``width``
    characters); then lay ``fig`` out, write it to ``path`` (110 dpi) and free it."""
    import textwrap
    if note:
        fig.suptitle("\n".join(textwrap.wrap(note, width)), fontsize=7, color="red")
    fig.tight_layout()
    with replacing(path) as partial:   # its format from its name, not the partial's
        fig.savefig(partial, dpi=110, format=os.path.splitext(path)[1][1:])
    pyplot().close(fig)


def plot_curves(results, path, note=""):
    fig, axes = pyplot().subplots(1, len(results), figsize=(4 * len(results), 3.4), squeeze=False)
    for ax, r in zip(axes[0], results):
        history = r["runs"][0]["history"]
        epochs = [h["epoch"] for h in history]
        ax.plot(epochs, [h["train_acc"] for h in history], label="train")
        ax.plot(epochs, [h["val_acc"] for h in history], label="validation")
        ax.axvline(r["runs"][0]["best_epoch"], color="grey", linestyle=":", label="chosen epoch")
        ax.set_title(NAMES.get(r["model"], r["model"]))
        ax.set_xlabel("epoch")
        ax.set_ylim(0, 1.03)
    axes[0][0].set_ylabel("accuracy")
    axes[0][0].legend(loc="lower right", fontsize=8)
    save_figure(fig, path, note, 40 * len(results))


def plot_confusion(matrix, classes, title, path, note=""):
    """The row-normalised confusion matrix, every class named on both axes (101 classes: a
    17-inch square at 110 dpi, names in 5-point type, a grid every 10 classes)."""
    n = len(classes)
    size = max(4.0, 0.15 * n + 2.5)
    fig, ax = pyplot().subplots(figsize=(size, size))
    rates = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    image = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1, interpolation="nearest")
    fontsize = 7 if n <= 20 else 5
    ax.set_xticks(range(n), classes, rotation=90, fontsize=fontsize)
    ax.set_yticks(range(n), classes, fontsize=fontsize)
    if n > 20:
        for k in range(10, n, 10):
            ax.axhline(k - 0.5, color="grey", linewidth=0.3)
            ax.axvline(k - 0.5, color="grey", linewidth=0.3)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    accuracy = np.trace(matrix) / max(matrix.sum(), 1)
    ax.set_title(f"{title}: test confusion (row-normalised), accuracy {100 * accuracy:.1f}%",
                 fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.03, pad=0.01, label="fraction of the true class")
    save_figure(fig, path, note, 70)


def figure7(store_path, path, note="", n_classes=10, seed=0):
    """The paper's Figure 7: CNN codes of the 10 frames averaged, for 10 classes, PCA to 2-d."""
    from caffe_extract.store import read_store
    import h5py
    data = read_store(store_path, features=False)       # the codes of the 10 classes only, below
    rng = np.random.default_rng(seed)
    present = np.unique(data["labels"])
    chosen = np.sort(rng.choice(present, size=min(n_classes, len(present)), replace=False))
    mask = np.isin(data["labels"], chosen)
    with h5py.File(store_path, "r") as f:                # 10 of UCF-101's 101 classes: 0.2 GB
        averaged = f["features"][np.flatnonzero(mask)].mean(axis=1).astype(np.float64)  # (n, D)
    centred = averaged - averaged.mean(axis=0)
    _, _, components = np.linalg.svd(centred, full_matrices=False)
    points = centred @ components[:2].T
    fig, ax = pyplot().subplots(figsize=(6, 5))
    for label in chosen:
        sel = data["labels"][mask] == label
        ax.scatter(points[sel, 0], points[sel, 1], s=10, label=data["classes"][label])
    ax.set_xlabel("principal component 1")
    ax.set_ylabel("principal component 2")
    ax.set_title("Time-averaged CNN codes, PCA (the paper's Figure 7)", fontsize=9)
    ax.legend(fontsize=6, markerscale=1.5)
    save_figure(fig, path, note, 90)
