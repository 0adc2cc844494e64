"""The "beyond the paper" table and its plots (``make future``; docs/future.md): OUT/table.md
and table.json (every row against the paper's best model; the learning curve),
fusion_weights.png, direction_pairs.png and learning_curve.png.

**Direction pairs.** Classes whose names differ only in Left/Right (the demo's PushLeft/
PushRight, RollLeft/RollRight: the same pictures, the motion reversed) can only be told apart
by the order of the frames or by their motion. On a test video of such a class the model is
*right on its pair* when it gives its class a higher probability than the partner class
(ties: the pair's first class, so a constant model scores 50%): 50% is chance however the other
classes fare. Real UCF-101 has no such pairs; the column then reads "-".
"""
import json
import os
import re

import numpy as np

from common.files import write_atomic
from experiment.analysis import stats
from experiment.analysis.plots import pyplot, save_figure
from experiment.analysis.report import PROBABILITIES, banner, points

from configurations import FUTURE, NAMES, TRAINING

#: What the paper expected of each row, in its words (Future Work, Results, Related Work).
EXPECTATIONS = {
    "rgb": ("its Results table", "The paper's four models on the full frame's fc7 codes."),
    "flow": ("motion the frames lack",
             "\"optical flow or other hand-engineered feature would give our models more "
             "information about the motion taking place\" (Future Work)"),
    "fusion": ("better than either stream",
               "\"This could be incorporated as a dual stream model similar to the model "
               "described by Simonyan et. al.\" (Future Work); Simonyan & Zisserman (2014) found "
               "the fused streams better than each alone"),
    "tconv": ("unstable, much lower",
              "\"this model was extremely unstable in training with validation accuracy "
              "fluctuating drastically regardless of parameters. It also achieved a much lower "
              "classification accuracy compared to our final models\" (Models)"),
    "crops": ("augmentation helps",
              "\"we hope to have more extensive data augmentation ... differing crops, flips\" "
              "(Future Work)"),
    "finetune": ("codes fit the classes",
                 "\"we could improve our model by fine-tuning the convolutional network ... This "
                 "would allow our frame representations to more accurately depict our classes\" "
                 "(Future Work)"),
    "pretrain": ("gain, largest with few labels",
                 "Srivastava et al. (2015): \"significant improvements over baseline models, "
                 "especially when training on less data per action class\" (the paper's Related "
                 "Work)"),
}
#: The codes the model of a row of one stream reads.
STREAM_NAMES = {"rgb": "RGB", "flow": "flow", "tconv": "RGB"}

#: The paper's best model (test 50.5%, its Results table): every row is compared with it.
REFERENCE = FUTURE.reference


def label(kind, result):
    """The row's name: the model's, and what is new about it."""
    model = result["model"]
    if kind in STREAM_NAMES:
        return f"{NAMES.get(model, model)} ({STREAM_NAMES[kind]})"
    if kind == "fusion":
        base, rule = re.match(r"(\w+)\+flow \((\w+)\)", model).groups()
        how = "averaged" if rule == "average" else "w chosen on validation"
        return f"{NAMES.get(base, base)}: RGB + flow, {how}"
    if kind == "pretrain":
        return (f"{NAMES.get(model, model)}, autoencoder-pretrained "
                f"({100 * result['fraction']:g}% of labels)")
    if "+" in model:                                 # "birnn+crops (centre)", "birnn+fine-tuned"
        base, what = model.split("+", 1)
        return f"{NAMES.get(base, base)}, {what}"
    return NAMES.get(model, model)


def direction_pairs(classes):
    """[(i, j)]: the class indices whose names differ only in Left/Right (i the Left one)."""
    index = {name: i for i, name in enumerate(classes)}
    return [(i, index[name[:-4] + "Right"]) for name, i in index.items()
            if name.endswith("Left") and name[:-4] + "Right" in index]


