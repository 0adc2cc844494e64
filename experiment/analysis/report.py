"""The results a reader cites, written to a results folder (docs/training.md, "Outputs"):
table.md, table.json and table.tex (accuracies with 95% intervals beside the paper's, paired
tests, the paper's claims, the chosen settings, the codes' provenance), predictions.csv (every
test video's top 5 per model and seed), per_class.csv and per_class.md (worst class first, with
the class each is most often mistaken for), and the figures of ``plots``.
"""
import csv
import json
import os
import re

import numpy as np

from common.files import replacing, write_atomic

from . import power, stats
from .plots import figure7, plot_confusion, plot_curves

from configurations import NAMES, get, model_label

#: What a run's entry holds that the tables leave out (arrays, kept for later steps).
PROBABILITIES = ("test_predictions", "test_probabilities", "val_probabilities")

#: Giel & Diaz (2015), section "Results", its only table: (validation %, test %), single runs
#: on UCF-101 (split not stated; 3,783 test videos if split 1).
PAPER = {"average": (50.5, 50.0), "rnn": (52.2, 49.1), "lstm": (46.7, 45.9), "birnn": (51.1, 50.5)}
PAPER_SOURCE = ("Giel & Diaz (2015), Results table (one run per model, validation and test "
                "accuracy)")


def paper_support(a, relation, b):
    """Whether the paper's own table supports its claim "a relation b", on validation and on
    test: e.g. RNN > Average holds on its validation numbers (52.2 vs 50.5), not on its test
    numbers (49.1 vs 50.0). Returns a short text for the claims table."""
    parts = []
    for column, name in enumerate(("validation", "test")):
        x, y = PAPER[a][column], PAPER[b][column]
        holds = x > y if relation == ">" else x < y
        parts.append(f"{name} {x} vs {y}: {'yes' if holds else 'no'}")
    return "; ".join(parts)


def banner(attrs):
    """A warning line whenever the codes did not come from BVLC's published CaffeNet weights,
    judged by the weights' SHA1 recorded in the store (whatever the weights note says)."""
    from caffe_extract.weights import SHA1
    weights = str(attrs.get("weights", ""))
    sha1 = str(attrs.get("weights_sha1", ""))
    if "RANDOM" in weights:
        return (f"*** {weights}. This run checks the pipeline end to end; "
                "its numbers are not comparable with the paper's. ***")
    if sha1 != SHA1:
        what = f"SHA1 {sha1}" if sha1 else "no SHA1 recorded"
        return (f"*** The codes were not made with BVLC's published CaffeNet weights "
                f"({weights or 'unnamed weights'}, {what}; BVLC's: {SHA1}): its numbers are not "
                "comparable with the paper's. ***")
    return ""


def pct(result, key):
    """A result's ``key`` accuracy in %, +- its standard deviation when it has several seeds."""
    mean, std = result[key + "_mean"], result[key + "_std"]
    return f"{100 * mean:.1f}" + (f" +- {100 * std:.1f}" if len(result["runs"]) > 1 else "")


def points(x):
    return f"{100 * x:+.1f}"


def analyse(results, labels, videos=None):
    """Intervals, pairwise paired tests (Holm over the pairs) and the paper's claims (Holm over
    the claims) for one table, the test videos' UCF-101 groups as the unit (``stats``)."""
    groups = None if videos is None else stats.groups_of(videos)
    correct = {r["model"]: stats.correct_matrix(r, labels) for r in results}
    return {"intervals": {m: stats.accuracy_interval(c, groups) for m, c in correct.items()},
            "pairs": stats.pairs_of(correct, groups), "claims": stats.claims_of(correct, groups),
            "power": [] if videos is None else power.section(correct, videos)}


