"""Benchmark: one training epoch on UCF-101-sized codes, hand-written models vs torch.nn vs NumPy.

    python -m rnn_models.bench [--videos 9537] [--hidden 512]        # part of `make bench`

Random codes shaped like UCF-101 split 1's training set (9,537 x 10 x 4096 float32, 1.6 GB,
non-negative like post-ReLU FC7), 101 classes, minibatches of 64, SGD with Nesterov momentum.
Each configuration runs in its own process so that its peak memory (max RSS, codes included)
is its own: our hand-written RNN and LSTM (without peepholes, as torch.nn's; and with them, as
the paper's), the same models on ``torch.nn.RNN`` / ``torch.nn.LSTM`` (same readout), and the
NumPy reference (float64 forward + hand-derived
backward; too slow for a whole epoch, so timed on ``--numpy-batches`` batches and scaled to an
epoch, as the table says).
"""
import argparse
import json
import math
import resource
import subprocess
import sys
import time

import numpy as np
import torch

from caffe_extract import cli

CONFIGS = ("rnn:hand", "rnn:torch.nn", "rnn:numpy", "lstm:hand", "lstm:torch.nn", "lstm:numpy",
           "lstm:hand+peepholes")
N_CLASSES, T, D, BATCH = 101, 10, 4096, 64


class TorchNN(torch.nn.Module):
    """The paper's RNN / LSTM (peepholes off) on torch.nn's kernels, same readout as ours."""

    def __init__(self, cell, hidden):
        super().__init__()
        kind = torch.nn.RNN if cell == "rnn" else torch.nn.LSTM
        self.recurrent = kind(D, hidden, batch_first=True,
                              **({"nonlinearity": "relu"} if cell == "rnn" else {}))
        self.out = torch.nn.Linear(hidden, hidden)
        self.softmax = torch.nn.Linear(hidden, N_CLASSES)

    def log_probabilities(self, x):
        h, _ = self.recurrent(x)
        log_P = torch.log_softmax(self.softmax(self.out(h)), dim=-1)
        return torch.logsumexp(log_P, dim=1) - math.log(x.shape[1])


def codes(n, seed=0):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, T, D, generator=generator).abs_()
    y = torch.randint(0, N_CLASSES, (n,), generator=generator)
    return x, y


def time_torch(model, x, y):
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, nesterov=True)
    start = time.perf_counter()
    for i in range(0, len(y), BATCH):
        loss = torch.nn.functional.nll_loss(model.log_probabilities(x[i:i + BATCH]), y[i:i + BATCH])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start


def time_numpy(cell, hidden, x, y, batches):
    """Seconds per epoch of the reference, from ``batches`` timed batches (SGD step included)."""
    import reference
    rng = np.random.default_rng(0)
    options = {"peepholes": False} if cell == "lstm" else {}
    params = {k: rng.normal(0, 0.01, s) for k, s in
              reference.param_shapes(cell, D, hidden, N_CLASSES, **options).items()}
    start = time.perf_counter()
    for b in range(batches):
        xb = x[b * BATCH:(b + 1) * BATCH].numpy().astype(np.float64)
        _, cache = reference.forward(cell, params, xb, **options)
        _, grads = reference.backward(cache, y[b * BATCH:(b + 1) * BATCH].numpy())
        for k in params:
            params[k] -= 1e-3 * grads[k]
    return (time.perf_counter() - start) / batches * math.ceil(len(y) / BATCH)


def run_one(config, videos, hidden, numpy_batches):
    from . import build
    cell, kind = config.split(":")
    torch.manual_seed(0)
    x, y = codes(videos)
    if kind == "numpy":
        seconds = time_numpy(cell, hidden, x, y, numpy_batches)
    else:
        if kind == "torch.nn":
            model = TorchNN(cell, hidden)
        else:  # "hand": torch.nn's equations (no peepholes); "hand+peepholes": the paper's LSTM
            options = {"peepholes": False} if cell == "lstm" and kind == "hand" else {}
            model = build(cell, D, hidden, N_CLASSES, **options)
        seconds = time_torch(model, x, y)
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20  # KiB -> GiB
    return {"config": config, "seconds_per_epoch": seconds, "peak_rss_gb": peak_gb,
            "estimated": kind == "numpy"}


def table(rows):
    by = {r["config"]: r for r in rows}
    lines = ["| model | implementation | s / epoch | vs torch.nn | peak memory (GiB) |",
             "|---|---|---|---|---|"]
    for r in rows:
        cell, kind = r["config"].split(":")
        base = by.get(f"{cell}:torch.nn")
        ratio = f"{r['seconds_per_epoch'] / base['seconds_per_epoch']:.2f}x" if base else "-"
        note = " (from timed batches)" if r["estimated"] else ""
        lines.append(f"| {cell.upper()} | {kind}{note} | {r['seconds_per_epoch']:.1f} | {ratio} "
                     f"| {r['peak_rss_gb']:.2f} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m rnn_models.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=cli.integer(1, 100_000), default=9537)
    parser.add_argument("--hidden", type=cli.integer(1, 16384), default=512)
    parser.add_argument("--numpy-batches", type=cli.integer(1, 1000), default=3)
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=cli.writable_file, help="also write the table to this Markdown file")
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(run_one(args.one, args.videos, args.hidden, args.numpy_batches)))
        return 0
    rows = []
    for config in args.configs:
        command = [sys.executable, "-m", "rnn_models.bench", "--one", config, "--videos",
                   str(args.videos), "--hidden", str(args.hidden), "--numpy-batches",
                   str(args.numpy_batches)]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            print(result.stderr[-2000:], file=sys.stderr)
            return 1
        rows.append(json.loads(result.stdout.strip().splitlines()[-1]))
        print(f"{config}: {rows[-1]['seconds_per_epoch']:.1f} s/epoch", file=sys.stderr)
    from caffe_extract.bench import emit, machine
    emit(f"One training epoch, {args.videos} x {T} x {D} codes, hidden {args.hidden}, batch {BATCH}; "
         f"{machine()}\n\n" + table(rows), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