def pair_correct(result, labels, pairs):
    """(S, M) bool over the M test videos of pair classes: each seed right on its pair (module
    docstring); with the (M,) mask of those videos among all."""
    partner = {i: j for a, b in pairs for i, j in ((a, b), (b, a))}
    labels = np.asarray(labels)
    mask = np.isin(labels, list(partner))
    rows = []
    for run in result["runs"]:
        p = np.asarray(run["test_probabilities"])[mask]
        own, other = labels[mask], np.array([partner[c] for c in labels[mask]])
        p_own, p_other = p[np.arange(len(own)), own], p[np.arange(len(own)), other]
        tie_goes_to_own = own < other             # ties: the pair's first (Left) class
        rows.append((p_own > p_other) | (~(p_own < p_other) & tie_goes_to_own))
    return np.array(rows), mask


def analyse(rows, info, labels):
    """Intervals of every row, its accuracy on the direction pairs, and its paired comparison
    with the paper's best model on RGB (Holm over the rows compared)."""
    groups = stats.groups_of(info["test_videos"])
    pairs = direction_pairs(info["classes"])
    reference = next(r for kind, r in rows if kind == "rgb" and r["model"] == REFERENCE)
    ref_correct = stats.correct_matrix(reference, labels)
    out = []
    for kind, r in rows:
        correct = stats.correct_matrix(r, labels)
        entry = {"kind": kind, "label": label(kind, r), "model": r["model"],
                 "interval": stats.accuracy_interval(correct, groups)}
        if pairs:
            on_pairs, mask = pair_correct(r, labels, pairs)
            entry["pairs"] = stats.accuracy_interval(on_pairs, groups[mask])
        if r is not reference:
            entry["vs_reference"] = stats.compare_matrices(entry["label"], "reference", correct,
                                                           ref_correct, groups)
        out.append(entry)
    stats.adjust([e["vs_reference"] for e in out if "vs_reference" in e])
    return out, label("rgb", reference)


def curve_analysis(curve, labels, videos):
    """The learning curve: per fraction, the accuracy without and with pretraining and their
    paired difference (Holm over the fractions)."""
    groups = stats.groups_of(videos)
    by = {(r["fraction"], r["pretrained"]): r for r in curve}
    out = []
    for fraction in sorted({f for f, _ in by}):
        without, with_ = by[(fraction, False)], by[(fraction, True)]
        a, b = stats.correct_matrix(with_, labels), stats.correct_matrix(without, labels)
        out.append({"fraction": fraction, "without": stats.accuracy_interval(b, groups),
                    "with": stats.accuracy_interval(a, groups),
                    "comparison": stats.compare_matrices("pretrained", "not", a, b, groups)})
    stats.adjust([e["comparison"] for e in out])
    return out


def _interval(mean_low_high):
    mean, low, high = mean_low_high
    return f"{100 * mean:.1f} [{100 * low:.1f}, {100 * high:.1f}]"


def _comparison(c):
    """A comparison's cells: the difference [its interval] | p | Holm's p | the verdict."""
    verdict = {"holds": "better", "reversed": "worse"}.get(c["verdict"], "not shown")
    return (f"{points(c['difference'])} [{points(c['low'])}, {points(c['high'])}] "
            f"| {c['p']:.2g} | {c['p_holm']:.2g} | {verdict}")


def learnt_fusions(rows):
    """The fusion rows whose weight was chosen on validation."""
    return [r for kind, r in rows if kind == "fusion" and r["model"].endswith("(learnt)")]


#: The main table's settings that experiment.future has no option for and takes from --main
#: (``study.main_settings``), with the paper's values: the Settings line names them where they
#: differ (the main table's table.json records them all).
FROM_MAIN = {"batch_size": TRAINING.batch_size, "momentum": TRAINING.momentum,
             "dropout": TRAINING.dropout, "val_groups": TRAINING.val_groups}


