"""The paper's future work, measured beside its four models: ``make future``.

    python -m experiment.future --features demo/features-paper --main results/demo-paper \\
        --out results/demo-future                 # make future (after the demo's own steps)

Each part trains with the main table's protocol and settings (``experiment.train``: the same
search, seeds, best-validation epoch, one test per seed) on the same split, so that every row is
tested on the same test videos as the paper's best model and compared with it by the same
statistics (``experiment.stats``: group-and-seed intervals, the sign-flip test over UCF-101
groups, Holm over the table). The parts (``--parts``):

    flow      the motion stream: the four models on the optical flow's codes
              (``caffe_extract extract --stream flow``, ``caffe_extract/flow.py``)
    fusion    late fusion of the RGB and flow models' class probabilities, averaged and with a
              weight chosen on validation (``experiment/fusion.py``)
    tconv     the 1-D temporal convolution over the 10 x 4096 codes (the paper's "other model")
    crops     training on caffe.io's 10-crop views, one drawn per video per epoch; tested on the
              centre view and on the mean of the ten (``experiment/augment.py``)
    finetune  CaffeNet's fc6/fc7 fine-tuned jointly with the model, from stored pool5 codes
              (``experiment/finetune.py``)
    pretrain  the LSTM initialised from an LSTM autoencoder's encoder (Srivastava et al. 2015),
              at 10, 25, 50 and 100% of the training labels (``experiment/pretrain.py``)

The RGB rows are the main table's runs (``--main``: the folder ``make demo`` trained them in;
their checkpoints are reused, or trained there when missing). ``--jobs 2`` trains two parts at
once, each in its own process (the same numbers). Results: OUT/table.md, table.json and the
plots (``experiment/future_report.py``); each part's runs in OUT/<part>/.
"""
import argparse
import os
import sys
import time
from dataclasses import asdict, dataclass, replace

import numpy as np

from caffe_extract.weights import file_sha1

from . import fusion
from .train import (PAPER_MODELS, Split, TrainConfig, best_model, evaluate, load_data, run_model,
                    store_paths, train_run)
from .train.stores import check_together

PARTS = ("flow", "fusion", "tconv", "crops", "finetune", "pretrain")
#: The stores a part reads besides the RGB fc7 codes (``store_paths``' arguments).
STORES = {"flow": {"stream": "flow"}, "fusion": {"stream": "flow"},
          "crops": {"views": "oversample"}, "finetune": {"layer": "pool5"}}
#: The paper's best model (test 50.5%, its Results table): every row is compared with it.
REFERENCE = "birnn"
#: The flow stream's Average model searches lower learning rates too: at the demo's 0.003 its
#: ReLUs died within an epoch on the flow codes (measured: 12.5% test, best epoch 1), the
#: failure experiment/train.py's docstring describes for lr 0.01 on the RGB codes.
FLOW_AVERAGE_LRS = (0.003, 0.001, 0.0003, 0.0001)


@dataclass
class Settings:
    """The main table's training settings, shared by every part (the demo's by default)."""

    config: str = "paper"
    hidden: tuple = (128,)
    lrs: tuple = (0.003,)
    epochs: int = 100
    patience: int = 0
    seeds: int = 3

    def base(self):
        from configurations import get
        return TrainConfig(config=get(self.config).name, epochs=self.epochs,
                           patience=self.patience)

    def train(self, model, data, n_classes, out_dir, lrs=None, progress=True, device="cpu"):
        """``run_model`` with these settings (``lrs``: another learning-rate grid)."""
        return run_model(model, self.base(), list(lrs or self.lrs), list(self.hidden),
                         range(self.seeds), data, n_classes, out_dir, progress=progress,
                         device=device)


def val_probabilities(result, data, n_classes, out_dir, device="cpu"):
    """Each seed's validation probabilities (N_val, C) from its best-validation epoch, read
    back from the run's checkpoint in ``out_dir`` (nothing is trained again)."""
    train, val, _ = data
    out = []
    for run in result["runs"]:
        config = TrainConfig(**{**result["chosen"], "seed": run["seed"]})
        record = train_run(config, train, val, n_classes, out_dir, progress=False, device=device)
        net = best_model(config, record, train.x.shape[-1], n_classes, device)
        out.append(evaluate(net, Split(val.x.to(device), val.y.to(device)))[2].double().numpy())
    return out


