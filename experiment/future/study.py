"""The paper's future work, measured beside its four models: ``make future`` (docs/future.md).

    python -m experiment.future --features demo/features-paper --main results/demo-paper \\
        --out results/demo-future                 # make future (after the demo's own steps)

Every part (``--parts``) trains with the main table's protocol on its split and is compared
with the paper's best model on the same test videos (``experiment.analysis.stats``):

    flow      the four models on the optical flow's codes (``caffe_extract/flow.py``)
    fusion    the RGB and flow models' probabilities fused, averaged and weighted (fusion.py)
    tconv     the 1-D temporal convolution over the codes (the paper's "other model")
    crops     training on caffe.io's 10-crop views (augment.py)
    finetune  CaffeNet's fc6/fc7 fine-tuned jointly with the model, from pool5 codes (finetune.py)
    pretrain  the LSTM started from an LSTM autoencoder's encoder, on 10-100% of the training
              labels (pretrain.py)

The RGB rows are the main table's runs (``--main``, a folder of ``experiment.train``: reused;
a run it lacks, of another ``--lr`` say, is trained there).
Results: OUT/table.md, table.json and the plots (report.py); each part's runs in OUT/<part>/.
"""
import json
import os
import time
from dataclasses import asdict, dataclass, replace

import torch

from caffe_extract.weights import add_weights_arguments, file_sha1, resolve_weights
from common import cli, commands, devices
from common.processes import Task, run_all, share_of_threads
from configurations import CONFIGS, DEFAULT, FUTURE, get
from experiment.train import (PAPER_MODELS, Protocol, Runtime, RunSettings, features_dir,
                              load_data, outputs, read_run, run_model, set_deterministic,
                              store_paths, summary)
from experiment.train import val_probabilities as engine_val_probabilities
from experiment.train.stores import check_configuration, check_together

from . import command, fusion
from .report import FROM_MAIN, REFERENCE, write_report

PARTS = ("flow", "fusion", "tconv", "crops", "finetune", "pretrain")
#: The stores a part reads besides the RGB fc7 codes (``store_paths``' arguments).
STORES = {"flow": {"stream": "flow"}, "fusion": {"stream": "flow"},
          "crops": {"views": "oversample"}, "finetune": {"layer": "pool5"}}
#: The parts in the order workers take them (``--jobs``), longest first on the demo (their times:
#: docs/future.md). Fusion runs with flow: it reads the flow models.
LONGEST_FIRST = ("pretrain", "flow", "crops", "tconv", "finetune")


@dataclass
class StudySettings:
    """The main table's training settings, shared by every part (the demo's by default; those
    of ``FROM_MAIN``: the main table's)."""

    config: str = "paper"
    hidden: tuple = FUTURE.hidden
    lrs: tuple = FUTURE.lrs
    epochs: int = FUTURE.epochs
    patience: int = FUTURE.patience
    seeds: int = FUTURE.seeds
    batch_size: int = FROM_MAIN["batch_size"]
    momentum: float = FROM_MAIN["momentum"]
    dropout: float = FROM_MAIN["dropout"]
    val_groups: int = FROM_MAIN["val_groups"]

    def train_options(self):
        """These settings as ``experiment.train``'s options (the main table that holds its runs)."""
        return (f"--config {self.config} --hidden {' '.join(map(str, self.hidden))} --lr "
                f"{' '.join(f'{lr:g}' for lr in self.lrs)} --epochs {self.epochs} --patience "
                f"{self.patience} --seeds {self.seeds}")

    def protocol(self, lrs=None):
        """The ``Protocol`` of these settings (``lrs``: another learning-rate grid)."""
        base = RunSettings(config=get(self.config).name, epochs=self.epochs,
                           patience=self.patience, batch_size=self.batch_size,
                           momentum=self.momentum, dropout=self.dropout)
        return Protocol(base, tuple(lrs or self.lrs), tuple(self.hidden), tuple(range(self.seeds)))


