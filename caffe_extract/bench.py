"""Benchmark: CaffeNet images/s, real pycaffe vs the PyTorch port, measured in one run.

    python -m caffe_extract.bench [--caffemodel PATH] [--repeats 5]     # or: make bench

Both backends run the same preprocessed frames to ``relu7`` (the codes), batch sizes 1 and 10,
on the CPU (and CUDA where PyTorch sees a GPU). Reports the median of ``--repeats`` timed runs
after one warm-up run, and the port's speed-up over pycaffe. Without ``--caffemodel`` it uses
the seeded random-weight CaffeNet (same arithmetic, same speed as the real weights).
"""
import argparse
import os
import platform
import statistics
import sys
import time

import numpy as np
import torch

from .backends import open_backend
from .preprocess import preprocess
from .synthetic import render_frames


def images_per_second(backend, batch, repeats):
    backend.forward(batch)  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        backend.forward(batch)
        if getattr(backend, "device", None) is not None and backend.device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return len(batch) / statistics.median(times)


def run(caffemodel, repeats=5, batch_sizes=(1, 10)):
    """Rows (backend, device, batch size, images/s)."""
    frames = render_frames(10, seed=3)
    batch = preprocess(frames)
    configs = [("caffe", "cpu"), ("torch", "cpu")]
    if torch.cuda.is_available():
        configs.append(("torch", "cuda"))
    rows = []
    for name, device in configs:
        try:
            backend = open_backend(name, caffemodel, device)
        except ImportError as error:  # pycaffe not built: say so in the table
            print(f"skipping {name}: {error}", file=sys.stderr)
            continue
        for n in batch_sizes:
            rows.append((name, device, n, images_per_second(backend, batch[:n], repeats)))
    return rows


def table(rows):
    caffe = {n: ips for name, _, n, ips in rows if name == "caffe"}
    lines = ["| backend | device | batch | images/s | vs pycaffe |", "|---|---|---|---|---|"]
    for name, device, n, ips in rows:
        ratio = f"{ips / caffe[n]:.2f}x" if n in caffe else "-"
        lines.append(f"| {name} | {device} | {n} | {ips:.1f} | {ratio} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m caffe_extract.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--caffemodel", help="a CaffeNet .caffemodel (default: seeded random weights)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", help="also write the table to this Markdown file")
    args = parser.parse_args(argv)
    if args.caffemodel is None:
        from .random_model import cached_random_caffemodel
        args.caffemodel = cached_random_caffemodel(seed=0)
    rows = run(args.caffemodel, args.repeats)
    text = (f"CaffeNet forward to relu7, median of {args.repeats} runs; {platform.processor() or platform.machine()}, "
            f"{os.cpu_count()} CPUs, torch {torch.__version__} ({torch.get_num_threads()} threads)\n\n"
            + table(rows))
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