def fused_result(model, rule, rgb, flow, val_rgb, val_flow, val_labels, test_labels):
    """The fusion row of ``model`` (``rule``: "average" or "learnt"), seed s's RGB model with
    seed s's flow model: runs in ``run_model``'s format plus each seed's weight w and its
    validation curve."""
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
    return {"model": f"{model}+flow ({rule})", "runs": runs, **test_summary(runs)}


def test_summary(runs):
    """Mean and standard deviation over seeds of the test (and validation) accuracy."""
    out = {}
    for key in ("val_acc", "test_acc"):
        values = np.array([r[key] for r in runs], dtype=float)
        out[key + "_mean"] = float(values.mean())
        out[key + "_std"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
    return out


#: The parts in the order workers take them (``--jobs``), longest first, so that the longest
#: does not start last (measured on the demo, one core each: pretraining 5.9 min, flow with
#: fusion 3.4, crops 2.0, temporal convolution 1.5, fine-tuning 1.1; two workers end within
#: seconds of each other). Fusion runs with flow: it reads the flow models.
LONGEST_FIRST = ("pretrain", "flow", "crops", "tconv", "finetune")


@dataclass
class Study:
    """What every part reads and where it writes (handed whole to a worker process): the
    stores' folder, the main table's results folder, this study's, the settings."""

    features: str
    main_dir: str
    out: str
    settings: Settings
    caffemodel: str = None
    progress: bool = True
    device: str = "cpu"

    def rgb_data(self):
        return load_data(self.features, 1, "fc7", stream="rgb")

    def other_data(self, rgb_data, **store):
        """The split of another store (``load_data``'s keywords); ``run`` checked that it may
        be used with the RGB store (``train.stores.check_together``: its videos, in order)."""
        layer = store.pop("layer", "fc7")
        return load_data(self.features, 1, layer, **store)


def rgb_part(study, rgb_data):
    """The paper's four models on the RGB codes: the main table's runs, reused."""
    train, val, test, info = rgb_data
    return [study.settings.train(m, (train, val, test), len(info["classes"]), study.main_dir,
                                 progress=study.progress, device=study.device)
            for m in PAPER_MODELS]


def flow_part(study, rgb_data, rgb, parts):
    """The four models on the flow codes; with "fusion" in ``parts``, each fused with its RGB
    model (``fused_result``: averaged and with w chosen on validation)."""
    settings, device = study.settings, study.device
    flow_data = study.other_data(rgb_data, stream="flow")
    train, val, test, info = rgb_data
    n_classes, flow_dir = len(info["classes"]), os.path.join(study.out, "flow")
    flow = [settings.train(m, flow_data[:3], n_classes, flow_dir,
                           lrs=sorted({*settings.lrs, *FLOW_AVERAGE_LRS}, reverse=True)
                           if m == "average" else None,
                           progress=study.progress, device=device) for m in PAPER_MODELS]
    rows = [("flow", r) for r in flow]
    if "fusion" in parts:
        for r_rgb, r_flow in zip(rgb, flow):
            v_rgb = val_probabilities(r_rgb, (train, val, test), n_classes, study.main_dir,
                                      device)
            v_flow = val_probabilities(r_flow, flow_data[:3], n_classes, flow_dir, device)
            for rule in ("average", "learnt"):
                rows.append(("fusion", fused_result(r_rgb["model"], rule, r_rgb, r_flow, v_rgb,
                                                    v_flow, val.y.numpy(), test.y.numpy())))
    return rows, {}


def tconv_part(study, rgb_data, rgb, parts):
    """The 1-D temporal convolution on the RGB codes."""
    train, val, test, info = rgb_data
    return [("tconv", study.settings.train("tconv", (train, val, test), len(info["classes"]),
                                           os.path.join(study.out, "tconv"),
                                           progress=study.progress, device=study.device))], {}


def crops_part(study, rgb_data, rgb, parts):
    """The reference model trained on the ten views, then on the five without mirrors."""
    from .augment import run_augmented
    settings = study.settings
    views = study.other_data(rgb_data, views="oversample")
    rows = []
    for mirrors in (True, False):
        rows += [("crops", result) for result in run_augmented(
            REFERENCE, settings.base(), list(settings.lrs), list(settings.hidden),
            range(settings.seeds), views[:3], len(rgb_data[3]["classes"]),
            os.path.join(study.out, "crops"), study.progress, study.device, mirrors)]
    return rows, {}


def finetune_part(study, rgb_data, rgb, parts):
    """CaffeNet's fc6/fc7 fine-tuned with the reference model, from its main-table runs."""
    from .finetune import run_finetune
    pool5 = study.other_data(rgb_data, layer="pool5")
    chosen = TrainConfig(**next(r for r in rgb if r["model"] == REFERENCE)["chosen"])
    return [("finetune", run_finetune(REFERENCE, chosen, range(study.settings.seeds), pool5[:3],
                                      len(rgb_data[3]["classes"]),
                                      os.path.join(study.out, "finetune"), study.caffemodel,
                                      study.main_dir, study.progress, study.device))], {}


def pretrain_part(study, rgb_data, rgb, parts):
    """The learning curve, without and with the autoencoder's pretraining."""
    from .pretrain import learning_curve
    settings = study.settings
    train, val, test, info = rgb_data
    curve = learning_curve(settings.base(), list(settings.lrs), list(settings.hidden),
                           range(settings.seeds), (train, val, test), len(info["classes"]),
                           os.path.join(study.out, "pretrain"), progress=study.progress,
                           device=study.device, full_from=study.main_dir)
    return ([("pretrain", r) for r in curve if r["pretrained"] and r["fraction"] == 1.0],
            {"curve": curve})


PART_RUNNERS = {"flow": flow_part, "tconv": tconv_part, "crops": crops_part,
                "finetune": finetune_part, "pretrain": pretrain_part}


def _timed(part, study, rgb_data, rgb, parts):
    """(part, rows, extras, seconds): ``part`` run and timed."""
    start = time.perf_counter()
    rows, extras = PART_RUNNERS[part](study, rgb_data, rgb, parts)
    return part, rows, extras, round(time.perf_counter() - start, 1)


def _in_worker(part, study, rgb, parts):
    """A worker process's part: its own copy of the RGB split (read from the store)."""
    return _timed(part, study, study.rgb_data(), rgb, parts)


def _worker_setup(device, threads):
    """A worker's torch: deterministic kernels on ``device``, ``threads`` threads."""
    from .train import set_deterministic
    set_deterministic(device, False, threads)


class WorkerDied(RuntimeError):
    """A worker process of ``--jobs`` ended without finishing its part (killed: out of memory?)."""


def run(parts, features, main_dir, out, settings, caffemodel=None, progress=True, device="cpu",
        jobs=1):
    """Every part of ``parts`` (``caffemodel``: the CaffeNet that made the codes, whose fc6/fc7
    the finetune part starts from); returns (rows, extras, info, seconds) for the report:
    rows [(kind, result)] in table order, extras {"curve": learning-curve results, ...}.

    ``jobs`` > 1: the parts train in that many worker processes at once (``LONGEST_FIRST``),
    each with its share of the cores' threads; the bits are the same as in one process (a run
    is single-stream and its numbers do not depend on the thread count,
    ``common.reproducible``), and so is the table (tests/test_future.py)."""
    for part, store in STORES.items():        # a missing store is said now, not after hours
        if part in parts:
            store_paths(features, 1, **store)
    check_together(features, 1, {}, list({str(s): s for p, s in STORES.items() if p in parts}
                                         .values()), caffemodel and file_sha1(caffemodel),
                   caffemodel, [os.path.join(main_dir, "table.json")])   # and the same videos
    study = Study(features, main_dir, out, settings, caffemodel, progress, device)
    rgb_data = study.rgb_data()
    info = {**rgb_data[3], "test_labels": rgb_data[2].y.numpy()}
    start = time.perf_counter()
    rgb = rgb_part(study, rgb_data)
    seconds = {"rgb": round(time.perf_counter() - start, 1)}
    todo = [p for p in LONGEST_FIRST if p in parts or (p == "flow" and "fusion" in parts)]
    done = {}
    if jobs == 1 or len(todo) == 1:
        for part in todo:
            done[part] = _timed(part, study, rgb_data, rgb, parts)
    else:
        done = _in_workers(todo, study, rgb, parts, jobs)
    rows, extras = [("rgb", r) for r in rgb], {}
    for part in PARTS:                                       # the table's order
        if part in done:
            _, part_rows, part_extras, seconds[part] = done[part]
            rows += part_rows
            extras.update(part_extras)
    return rows, extras, info, seconds


def _in_workers(todo, study, rgb, parts, jobs, work=_in_worker):
    """``todo``'s parts, each ``work(part, study, rgb, parts)``, in ``jobs`` spawned processes
    (torch is not safe to fork once its threads ran) sharing this process's threads; their
    per-run bars are off, a bar over the parts says which ended. A part's error is raised once
    the parts already running have ended (their runs are saved; parts not started are not
    started); a worker that dies is a ``WorkerDied`` at once."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    import torch
    from tqdm import tqdm
    workers = min(jobs, len(todo))
    quiet, done = replace(study, progress=False), {}
    with ProcessPoolExecutor(workers, multiprocessing.get_context("spawn"), _worker_setup,
                             (study.device, max(1, torch.get_num_threads() // workers))) as pool, \
            tqdm(total=len(todo), desc=f"parts ({workers} at once)", unit="part",
                 disable=not study.progress, dynamic_ncols=True) as bar:
        futures = {pool.submit(work, part, quiet, rgb, parts): part for part in todo}
        try:
            for future in as_completed(futures):
                part, *result = future.result()
                done[part] = (part, *result)
                bar.set_postfix_str(f"{part} done in {result[-1] / 60:.1f} min")
                bar.update(1)
        except BrokenProcessPool:
            raise WorkerDied("a worker process of --jobs died before its part ended (killed, "
                             "out of memory?); rerun the same command: it resumes from the "
                             "saved runs") from None
        except BaseException as error:
            pool.shutdown(wait=False, cancel_futures=True)
            if isinstance(error, Exception):
                print(f"{futures[future]} failed; waiting for the parts still running (their "
                      "runs are saved) before saying why", file=sys.stderr)
            raise
    return done


def main(argv=None):
    from caffe_extract.__main__ import add_weights_arguments, resolve_weights
    from common import cli, devices
    from common.errors import describe

    from configurations import CONFIGS, DEFAULT
    from .train import CheckpointError, NonFiniteLoss, features_dir, set_deterministic
    parser = argparse.ArgumentParser(prog="python -m experiment.future", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--features", default="demo/features-paper", type=features_dir,
                        help="folder of the stores: fc7 (rgb, flow, views) and pool5 (%(default)s)")
    parser.add_argument("--main", default="results/demo-paper", type=cli.writable_dir,
                        help="the main table's results folder, whose RGB runs are reused "
                             "(%(default)s)")
    parser.add_argument("--out", default="results/demo-future", type=cli.writable_dir,
                        help="results folder (%(default)s)")
    parser.add_argument("--parts", nargs="+", default=list(PARTS), choices=PARTS, metavar="PART",
                        help=f"what to run ({' '.join(PARTS)}: all by default)")
    parser.add_argument("--config", default=DEFAULT, choices=sorted(CONFIGS))
    parser.add_argument("--hidden", nargs="+", type=cli.integer(1, 16384), default=[128],
                        help="search grid (%(default)s: the demo's)")
    parser.add_argument("--lr", nargs="+", type=cli.learning_rate, default=[0.003],
                        help="search grid (%(default)s: the demo's)")
    parser.add_argument("--epochs", type=cli.integer(1, 100_000), default=100)
    parser.add_argument("--patience", type=cli.integer(0, 100_000), default=0)
    parser.add_argument("--seeds", type=cli.integer(2, 1000), default=3,
                        help="seeds per row (at least 2: the intervals resample them)")
    add_weights_arguments(parser, ": the CaffeNet that made the codes (the finetune part)")
    parser.add_argument("--device", default="cpu", choices=devices.CHOICES)
    parser.add_argument("--threads", type=cli.integer(1, 1024), default=None)
    parser.add_argument("--jobs", type=cli.integer(1, 1024), default=1,
                        help="parts trained at once, each in its own process with its share of "
                             "the threads (the same bits as one at a time; %(default)s)")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    settings = Settings(args.config, tuple(args.hidden), tuple(args.lr), args.epochs,
                        args.patience, args.seeds)
    try:
        device = devices.resolve(args.device)
    except devices.DeviceError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    set_deterministic(device, False, args.threads)
    from caffe_extract.caffemodel import CaffeModelError
    from caffe_extract.weights import WeightsError
    from .future_report import write_report
    from .train import outputs
    try:
        outputs.claim(args.out, "experiment.future", {"--main": args.main,
                                                      "--features": args.features})
        outputs.check_input(args.main, "experiment.train", "--main")
        caffemodel = resolve_weights(args)[0] if "finetune" in args.parts else None
        rows, extras, info, seconds = run(args.parts, args.features, args.main, args.out,
                                          settings, caffemodel, not args.no_progress, device,
                                          args.jobs)
        table = write_report(args.out, rows, extras, info, {**asdict(settings),
                             "parts": args.parts, "features": args.features, "main": args.main,
                             "device": devices.describe(device, False)}, seconds)
    except (OSError, ValueError, CheckpointError, NonFiniteLoss, CaffeModelError,
            WeightsError, WorkerDied) as error:
        print(f"error: {describe(error)}", file=sys.stderr)
        return 1
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