def main_settings(main_dir):
    """{setting: value} of ``FROM_MAIN`` (the main table's settings that experiment.future has
    no option for) as --main's table.json records them, so that its runs are reused and every
    part trains like them; {} without that table (``run`` refuses the folder)."""
    table = os.path.join(main_dir, "table.json")
    if not os.path.isfile(table):
        return {}
    try:
        with open(table) as f:
            recorded = json.load(f).get("settings", {})
    except (ValueError, AttributeError):
        raise outputs.OutputFolderError(f"{table} is damaged (not JSON with its settings): "
                                        "rerun its experiment.train command, which rewrites it "
                                        "from the finished runs") from None
    return {k: recorded[k] for k in FROM_MAIN if k in recorded}


@dataclass
class Study:
    """What every part reads and where it writes (handed whole to a worker process);
    ``caffemodel``: the CaffeNet that made the codes (the finetune part starts from its fc6/fc7)."""

    features: str
    main_dir: str
    out: str
    settings: StudySettings
    runtime: Runtime = Runtime()
    caffemodel: str = None

    def data(self, layer="fc7", **store):
        """Split 1 of a store (``load_data``'s keywords; the RGB fc7 codes by default); ``run``
        checked that the stores may be used together (``check_together``: the same videos)."""
        return load_data(self.features, 1, layer, self.settings.val_groups, **store)


def val_probabilities(result, data, out_dir, device="cpu"):
    """Each seed's validation probabilities (N_val, C) from its best-validation epoch: kept in
    the run's record (``tested_run``), else read back from its checkpoint in ``out_dir``
    (nothing is trained again). ``data``: the runs' ``Data``."""
    out = []
    for run in result["runs"]:
        if run.get("val_probabilities") is not None:
            out.append(run["val_probabilities"])
            continue
        config = RunSettings(**{**result["chosen"], "seed": run["seed"]})
        record = read_run(config, out_dir, (data.train, data.val))
        if record is None:
            raise FileNotFoundError(f"{out_dir}: run {config.run_id()} has no finished "
                                    "checkpoint; train it first")
        out.append(engine_val_probabilities(config, record, data.val, data.n_classes, device))
    return out


def fused_result(model, rule, results, val_probabilities, labels):
    """The fusion row of ``model`` (``rule``: "average" or "learnt"), seed s's RGB model with
    seed s's flow model: ``results`` (rgb, flow), their runs' ``val_probabilities`` (rgb, flow),
    ``labels`` (validation, test); runs in ``run_model``'s format plus each seed's weight w and
    its validation curve."""
    (rgb, flow), (val_rgb, val_flow), (val_labels, test_labels) = results, val_probabilities, labels
    runs = []
    for run_rgb, run_flow, v_rgb, v_flow in zip(rgb["runs"], flow["runs"], val_rgb, val_flow):
        if rule == "average":
            w, val_acc = 0.5, fusion.accuracy(fusion.fuse(v_rgb, v_flow), val_labels)
        else:
            w, val_acc = fusion.choose_weight(v_rgb, v_flow, val_labels)
        p = fusion.fuse(run_rgb["test_probabilities"], run_flow["test_probabilities"], w)
        runs.append({"seed": run_rgb["seed"], "weight": w, "val_acc": val_acc,
                     "test_acc": fusion.accuracy(p, test_labels),
                     "test_predictions": p.argmax(axis=1).tolist(), "test_probabilities": p,
                     "val_curve": fusion.weight_curve(v_rgb, v_flow, val_labels)})
    return {"model": f"{model}+flow ({rule})", "runs": runs,
            **summary(runs, ("val_acc", "test_acc"))}