def markdown(rows, analysis, reference, curve, info, settings):
    """The table, its legend, the learning curve and the settings, as Markdown (no timings:
    the same bits on every machine; they are in table.json)."""
    note = banner(info["attrs"])
    lines = ([note, ""] if note else []) + [
              f"Beyond the paper: its future work measured with the main table's protocol "
              f"(UCF-101 split {info.get('split', 1)}, {settings['seeds']} seeds per row, "
              f"trained on {settings['device']}). Test accuracy: mean +- std over seeds, its 95% "
              f"interval in brackets. Difference: from {reference}, the paper's best model "
              f"(50.5% test in its table), on the same test videos.", "",
              "| row | the paper expected | test % | direction pairs % | difference (points) "
              "[95% interval] | p | p (Holm) | verdict |", "|---|---|---|---|---|---|---|---|"]
    for (kind, r), e in zip(rows, analysis):
        mean, std = 100 * r["test_acc_mean"], 100 * r["test_acc_std"]
        _, low, high = e["interval"]
        pairs = _interval(e["pairs"]) if "pairs" in e else "-"
        versus = (_comparison(e["vs_reference"]) if "vs_reference" in e
                  else "(the reference) | | |")
        lines.append(f"| {e['label']} | {EXPECTATIONS[kind][0]} | {mean:.1f} +- {std:.1f} "
                     f"[{100 * low:.1f}, {100 * high:.1f}] | {pairs} | {versus} |")
    lines += ["", "What the paper expected, in its words:", ""]
    kinds = list(dict.fromkeys(kind for kind, _ in rows))
    lines += [f"- **{EXPECTATIONS[k][0]}** ({k}): {EXPECTATIONS[k][1]}" for k in kinds]
    lines += ["", "Verdict: *better* or *worse* than the reference when the interval of the "
              "difference excludes 0 and Holm's p < 0.05, else *not shown*. " + stats.METHOD]
    if any("pairs" in e for e in analysis):
        lines += ["", "Direction pairs: the test videos of classes that differ only in "
                  "Left/Right, right when the model prefers the true direction to the other "
                  "(50% is chance); interval by the same bootstrap."]
    fused = learnt_fusions(rows)
    if fused:
        lines += ["", "Weights chosen on validation (w of the RGB stream; 1 - w of flow), seed "
                  "by seed: " + "; ".join(f"{label('fusion', r)}: "
                                          + ", ".join(f"{run['weight']:g}" for run in r["runs"])
                                          for r in fused) + "."]
    if curve:
        lines += ["", "Learning curve (LSTM, Srivastava et al.'s autoencoder as initial values): "
                  "test % [95% interval] with a fraction of the training labels (stratified by "
                  "class, seeded; the autoencoder saw every training video without labels), the "
                  "difference with - without, Holm over the fractions.", "",
                  "| labels | without pretraining | with pretraining | difference [95% interval] "
                  "| p | p (Holm) | verdict |", "|---|---|---|---|---|---|---|"]
        lines += [f"| {100 * e['fraction']:g}% | {_interval(e['without'])} "
                  f"| {_interval(e['with'])} | {_comparison(e['comparison'])} |" for e in curve]
    shown = {k: v for k, v in settings.items()         # no paths; FROM_MAIN where not the paper's
             if k not in ("features", "main") and not (k in FROM_MAIN and FROM_MAIN[k] == v)}
    lines += ["", "Settings: " + json.dumps(shown, sort_keys=True)]
    return "\n".join(lines)


def plot_fusion_weights(rows, path, note=""):
    """Validation accuracy of the fused scores against w, each model and seed; the chosen w."""
    fused = learnt_fusions(rows)
    if not fused:
        return
    fig, axes = pyplot().subplots(1, len(fused), figsize=(3.6 * len(fused), 3.2), squeeze=False)
    for ax, r in zip(axes[0], fused):
        for run in r["runs"]:
            w, acc = zip(*run["val_curve"])
            line, = ax.plot(w, 100 * np.array(acc), lw=1, label=f"seed {run['seed']}")
            ax.plot([run["weight"]], [100 * run["val_acc"]], "o", color=line.get_color())
        ax.set_title(label("fusion", r).split(":")[0], fontsize=9)
        ax.set_xlabel("w (RGB)  ->  1 - w (flow)")
    axes[0][0].set_ylabel("validation accuracy %")
    axes[0][0].legend(fontsize=7, loc="lower center")
    save_figure(fig, path, note, 36 * len(fused))


