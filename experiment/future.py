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
their checkpoints are reused, or trained there when missing). Results: OUT/table.md, table.json
and the plots (``experiment/future_report.py``); each part's runs in OUT/<part>/.
"""
import argparse
import os
import sys
import time
from dataclasses import asdict, dataclass

import numpy as np

from . import fusion
from .train import (PAPER_MODELS, Split, TrainConfig, best_model, evaluate, load_data, run_model,
                    store_paths, train_run)

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


def same_videos(a, b, a_path, b_path):
    """Every row is compared with the reference video by video, and fusion pairs two stores'
    models so: the splits of ``a`` and ``b`` (``load_data``'s) must hold the same videos in the
    same order (the same labels, the same test list)."""
    (train_a, val_a, test_a, info_a), (train_b, val_b, test_b, info_b) = a, b
    if (info_a["test_videos"] != info_b["test_videos"]
            or not all(torch_equal(x.y, y.y) for x, y in ((train_a, train_b), (val_a, val_b)))):
        raise ValueError(f"{a_path} and {b_path} do not hold the same videos in the same order; "
                         "extract both streams from the same video folder and split lists")


def torch_equal(a, b):
    return a.shape == b.shape and bool((a == b).all())


def run(parts, features, main_dir, out, settings, caffemodel=None, progress=True, device="cpu"):
    """Every part of ``parts`` (``caffemodel``: the CaffeNet that made the codes, whose fc6/fc7
    the finetune part starts from); returns (rows, extras, info, seconds) for the report:
    rows [(kind, result)] in table order, extras {"curve": learning-curve results, ...}."""
    from caffe_extract.store import store_name
    for part, store in STORES.items():        # a missing store is said now, not after hours
        if part in parts:
            store_paths(features, 1, **store)
    rgb_data = load_data(features, 1, "fc7", stream="rgb")
    train, val, test, info = rgb_data
    info = {**info, "test_labels": test.y.numpy()}
    data, n_classes = (train, val, test), len(info["classes"])
    rows, extras, seconds = [], {}, {}
    clock = time.perf_counter()

    def lap(part):
        nonlocal clock
        now = time.perf_counter()
        seconds[part] = round(now - clock, 1)
        clock = now

    rgb = [settings.train(m, data, n_classes, main_dir, progress=progress, device=device)
           for m in PAPER_MODELS]
    rows += [("rgb", r) for r in rgb]
    lap("rgb")
    if "flow" in parts or "fusion" in parts:
        flow_data = load_data(features, 1, "fc7", stream="flow")
        same_videos(rgb_data, flow_data, os.path.join(features, store_name("fc7")),
                    os.path.join(features, store_name("fc7", "flow")))
        flow_dir = os.path.join(out, "flow")
        flow = [settings.train(m, flow_data[:3], n_classes, flow_dir,
                               lrs=sorted({*settings.lrs, *FLOW_AVERAGE_LRS}, reverse=True)
                               if m == "average" else None,
                               progress=progress, device=device) for m in PAPER_MODELS]
        rows += [("flow", r) for r in flow]
        lap("flow")
        if "fusion" in parts:
            val_labels, test_labels = val.y.numpy(), test.y.numpy()
            for r_rgb, r_flow in zip(rgb, flow):
                v_rgb = val_probabilities(r_rgb, data, n_classes, main_dir, device)
                v_flow = val_probabilities(r_flow, flow_data[:3], n_classes, flow_dir, device)
                for rule in ("average", "learnt"):
                    rows.append(("fusion", fused_result(r_rgb["model"], rule, r_rgb, r_flow,
                                                        v_rgb, v_flow, val_labels, test_labels)))
            lap("fusion")
    if "tconv" in parts:
        rows.append(("tconv", settings.train("tconv", data, n_classes, os.path.join(out, "tconv"),
                                             progress=progress, device=device)))
        lap("tconv")
    if "crops" in parts:
        from .augment import run_augmented
        views = load_data(features, 1, "fc7", views="oversample")
        same_videos(rgb_data, views, os.path.join(features, store_name("fc7")),
                    os.path.join(features, store_name("fc7", views="oversample")))
        for mirrors in (True, False):
            rows += [("crops", result) for result in run_augmented(
                REFERENCE, settings.base(), list(settings.lrs), list(settings.hidden),
                range(settings.seeds), views[:3], n_classes, os.path.join(out, "crops"),
                progress, device, mirrors)]
        lap("crops")
    if "finetune" in parts:
        from .finetune import run_finetune
        pool5 = load_data(features, 1, "pool5")
        same_videos(rgb_data, pool5, os.path.join(features, store_name("fc7")),
                    os.path.join(features, store_name("pool5")))
        chosen = TrainConfig(**next(r for r in rgb if r["model"] == REFERENCE)["chosen"])
        rows.append(("finetune", run_finetune(REFERENCE, chosen, range(settings.seeds),
                                              pool5[:3], n_classes, os.path.join(out, "finetune"),
                                              caffemodel, main_dir, progress, device)))
        lap("finetune")
    if "pretrain" in parts:
        from .pretrain import learning_curve
        curve = learning_curve(settings.base(), list(settings.lrs), list(settings.hidden),
                               range(settings.seeds), data, n_classes,
                               os.path.join(out, "pretrain"), progress=progress, device=device,
                               full_from=main_dir)
        extras["curve"] = curve
        rows += [("pretrain", r) for r in curve if r["pretrained"] and r["fraction"] == 1.0]
        lap("pretrain")
    return rows, extras, info, seconds


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
    try:
        caffemodel = resolve_weights(args)[0] if "finetune" in args.parts else None
        rows, extras, info, seconds = run(args.parts, args.features, args.main, args.out,
                                          settings, caffemodel, not args.no_progress, device)
        table = write_report(args.out, rows, extras, info, {**asdict(settings),
                             "parts": args.parts, "features": args.features, "main": args.main,
                             "device": devices.describe(device, False)}, seconds)
    except (OSError, ValueError, CheckpointError, NonFiniteLoss, CaffeModelError,
            WeightsError) as error:
        print(f"error: {describe(error)}", file=sys.stderr)
        return 1
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