def markdown_table(results, info, settings, config, analysis):
    """The results table (with intervals), the paired comparisons and the paper's claims."""
    note = banner(info["attrs"])
    lines = [note, ""] if note else []
    names = {r["model"]: model_label(r["model"], config) for r in results}
    lines += [f"Configuration `{config.name}`; UCF-101 split {info.get('split', 1)}; trained on "
              f"{settings.get('device', 'cpu')}. Test accuracy: mean over seeds, its 95% interval "
              "in brackets (bootstrap over UCF-101 groups and seeds together).", "",
              "| model | train % | validation % | test % [95% interval] | paper: validation % "
              "| paper: test % | chosen (lr, hidden) | best epoch |",
              "|---|---|---|---|---|---|---|---|"]
    for r in results:
        paper = PAPER.get(r["model"], ("-", "-"))
        epochs = ", ".join(str(run["best_epoch"]) for run in r["runs"])
        _, low, high = analysis["intervals"][r["model"]]
        lines.append(f"| {names[r['model']]} | {pct(r, 'train_acc')} | {pct(r, 'val_acc')} "
                     f"| {pct(r, 'test_acc')} [{100 * low:.1f}, {100 * high:.1f}] | {paper[0]} "
                     f"| {paper[1]} | {r['chosen']['lr']:g}, {r['chosen']['hidden_dim']} "
                     f"| {epochs} |")
    attrs = info["attrs"]
    seeds = len(results[0]["runs"]) if results else 0
    lines += ["", f"Mean +- standard deviation over {seeds} seeds (the paper reports single runs). "
              f"Validation: train-list groups {info['val_groups']} held out; test: the official "
              f"test list, evaluated once per seed with the best-validation epoch. Train: the "
              f"accuracy of that epoch's training pass (each minibatch as it was trained on, "
              f"the Average model's dropout on), as most frameworks report it. "
              f"Paper columns: {PAPER_SOURCE}."]
    if analysis["pairs"]:
        lines += ["", "Paired comparisons on the same test videos: accuracy difference A - B "
                  "(points, seed-averaged), its 95% interval, the sign-flip p over groups and "
                  "Holm's over these pairs. " + stats.METHOD, "",
                  "| A - B | difference | 95% interval | p | p (Holm) |", "|---|---|---|---|---|"]
        for c in analysis["pairs"]:
            lines.append(f"| {names[c['a']]} - {names[c['b']]} | {points(c['difference'])} "
                         f"| [{points(c['low'])}, {points(c['high'])}] | {c['p']:.2g} "
                         f"| {c['p_holm']:.2g} |")
    if analysis["claims"]:
        lines += ["", "The paper's claims on this run (Holm over these claims). " + stats.METHOD
                  + " The paper's own table: whether its numbers (validation; test) point the "
                  "claimed way.", "",
                  "| claim | in the paper's own table | difference [95% interval] | p | p (Holm) "
                  "| on this run |", "|---|---|---|---|---|---|"]
        for c in analysis["claims"]:
            lines.append(f"| {NAMES[c['a']]} {c['relation']} {NAMES[c['b']]} "
                         f"| {paper_support(c['a'], c['relation'], c['b'])} "
                         f"| {points(c['difference'])} [{points(c['low'])}, {points(c['high'])}] "
                         f"| {c['p']:.2g} | {c['p_holm']:.2g} | {c['verdict']} |")
    lines += analysis.get("power", [])
    lines += ["", "Codes: " + "; ".join(f"{k}: {attrs[k]}" for k in
                                         ("layer", "weights", "weights_sha1", "backend", "config",
                                          "caffe_version", "preprocessing", "sampler")
                                         if k in attrs),
              "", "Configuration: " + json.dumps(config.as_dict(), sort_keys=True),
              "", "Settings: " + json.dumps(settings, sort_keys=True)]
    return "\n".join(lines)


def _tex(text):
    """Text escaped for LaTeX; "+-" becomes a plus-minus sign."""
    special = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "_": r"\_", "#": r"\#",
               "$": r"\$", "{": r"\{", "}": r"\}"}
    return re.sub(r"[\\&%_#${}]", lambda m: special[m.group()], str(text)).replace("+-", r"$\pm$")


