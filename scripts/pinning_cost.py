"""What the pinned CPU kernels (common/reproducible.py) cost in speed, pinned vs unpinned.

    .venv/bin/python scripts/pinning_cost.py [--reps 3]

In one run, alternating pinned and unpinned subprocesses (so that a busy machine slows both
alike): one training epoch of the demo's BiRNN (hidden 128, the demo's 240 training videos of
10 x 4096 codes, batches of 64, float32) and one extraction batch (4 videos = 40 frames) through
pycaffe and through the CaffeNet port, random weights. Prints the median seconds and the ratio
pinned / unpinned.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

WORK = r"""
import json, sys, time
import common.reproducible  # first, as every entry point
import numpy as np, torch
from experiment.train import RunSettings, Split, model_base, train_run
from rnn_models.models import build
from caffe_extract.backends import open_backend
from caffe_extract.random_model import cached_random_caffemodel
import tempfile
out = {"threads": torch.get_num_threads(), "capability": torch.backends.cpu.get_cpu_capability()}
g = torch.Generator().manual_seed(0)
train = Split(torch.rand(240, 10, 4096, generator=g), torch.randint(0, 8, (240,), generator=g))
val = Split(train.x[:48], train.y[:48])
config = model_base("birnn", RunSettings(hidden_dim=128, lr=0.003, epochs=1, patience=0))
for warm in (True, False):                                   # the second run is timed
    with tempfile.TemporaryDirectory() as d:
        start = time.perf_counter()
        train_run(config, train, val, 8, d, progress=False)
        out["epoch"] = time.perf_counter() - start
batch = np.random.default_rng(0).normal(0, 50, (40, 3, 227, 227)).astype(np.float32)
model = cached_random_caffemodel(0)
for name in ("caffe", "torch"):
    net = open_backend(name, model)
    net.forward(batch[:10])
    start = time.perf_counter()
    net.forward(batch)
    out[name] = time.perf_counter() - start
print(json.dumps(out))
"""


def measure(pinned):
    env = {k: v for k, v in os.environ.items()}
    if pinned:
        env.pop("ACTION_RNN_FAST", None)
    else:
        from common.reproducible import PINNED
        for key in PINNED:
            env.pop(key, None)
        env["ACTION_RNN_FAST"] = "1"
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTHONWARNINGS"] = "ignore"
    result = subprocess.run([sys.executable, "-c", WORK], env=env, capture_output=True, text=True,
                            cwd=ROOT)
    if result.returncode != 0:
        sys.exit(result.stderr[-2000:])
    return json.loads(result.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    runs = {True: [], False: []}
    for _ in range(args.reps):
        for pinned in (False, True):
            runs[pinned].append(measure(pinned))
    print(f"unpinned: {runs[False][0]['capability']}, {runs[False][0]['threads']} threads; "
          f"pinned: {runs[True][0]['capability']}, {runs[True][0]['threads']} thread(s); "
          f"{os.cpu_count()} CPUs, median of {args.reps}")
    print("| stage | unpinned s | pinned s | pinned / unpinned |\n| --- | --- | --- | --- |")
    for key, label in (("epoch", "BiRNN training epoch (240 videos)"),
                       ("caffe", "pycaffe extraction batch (40 frames)"),
                       ("torch", "port extraction batch (40 frames)")):
        a = statistics.median(r[key] for r in runs[False])
        b = statistics.median(r[key] for r in runs[True])
        print(f"| {label} | {a:.2f} | {b:.2f} | {b / a:.2f} |")


if __name__ == "__main__":
    main()
