"""Benchmark: each paper model's training epoch at UCF-101 split 1's size, against its GEMM bound.

    python -m experiment.tools.bench [--device cpu] [--sample 2048] [--out bench/training.md]

``train_run`` itself is timed for one epoch of each model (configuration ``paper``, SGD with
Nesterov momentum, batches of 64) on random codes shaped like split 1 (``workload``), from
``--sample`` training videos scaled to the full set; the bound is the epoch's GEMM FLOPs
(``workload.epoch_flops``) over an fp32 GEMM peak measured in the same run (``gemm_peak``),
ratio = epoch / bound. Beside it: the same training step on torch.nn and, with ``--theano``,
on Theano + Lasagne (``steps``); on the CPU, a profile of our step; with ``--modes pinned
fast``, both kernel modes, each in its own process. docs/performance.md ("Training") says what
each number means and how it is measured.
"""
import argparse
import json
import os
import sys
import tempfile

import torch

from caffe_extract.bench import in_modes, machine
from common import cli, commands, devices, pinned, reproducible
from common.files import emit
from configurations import NAMES
from experiment.train import ERRORS, RunSettings, model_base, set_deterministic, train_run

from .steps import THEANO, step_comparison, step_profile
from .workload import (BATCH, EPOCHS, H, MODELS, RUNS_PER_MODEL, SPLIT1_TRAIN, SPLIT1_VAL, C,
                       epoch_flops, gemm_peak, split1_sample)


def time_epoch(model, train, val, device, out_dir, scale=1.0, epoch=1):
    """Seconds of epoch ``epoch`` of ``train_run`` (default configuration, lr 0.001): its
    training and validation passes scaled by ``scale`` (videos), plus its checkpoint (counted
    once per epoch: an upper bound for epochs shorter than ``CHECKPOINT_SECONDS`` of
    ``experiment.train.checkpoints``), as ``train_run`` logs them in OUT/logs/RUN.seconds.jsonl.
    (Through CUDA graphs, epoch 2: the first also captures them, once per run.)"""
    import shutil
    config = model_base(model, RunSettings(model=model, hidden_dim=H, lr=0.001, epochs=epoch,
                                           patience=0))
    for folder in ("checkpoints", "logs"):                    # time a fresh epoch
        shutil.rmtree(os.path.join(out_dir, folder), ignore_errors=True)
    train_run(config, train, val, C, out_dir, False, device)
    with open(os.path.join(out_dir, "logs", config.run_id() + ".seconds.jsonl")) as f:
        t = [json.loads(line) for line in f][epoch - 1]
    return (t["train_s"] + t["val_s"]) * scale + t["checkpoint_s"]


def measure(args, device):
    """Rows: per model, the fastest epoch (scaled to split 1), its bound, the step comparison."""
    train, val, scale = split1_sample(args.sample, device)
    rows = []
    with tempfile.TemporaryDirectory() as out_dir:
        time_epoch("average", train, val, device, out_dir)              # warm-up
        for model in args.models:
            peaks, epochs = [], []
            for _ in range(args.repeats):
                peaks.append(gemm_peak(device))
                epochs.append(time_epoch(model, train, val, device, out_dir, scale))
            rows.append({"model": model, "epoch_s": min(epochs), "epochs_s": epochs,
                         "peaks_gflops": [p / 1e9 for p in peaks],
                         "gflop": epoch_flops(model) / 1e9,
                         "steps": step_comparison(model, device, args.theano),
                         "profile": step_profile(model, device) if device == "cpu" else None})
            print(f"{model}: {min(epochs):.1f} s/epoch", file=sys.stderr)
    peak = max(p for r in rows for p in r["peaks_gflops"])     # the machine's: one for all
    for r in rows:
        r.update(peak_gflops=peak, bound_s=r["gflop"] / peak, ratio=r["epoch_s"] * peak / r["gflop"])
    return rows, len(train.y)


def report(device, rows, n_train, measured_on, threads):
    """The Markdown tables; ``measured_on``/``threads``: the measuring process's machine line
    and torch threads (``measured``)."""
    scaled = "" if n_train == SPLIT1_TRAIN else \
        f" (timed on {n_train} training videos, scaled)"
    lines = [f"One training epoch at UCF-101 split 1's size ({SPLIT1_TRAIN:,} training videos + "
             f"{SPLIT1_VAL:,} validation, 10 x 4096 float32 codes), configuration `paper`, hidden "
             f"{H}, batches of {BATCH}, SGD with Nesterov momentum{scaled}; "
             f"{devices.describe(device)}; {measured_on}.", "",
             "| model | s / epoch | GEMM GFLOP / epoch | GEMM peak (GFLOP/s) | bound (s) "
             "| epoch / bound |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {NAMES[r['model']]} | {r['epoch_s']:.2f} | {r['gflop']:.0f} "
                     f"| {r['peak_gflops']:.0f} | {r['bound_s']:.2f} | {r['ratio']:.2f}x |")
    table_min = sum(RUNS_PER_MODEL * EPOCHS * r["epoch_s"] for r in rows) / 60
    lines += ["", f"Projected: the table of one split ({len(rows)} models x {RUNS_PER_MODEL} runs "
              f"x up to {EPOCHS} epochs; early stopping only shortens it): {table_min:.0f} min.",
              "", "The same training step (64 videos: forward, backward, update), ms:", ""]
    kinds = list(dict.fromkeys(k for r in rows for k in r["steps"]))
    lines += ["| model | " + " | ".join(kinds) + " |", "|---|" + "---|" * len(kinds)]
    for r in rows:
        cells = [f"{1000 * r['steps'][k]:.0f}" if k in r["steps"] else "-" for k in kinds]
        lines.append(f"| {NAMES[r['model']]} | " + " | ".join(cells) + " |")
    lines += ["", "torch.nn's LSTM has no peepholes (ours: the paper's, with them)."
              + (f" {THEANO}: its C ops compiled with g++, numpy's OpenBLAS with "
                 f"{threads} thread(s), median of 3 steps." if THEANO in kinds else "")
              + " Epochs: the fastest of the repeats, peak: the highest of the run; other "
              "processes share the cores."]
    profiled = [r for r in rows if r.get("profile")]
    if profiled:
        lines += ["", "Where our training step's time goes (torch.profiler, self time of each "
                  "operator over 8 steps of 64 videos, as shares of their wall time; the GEMMs' "
                  "rate: the step's GEMM FLOPs over their time, against the peak above):", "",
                  "| model | GEMMs | GEMM rate (GFLOP/s) | update (fused SGD) | batch gather "
                  "| other (elementwise, autograd, Python) |", "|---|---|---|---|---|---|"]
        for r in profiled:
            p = r["profile"]
            lines.append(f"| {NAMES[r['model']]} | {p['gemm']:.0%} | {p['gemm_gflops']:.0f} "
                         f"| {p['update']:.0%} | {p['gather']:.0%} | {p['other']:.0%} |")
    return "\n".join(lines)