def plot_direction_pairs(rows, info, labels, path, note=""):
    """Per direction class, seeds averaged: RGB, flow and the learnt fusion, each model."""
    pairs = direction_pairs(info["classes"])
    if not pairs:
        return
    by = {(kind, r["model"].split("+")[0]): r for kind, r in rows
          if kind in ("rgb", "flow") or (kind == "fusion" and r["model"].endswith("(learnt)"))}
    models = [m for kind, m in by if kind == "rgb" and ("flow", m) in by]
    if not models:
        return
    order = [c for pair in pairs for c in pair]
    fig, axes = pyplot().subplots(1, len(models), figsize=(3.6 * len(models), 3.2), squeeze=False)
    for ax, model in zip(axes[0], models):
        for k, kind in enumerate(("rgb", "flow", "fusion")):
            if (kind, model) not in by:
                continue
            correct, mask = pair_correct(by[(kind, model)], labels, pairs)
            shown = np.asarray(labels)[mask]
            accs = [100 * correct[:, shown == c].mean() for c in order]
            ax.bar(np.arange(len(order)) + (k - 1) * 0.27, accs, 0.27,
                   label={"rgb": "RGB", "flow": "flow", "fusion": "RGB + flow"}[kind])
        ax.axhline(50, color="grey", ls=":", lw=1)
        ax.set_xticks(range(len(order)), [info["classes"][c] for c in order], rotation=30,
                      fontsize=7)
        ax.set_ylim(0, 105)
        ax.set_title(NAMES.get(model, model), fontsize=9)
    axes[0][0].set_ylabel("right on its pair % (50: chance)")
    axes[0][0].legend(fontsize=7, loc="lower left")
    save_figure(fig, path, note, 36 * len(models))


def write_report(out_dir, rows, extras, info, settings, seconds):
    """Write table.md, table.json and the plots; return the Markdown."""
    os.makedirs(out_dir, exist_ok=True)
    labels = np.asarray(info["test_labels"])
    analysis, reference = analyse(rows, info, labels)
    curve = curve_analysis(extras["curve"], labels, info["test_videos"]) if extras.get("curve") \
        else []
    table = markdown(rows, analysis, reference, curve, info, settings)
    write_atomic(os.path.join(out_dir, "table.md"), table + "\n")
    note = banner(info["attrs"])

    def runs_of(r):
        return [{k: v for k, v in run.items() if k not in (*PROBABILITIES, "history")}
                for run in r["runs"]]
    record = {"banner": note, "settings": settings, "seconds": seconds, "reference": reference,
              "classes": info["classes"], "direction_pairs": direction_pairs(info["classes"]),
              "rows": [{**e, "test_acc_mean": r["test_acc_mean"], "test_acc_std": r["test_acc_std"],
                        "chosen": r.get("chosen"), "runs": runs_of(r)}
                       for (kind, r), e in zip(rows, analysis)],
              "learning_curve": curve}
    write_atomic(os.path.join(out_dir, "table.json"), json.dumps(record, indent=1, default=float))
    plot_fusion_weights(rows, os.path.join(out_dir, "fusion_weights.png"), note)
    plot_direction_pairs(rows, info, labels, os.path.join(out_dir, "direction_pairs.png"), note)
    if extras.get("curve"):
        from .pretrain import plot_learning_curve
        plot_learning_curve(extras["curve"], os.path.join(out_dir, "learning_curve.png"), note)
    return table
