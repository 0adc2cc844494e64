"""The results a reader cites: the paper's table beside ours, learning curves, confusion
matrices, per-class accuracy, and the paper's Figure 7 (PCA of averaged codes).

Files written to the results folder:

    table.md, table.json        accuracies (mean +- std over seeds) beside the paper's, the
                                chosen hyperparameters, the codes' provenance, the settings
    curves.png                  train/validation accuracy per epoch, seed 0 of each model
    confusion_<model>.png       test confusion matrix of seed 0's chosen model
    per_class.csv               test accuracy per class and model (seed 0)
    figure7_pca.png             time-averaged codes of 10 classes, first two principal components
"""
import csv
import json
import os

import numpy as np

#: Giel & Diaz (2015), "Results": (validation %, test %).
PAPER = {"average": (50.5, 50.0), "rnn": (52.2, 49.1), "lstm": (46.7, 45.9), "birnn": (51.1, 50.5)}
NAMES = {"average": "Average", "rnn": "RNN", "lstm": "LSTM", "birnn": "Bidirectional RNN",
         "bilstm": "Bidirectional LSTM", "rnn2": "2-layer RNN"}


def banner(attrs):
    """A warning line when the codes did not come from the real CaffeNet weights."""
    weights = str(attrs.get("weights", ""))
    if "RANDOM" in weights:
        return (f"*** {weights}. This run checks the pipeline end to end; "
                "its numbers are not comparable with the paper's. ***")
    return ""


def _pct(mean, std, n):
    return f"{100 * mean:.1f}" + (f" +- {100 * std:.1f}" if n > 1 else "")


def markdown_table(results, info, settings):
    lines = []
    note = banner(info["attrs"])
    if note:
        lines += [note, ""]
    lines += ["| model | train % | validation % | test % | paper: validation % | paper: test % "
              "| chosen (lr, hidden) | best epoch |",
              "|---|---|---|---|---|---|---|---|"]
    for r in results:
        n = len(r["runs"])
        paper = PAPER.get(r["model"], ("-", "-"))
        epochs = ", ".join(str(run["best_epoch"]) for run in r["runs"])
        lines.append(f"| {NAMES.get(r['model'], r['model'])} | {_pct(r['train_acc_mean'], r['train_acc_std'], n)} "
                     f"| {_pct(r['val_acc_mean'], r['val_acc_std'], n)} "
                     f"| {_pct(r['test_acc_mean'], r['test_acc_std'], n)} | {paper[0]} | {paper[1]} "
                     f"| {r['chosen']['lr']:g}, {r['chosen']['hidden_dim']} | {epochs} |")
    attrs = info["attrs"]
    seeds = len(results[0]["runs"]) if results else 0
    lines += ["", f"Mean +- standard deviation over {seeds} seeds (the paper reports single runs). "
              f"Validation: train-list groups {info['val_groups']} held out; test: the official "
              f"test list, evaluated once per seed with the best-validation epoch.",
              "", "Codes: " + "; ".join(f"{k}: {attrs[k]}" for k in
                                         ("layer", "weights", "weights_sha1", "backend",
                                          "caffe_version", "preprocessing", "sampler")
                                         if k in attrs),
              "", "Settings: " + json.dumps(settings, sort_keys=True)]
    return "\n".join(lines)


def write_results(out_dir, results, info, settings, data):
    """Write every results file; return the Markdown table."""
    os.makedirs(out_dir, exist_ok=True)
    table = markdown_table(results, info, settings)
    with open(os.path.join(out_dir, "table.md"), "w") as f:
        f.write(table + "\n")
    summary = {"banner": banner(info["attrs"]), "paper": PAPER, "settings": settings,
               "provenance": {k: str(v) for k, v in info["attrs"].items()},
               "val_groups": info["val_groups"], "classes": info["classes"],
               "models": [{**{k: v for k, v in r.items() if k != "runs"},
                           "runs": [{k: v for k, v in run.items() if k != "test_predictions"}
                                    for run in r["runs"]]} for r in results]}
    with open(os.path.join(out_dir, "table.json"), "w") as f:
        json.dump(summary, f, indent=1)
    test = data[2]
    plot_curves(results, os.path.join(out_dir, "curves.png"), summary["banner"])
    rows = []
    for r in results:
        predicted = np.array(r["runs"][0]["test_predictions"])
        matrix = confusion(test.y.numpy(), predicted, len(info["classes"]))
        plot_confusion(matrix, info["classes"], NAMES.get(r["model"], r["model"]),
                       os.path.join(out_dir, f"confusion_{r['model']}.png"), summary["banner"])
        per_class = np.diag(matrix) / np.maximum(matrix.sum(axis=1), 1)
        rows.append((r["model"], per_class))
    with open(os.path.join(out_dir, "per_class.csv"), "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["class"] + [m for m, _ in rows])
        for i, name in enumerate(info["classes"]):
            writer.writerow([name] + [f"{acc[i]:.4f}" for _, acc in rows])
    figure7(info["train_store"], os.path.join(out_dir, "figure7_pca.png"), summary["banner"])
    return table


def confusion(labels, predicted, n_classes):
    """Counts (true class, predicted class)."""
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(matrix, (labels, predicted), 1)
    return matrix


def _suptitle(fig, note, width):
    """The random-weights banner across the top of a figure, wrapped to fit."""
    import textwrap
    if note:
        fig.suptitle("\n".join(textwrap.wrap(note, width)), fontsize=7, color="red")


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def plot_curves(results, path, note=""):
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(results), figsize=(4 * len(results), 3.4), squeeze=False)
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
    _suptitle(fig, note, 40 * len(results))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_confusion(matrix, classes, title, path, note=""):
    plt = _pyplot()
    size = max(4, 0.12 * len(classes) + 3)
    fig, ax = plt.subplots(figsize=(size, size))
    rates = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    if len(classes) <= 20:
        ax.set_xticks(range(len(classes)), classes, rotation=90, fontsize=7)
        ax.set_yticks(range(len(classes)), classes, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"{title}: test confusion (row-normalised)", fontsize=9)
    _suptitle(fig, note, 70)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def figure7(store_path, path, note="", n_classes=10, seed=0):
    """The paper's Figure 7: CNN codes of the 10 frames averaged, for 10 classes, PCA to 2-d."""
    from caffe_extract.store import read_store
    data = read_store(store_path)
    rng = np.random.default_rng(seed)
    present = np.unique(data["labels"])
    chosen = np.sort(rng.choice(present, size=min(n_classes, len(present)), replace=False))
    mask = np.isin(data["labels"], chosen)
    averaged = data["features"][mask].mean(axis=1).astype(np.float64)      # (n, D)
    centred = averaged - averaged.mean(axis=0)
    _, _, components = np.linalg.svd(centred, full_matrices=False)
    points = centred @ components[:2].T
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 5))
    for label in chosen:
        sel = data["labels"][mask] == label
        ax.scatter(points[sel, 0], points[sel, 1], s=10, label=data["classes"][label])
    ax.set_xlabel("principal component 1")
    ax.set_ylabel("principal component 2")
    ax.set_title("Time-averaged CNN codes, PCA (the paper's Figure 7)", fontsize=9)
    ax.legend(fontsize=6, markerscale=1.5)
    _suptitle(fig, note, 90)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