def latex_table(rows, columns, caption):
    """A booktabs table: ``columns`` (header strings), ``rows`` (lists of cell strings)."""
    lines = [r"% requires \usepackage{booktabs}", r"\begin{table}[t]", r"\centering",
             r"\begin{tabular}{l" + "r" * (len(columns) - 1) + "}", r"\toprule",
             " & ".join(_tex(c) for c in columns) + r" \\", r"\midrule"]
    lines += [" & ".join(_tex(cell) for cell in row) + r" \\" for row in rows]
    lines += [r"\bottomrule", r"\end{tabular}", r"\caption{" + _tex(caption) + "}",
              r"\end{table}"]
    return "\n".join(lines)


def _results_latex(results, info, config, analysis):
    note = banner(info["attrs"])
    rows = []
    for r in results:
        _, low, high = analysis["intervals"][r["model"]]
        paper = PAPER.get(r["model"], ("-", "-"))
        rows.append([model_label(r["model"], config), pct(r, "val_acc"), pct(r, "test_acc"),
                     f"[{100 * low:.1f}, {100 * high:.1f}]", paper[0], paper[1]])
    caption = (f"UCF-101 split {info.get('split', 1)}, configuration {config.name}: accuracy (%), "
               f"mean +- s.d. over {len(results[0]['runs']) if results else 0} seeds; 95% "
               "interval: bootstrap over UCF-101 groups (class, gNN) and seeds together; "
               "paper: " + PAPER_SOURCE + "." + (" " + note if note else ""))
    return latex_table(rows, ["Model", "Validation", "Test", "95% interval", "Paper validation",
                                     "Paper test"], caption)


def write_predictions(path, results, info, labels, top=5):
    """Every test video's prediction per model and seed: CSV to recompute any statistic."""
    classes = info["classes"]
    k = min(top, len(classes))
    with replacing(path) as partial, open(partial, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["model", "seed", "video", "true_label", "predicted_label"]
                        + [f"top{i + 1}_{what}" for i in range(k) for what in ("label", "p")])
        for r in results:
            for run in r["runs"]:
                p = run["test_probabilities"]
                order = np.argsort(-p, axis=1, kind="stable")[:, :k]
                for video, label, predicted, best, probs in zip(
                        info["test_videos"], labels, run["test_predictions"], order, p):
                    writer.writerow([r["model"], run["seed"], video, int(label), int(predicted)]
                                    + [x for c in best for x in (int(c), f"{probs[c]:.6g}")])


def write_results(out_dir, results, info, settings, data, config=None):
    """Write every results file; return the Markdown table."""
    config = config or get("paper")
    os.makedirs(out_dir, exist_ok=True)
    labels = data[2].y.numpy()
    analysis = analyse(results, labels, info["test_videos"])
    table = markdown_table(results, info, settings, config, analysis)
    write_atomic(os.path.join(out_dir, "table.md"), table + "\n")
    write_atomic(os.path.join(out_dir, "table.tex"),
        _results_latex(results, info, config, analysis) + "\n")
    write_predictions(os.path.join(out_dir, "predictions.csv"), results, info, labels)
    summary = {"banner": banner(info["attrs"]), "paper": PAPER, "settings": settings,
               "config": config.as_dict(), "split": info.get("split", 1),
               "provenance": {k: str(v) for k, v in info["attrs"].items()},
               "val_groups": info["val_groups"], "classes": info["classes"],
               "intervals": {m: dict(zip(("accuracy", "low", "high"), v))
                             for m, v in analysis["intervals"].items()},
               "pairs": analysis["pairs"], "claims": analysis["claims"],
               "models": [{**{k: v for k, v in r.items() if k != "runs"},
                           "runs": [{k: v for k, v in run.items()
                                     if k not in PROBABILITIES}
                                    for run in r["runs"]]} for r in results]}
    write_atomic(os.path.join(out_dir, "table.json"), json.dumps(summary, indent=1))
    plot_curves(results, os.path.join(out_dir, "curves.png"), summary["banner"])
    matrices = {r["model"]: confusion(labels, np.array(r["runs"][0]["test_predictions"]),
                                      len(info["classes"])) for r in results}
    for model, matrix in matrices.items():
        plot_confusion(matrix, info["classes"], NAMES.get(model, model),
                       os.path.join(out_dir, f"confusion_{model}.png"), summary["banner"])
    accuracy = {m: per_class_accuracy(c) for m, c in matrices.items()}
    per_class = os.path.join(out_dir, "per_class.csv")
    with replacing(per_class) as partial, open(partial, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["class", *accuracy])
        writer.writerows([name] + [f"{a[i]:.4f}" for a in accuracy.values()]
                         for i, name in enumerate(info["classes"]))
    if matrices:
        write_atomic(os.path.join(out_dir, "per_class.md"), per_class_markdown(
            list(info["classes"]), matrices, {m: NAMES.get(m, m) for m in matrices}) + "\n")
    figure7(info["train_store"], os.path.join(out_dir, "figure7_pca.png"), summary["banner"])
    return table