def flow_part(study, rgb_data, rgb, parts):
    """The four models on the flow codes; with "fusion" in ``parts``, each fused with its RGB
    model (``fused_result``: averaged and with w chosen on validation)."""
    settings, device = study.settings, study.runtime.device
    flow_data = study.data(stream="flow")
    flow_dir = os.path.join(study.out, "flow")
    # the Average model searches lower rates too (docs/future.md, "Motion stream and fusion")
    average_lrs = sorted({*settings.lrs, *FUTURE.flow_average_lrs}, reverse=True)
    flow = [run_model(m, settings.protocol(average_lrs if m == "average" else None),
                      flow_data, flow_dir, study.runtime) for m in PAPER_MODELS]
    rows = [("flow", r) for r in flow]
    if "fusion" in parts:
        labels = rgb_data.val.y.numpy(), rgb_data.test.y.numpy()
        for r_rgb, r_flow in zip(rgb, flow):
            v_rgb = val_probabilities(r_rgb, rgb_data, study.main_dir, device)
            v_flow = val_probabilities(r_flow, flow_data, flow_dir, device)
            for rule in ("average", "learnt"):
                rows.append(("fusion", fused_result(r_rgb["model"], rule, (r_rgb, r_flow),
                                                    (v_rgb, v_flow), labels)))
    return rows, {}


def tconv_part(study, rgb_data, rgb, parts):
    """The 1-D temporal convolution on the RGB codes."""
    return [("tconv", run_model("tconv", study.settings.protocol(), rgb_data,
                                os.path.join(study.out, "tconv"), study.runtime))], {}


def crops_part(study, rgb_data, rgb, parts):
    """The reference model trained on the ten views, then on the five without mirrors."""
    from .augment import run_augmented
    views = study.data(views="oversample")
    return [("crops", result) for mirrors in (True, False) for result in run_augmented(
        REFERENCE, study.settings.protocol(), views, os.path.join(study.out, "crops"),
        study.runtime, mirrors)], {}


def finetune_part(study, rgb_data, rgb, parts):
    """CaffeNet's fc6/fc7 fine-tuned with the reference model, from its main-table runs."""
    from .finetune import FineTuning, run_finetune
    pool5 = study.data("pool5")
    chosen = RunSettings(**next(r for r in rgb if r["model"] == REFERENCE)["chosen"])
    recipe = FineTuning(study.caffemodel, study.main_dir)
    return [("finetune", run_finetune(chosen, range(study.settings.seeds), pool5, recipe,
                                      os.path.join(study.out, "finetune"), study.runtime))], {}


def pretrain_part(study, rgb_data, rgb, parts):
    """The learning curve, without and with the autoencoder's pretraining."""
    from .pretrain import learning_curve
    curve = learning_curve(study.settings.protocol(), rgb_data,
                           os.path.join(study.out, "pretrain"), study.runtime,
                           full_from=study.main_dir)
    return ([("pretrain", r) for r in curve if r["pretrained"] and r["fraction"] == 1.0],
            {"curve": curve})


PART_RUNNERS = {"flow": flow_part, "tconv": tconv_part, "crops": crops_part,
                "finetune": finetune_part, "pretrain": pretrain_part}


def timed(part, study, rgb_data, rgb, parts):
    """(rows, extras, seconds): ``part`` run and timed."""
    start = time.perf_counter()
    rows, extras = PART_RUNNERS[part](study, rgb_data, rgb, parts)
    return rows, extras, round(time.perf_counter() - start, 1)


def part_in_worker(part, study, rgb, parts, threads):
    """A worker process's part (``--jobs``): deterministic kernels on the study's device with
    ``threads`` threads, and its own copy of the RGB split (read from the store)."""
    set_deterministic(study.runtime.device, False, threads)
    return timed(part, study, study.data(), rgb, parts)


