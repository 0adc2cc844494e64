"""What MKL's branch costs on this CPU: one SGEMM of the recurrent models' input product
(640 x 4096 by 4096 x 2048, float32, 2 threads) under the project's pin (AVX2, strict, with the
vendor fix on a non-Intel CPU), under MKL's own choice without the fix (on AMD: its AUTO
branch), and under COMPATIBLE (the one branch MKL honours on AMD without the fix).

    .venv/bin/python scripts/mkl_branch_cost.py [--reps 15]

Each setting runs in its own process (MKL reads its branch once); median and range of the
timed products after three untimed ones. docs/setup.md quotes a run of it.
"""
import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

WORK = r"""
import json, statistics, sys, time
import common  # first: pins the kernels and loads the vendor fix, unless told not to
import torch
from common import mkl
torch.set_num_threads(2)
g = torch.Generator().manual_seed(0)
a, b = torch.randn(640, 4096, generator=g), torch.randn(4096, 2048, generator=g)
for _ in range(3):
    a @ b
times = []
for _ in range(int(sys.argv[1])):
    start = time.perf_counter()
    a @ b
    times.append(1e3 * (time.perf_counter() - start))
print(json.dumps({"branch": mkl.branch(), "median": statistics.median(times),
                  "low": min(times), "high": max(times)}))
"""

SETTINGS = {  # name -> environment changes
    "pinned (the project's default)": {},
    "pinned, vendor fix left out": {"ACTION_RNN_NO_MKL_VENDOR_FIX": "1"},
    "MKL_CBWR=COMPATIBLE, fix left out": {"ACTION_RNN_FAST": "1", "MKL_CBWR": "COMPATIBLE",
                                          "ACTION_RNN_NO_MKL_VENDOR_FIX": "1"},
}


def measure(changes, reps):
    env = {**os.environ, "PYTHONPATH": ROOT, "PYTHONWARNINGS": "ignore", **changes}
    result = subprocess.run([sys.executable, "-c", WORK, str(reps)], env=env, cwd=ROOT,
                            capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(result.stderr[-2000:])
    return json.loads(result.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=15)
    args = parser.parse_args()
    sys.path.insert(0, ROOT)
    from common import cpu
    print(f"{cpu.summary()}; one 640x4096 @ 4096x2048 SGEMM, 2 threads, {args.reps} timed\n")
    print("| setting | MKL branch | median ms | range ms |\n| --- | --- | --- | --- |")
    for name, changes in SETTINGS.items():
        m = measure(changes, args.reps)
        print(f"| {name} | {m['branch']} | {m['median']:.1f} | {m['low']:.1f}-{m['high']:.1f} |")


if __name__ == "__main__":
    main()