def write_split_summary(out_dir, per_split, settings, config):
    """table.md/.tex/.json over several splits: each split's test accuracy and their mean
    (UCF-101's standard protocol reports the mean over splits 1-3). per_split: (split,
    results, info) triples. Returns the Markdown table."""
    splits = [s for s, _, _ in per_split]
    models = [r["model"] for r in per_split[0][1]]
    test = {(s, r["model"]): r["test_acc_mean"] for s, results, _ in per_split for r in results}
    note = banner(per_split[0][2]["attrs"])
    header = ["model"] + [f"split {s} test %" for s in splits] + ["mean over splits %"]
    rows = []
    for m in models:
        values = np.array([test[(s, m)] for s in splits])
        spread = f" +- {100 * values.std(ddof=1):.1f}" if len(values) > 1 else ""
        rows.append([model_label(m, config)] + [f"{100 * v:.1f}" for v in values]
                    + [f"{100 * values.mean():.1f}{spread}"])
    lines = ([note, ""] if note else []) + [
        f"Configuration `{config.name}`; each split's test accuracy is the mean over its seeds "
        "(its own table, intervals and paired tests: split{K}/table.md); the last column is "
        "the mean +- standard deviation over splits.", "",
        "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    table = "\n".join(lines)
    write_atomic(os.path.join(out_dir, "table.md"), table + "\n")
    write_atomic(os.path.join(out_dir, "table.tex"), latex_table(
        rows, header, f"UCF-101 splits {', '.join(map(str, splits))}, configuration "
        f"{config.name}: test accuracy (%) per split and the mean over splits."
        + (" " + note if note else "")) + "\n")
    write_atomic(os.path.join(out_dir, "table.json"), json.dumps(
        {"banner": note, "config": config.as_dict(), "settings": settings, "splits": splits,
         "test_acc": {m: {str(s): test[(s, m)] for s in splits} for m in models}}, indent=1))
    return table


def confusion(labels, predicted, n_classes):
    """Counts (true class, predicted class)."""
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(matrix, (labels, predicted), 1)
    return matrix


def per_class_accuracy(matrix):
    """(classes,) the share of each true class's videos predicted right."""
    return np.diag(matrix) / np.maximum(matrix.sum(axis=1), 1)


def per_class_markdown(classes, matrices, names):
    """A per-class table a person can read: one row per class, sorted by the first model's
    accuracy (worst first), each model's accuracy and the class it is most often mistaken for.
    matrices: {model: confusion matrix}; names: {model: display name}."""
    models = list(matrices)
    first = matrices[models[0]]
    support = first.sum(axis=1)
    acc = {m: per_class_accuracy(c) for m, c in matrices.items()}
    header = ["class", "test videos"] + [f"{names[m]} %" for m in models] + \
        [f"{names[models[0]]}: most often predicted instead"]
    lines = [f"Test accuracy per class (seed 0 of each model), worst first by "
             f"{names[models[0]]}.", "", "| " + " | ".join(header) + " |",
             "|" + "---|" * len(header)]
    for i in np.argsort(acc[models[0]], kind="stable"):
        wrong = first[i].copy()
        wrong[i] = 0
        mistaken = f"{classes[int(wrong.argmax())]} ({int(wrong.max())})" if wrong.max() else "-"
        lines.append("| " + " | ".join([classes[i], str(int(support[i]))]
                                       + [f"{100 * acc[m][i]:.1f}" for m in models]
                                       + [mistaken]) + " |")
    return "\n".join(lines)