def run(study, parts, jobs=1):
    """Every part of ``parts`` of ``study``; returns (rows, extras, info, seconds) for the
    report: rows [(kind, result)] in table order, extras {"curve": learning-curve results, ...}.
    ``jobs`` > 1: the parts train in that many worker processes at once, each with its share
    of the threads: the same bits (a run's numbers do not depend on the thread count,
    ``common.reproducible``)."""
    others = list({str(s): s for p, s in STORES.items() if p in parts}.values())
    for store in others:                      # a missing store is said now, not after hours
        store_paths(study.features, 1, **store)
    check_together(study.features, 1, {}, others, study.caffemodel and file_sha1(study.caffemodel),
                   study.caffemodel, [os.path.join(study.main_dir, "table.json")])  # same videos
    check_configuration(store_paths(study.features, 1).values(), get(study.settings.config))
    if not os.path.isfile(os.path.join(study.main_dir, "table.json")):   # a typo: not hours
        raise outputs.OutputFolderError(                                 # of training there
            f"--main {study.main_dir} holds no main table (table.json): train it first (make "
            f"demo, or python -m experiment.train --features {study.features} --out "
            f"{study.main_dir} {study.settings.train_options()})")
    rgb_data = study.data()
    info = {**rgb_data.info, "test_labels": rgb_data.test.y.numpy()}
    start = time.perf_counter()
    rgb = [run_model(m, study.settings.protocol(), rgb_data, study.main_dir, study.runtime)
           for m in PAPER_MODELS]                            # the main table's runs, read back
    seconds = {"rgb": round(time.perf_counter() - start, 1)}
    todo = [p for p in LONGEST_FIRST if p in parts or (p == "flow" and "fusion" in parts)]
    if jobs == 1 or len(todo) == 1:
        done = {part: timed(part, study, rgb_data, rgb, parts) for part in todo}
    else:                         # quiet workers, each with its share of the threads
        quiet = replace(study, runtime=replace(study.runtime, progress=False))
        threads = share_of_threads(torch.get_num_threads(), jobs)
        done = run_all([Task(part, part_in_worker, (part, quiet, rgb, parts, threads))
                        for part in todo], jobs, desc="parts", progress=study.runtime.progress,
                       rerun_hint="rerun the same command: it resumes from the saved runs")
    rows, extras = [("rgb", r) for r in rgb], {}
    for part in PARTS:                                       # the table's order
        if part in done:
            part_rows, part_extras, seconds[part] = done[part]
            rows += part_rows
            extras.update(part_extras)
    return rows, extras, info, seconds


def main(argv=None):
    parser = commands.parser("python -m experiment.future", __doc__)
    parser.add_argument("--features", default="demo/features-paper", type=features_dir,
                        help="folder of the stores: fc7 (rgb, flow, views) and pool5 (%(default)s)")
    parser.add_argument("--main", default="results/demo-paper", type=cli.writable_dir,
                        help="the main table's results folder, its RGB runs reused (%(default)s)")
    parser.add_argument("--out", default="results/demo-future", type=cli.writable_dir,
                        help="results folder (%(default)s)")
    parser.add_argument("--parts", nargs="+", default=list(PARTS), choices=PARTS, metavar="PART",
                        help=f"what to run ({' '.join(PARTS)}: all by default)")
    parser.add_argument("--config", default=DEFAULT, choices=sorted(CONFIGS))
    commands.add_grid(parser, lr=FUTURE.lrs, hidden=FUTURE.hidden, seeds=FUTURE.seeds,
                      epochs=FUTURE.epochs, patience=FUTURE.patience, seeds_min=2,
                      note=": the demo's")
    add_weights_arguments(parser, ": the CaffeNet that made the codes (the finetune part)")
    commands.add_runtime(parser, device="cpu")
    commands.add_jobs(parser, "parts trained")
    return command(parser, argv, study_and_report, ["--main", "--features"])


def study_and_report(args, runtime):
    """Every part of ``args.parts`` trained, then the table written and printed; status 0."""
    outputs.check_input(args.main, "experiment.train", "--main")
    settings = StudySettings(args.config, tuple(args.hidden), tuple(args.lr), args.epochs,
                             args.patience, args.seeds, **main_settings(args.main))
    caffemodel = resolve_weights(args)[0] if "finetune" in args.parts else None
    study = Study(args.features, args.main, args.out, settings, runtime, caffemodel)
    rows, extras, info, seconds = run(study, args.parts, args.jobs)
    print(write_report(args.out, rows, extras, info, {
        **asdict(settings), "parts": args.parts, "features": args.features, "main": args.main,
        "device": devices.describe(runtime.device, False)}, seconds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