def measure_modes(args):
    """{mode: (rows, n_train, machine, threads)}: each mode timed in a process of its own
    (``caffe_extract.bench.in_modes``); Theano's step timed once, pinned."""
    return {mode: in_modes([mode], measured, argparse.Namespace(
        **{**vars(args), "theano": args.theano and mode == "pinned"}))[mode] for mode in args.modes}


def measured(args, device="cpu"):
    """(rows, n_train, machine, threads), measured in this process's kernel mode on ``device``."""
    set_deterministic(device, threads=args.threads)
    args.sample = args.sample or (SPLIT1_TRAIN if device.startswith("cuda") else 2048)
    return (*measure(args, device), machine(), torch.get_num_threads())


def modes_report(measured):
    """The pinned and fast epochs side by side, each against its own bound."""
    pinned, fast = measured["pinned"][0], measured["fast"][0]
    lines = ["Pinned and fast kernels side by side (same machine, same run; each mode's bound "
             "uses its own GEMM peak): pinned = " + measured["pinned"][2] + "; fast = "
             + measured["fast"][2] + ".", "",
             "| model | pinned s / epoch | pinned epoch / bound | fast s / epoch "
             "| fast epoch / bound | fast speed-up |", "|---|---|---|---|---|---|"]
    for p, f in zip(pinned, fast):
        lines.append(f"| {NAMES[p['model']]} | {p['epoch_s']:.2f} | {p['ratio']:.2f}x "
                     f"| {f['epoch_s']:.2f} | {f['ratio']:.2f}x | {p['epoch_s'] / f['epoch_s']:.2f}x |")
    minutes = {m: sum(RUNS_PER_MODEL * EPOCHS * r["epoch_s"] for r in rows) / 60
               for m, (rows, *_) in measured.items()}
    lines += ["", f"GEMM peak: pinned {pinned[0]['peak_gflops']:.0f} GFLOP/s, fast "
              f"{fast[0]['peak_gflops']:.0f} GFLOP/s. Projected table of one split: pinned "
              f"{minutes['pinned']:.0f} min, fast {minutes['fast']:.0f} min."]
    return "\n".join(lines)


def main(argv=None):
    parser = commands.parser("python -m experiment.tools.bench", __doc__)
    parser.add_argument("--device", default="cpu", choices=devices.CHOICES)
    parser.add_argument("--sample", type=cli.integer(1, 100_000), default=None, help="training videos timed "
                        "(default: 2,048 on the CPU, all 7,947 on a GPU)")
    parser.add_argument("--repeats", type=cli.integer(1, 100), default=3)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--threads", type=cli.integer(1, 1024), default=None,
                        help="CPU threads (default: every core, as `make train` uses)")
    parser.add_argument("--theano", action="store_true",
                        help="also time the step on Theano + Lasagne (.venv-oracle; about 1.5 min of "
                             "compilation per model the first time)")
    parser.add_argument("--modes", nargs="+", choices=pinned.MODES, default=None,
                        help="kernel modes to time, each in its own process (default: this "
                             "process's, %s)" % reproducible.mode())
    parser.add_argument("--out", type=cli.writable_file, help="also write the table to this Markdown file")
    args = parser.parse_args(argv)
    device = devices.resolve(args.device)
    modes = args.modes and args.modes != [reproducible.mode()]
    if modes and (device != "cpu" or args.modes != list(pinned.MODES)):
        parser.error("--modes: on the CPU, 'pinned fast' (both), or this process's mode")
    return commands.guarded(lambda: measure_and_emit(args, device, modes), ERRORS)


def measure_and_emit(args, device, modes):
    """``main``'s tables, measured, printed and written to ``args.out``."""
    if modes:
        by_mode = measure_modes(args)
        emit(report(device, *by_mode["pinned"]) + "\n\n" + modes_report(by_mode), args.out)
    else:
        emit(report(device, *measured(args, device)), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
