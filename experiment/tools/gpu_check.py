"""`make gpu-check`: everything about the GPU path that only a GPU can show, in one run and one
table (a few minutes on one H100/H200-class GPU; docs/hardware.md, "GPUs"):

- the CUDA tests: training on the GPU (both loss forms), every model against the NumPy
  reference in float64, and the CaffeNet port against the pycaffe blobs the repository keeps
  (parity_tests/fixtures/pycaffe: pycaffe runs on the CPU only, and a GPU machine may have no
  Caffe at all; the random CaffeNet is then written without Caffe, its blobs equal to Caffe's);
- CUDA graphs against eager training, bit for bit (tests/experiment/test_graphs.py);
- the device bench (``device_bench``) with its projections: eager and through CUDA graphs.

    python -m experiment.tools.gpu_check --out bench/gpu-check.md

It needs torch with CUDA and the project's other packages, not ``make setup``: a GPU machine
may reach no package index. The exit status is 1 when a check fails.
"""
import subprocess
import sys
import time
import traceback

CUDA_TESTS = ["tests/experiment/test_train.py", "parity_tests/test_torch_vs_reference.py",
              "parity_tests/test_caffenet.py", "-k", "cuda"]
GRAPH_TESTS = ["tests/experiment/test_graphs.py"]
NO_CUDA = "NO CUDA DEVICE"          # conftest.py's reason for a CUDA case skipped


def pytest_row(what, args):
    """(row, passed) of pytest over ``args``, its summary line as the result: passed only when
    pytest did and no CUDA case was skipped for want of a GPU."""
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p",
                             "no:cacheprovider", *args], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    summary = (result.stdout.strip().splitlines() or ["(no output)"])[-1].strip("= ")
    passed = result.returncode == 0 and " passed" in summary and NO_CUDA not in result.stdout
    if not passed:
        print(result.stdout[-6000:], result.stderr[-2000:], sep="\n", file=sys.stderr)
    return f"| {what} | {'passed' if passed else 'FAILED'}: {summary} | {seconds:.0f} s |", passed


def bench_section(args):
    """(row, table, passed) of the device bench, with its pipeline on ``args.videos`` videos;
    an error (a capture that fails, say) is its row, and the other checks' rows are kept."""
    from . import device_bench
    options = ["--device", "cuda", "--videos", str(args.videos)]
    if args.train_videos:
        options += ["--train-videos", str(args.train_videos)]
    start = time.perf_counter()
    try:
        bench = device_bench.with_defaults(device_bench.parser().parse_args(options), "cuda")
        table, passed = device_bench.report(bench, "cuda"), True
    except Exception as error:       # noqa: BLE001  (any failure is this check's result)
        table, passed = "", False
        print(traceback.format_exc(), file=sys.stderr)
        first = (str(error).strip().splitlines() or [""])[0][:200]
        verdict = f"FAILED: {type(error).__name__}: {first}"
    else:
        verdict = "measured (below)"
    return f"| device bench | {verdict} | {time.perf_counter() - start:.0f} s |", table, passed


def main(argv=None):
    from common import cli, commands, devices
    from common.files import emit
    parser = commands.parser("python -m experiment.tools.gpu_check", __doc__)
    parser.add_argument("--videos", type=cli.integer(1, 100_000), default=128,
                        help="generated videos for the pipeline's rate (%(default)s)")
    parser.add_argument("--train-videos", type=cli.integer(1, 100_000), default=None,
                        help="codes per timed epoch (default: split 1's 9,537, whose 1,590 "
                             "validation videos make the evaluation's graph too)")
    parser.add_argument("--out", type=cli.writable_file, help="also write the table here")
    args = parser.parse_args(argv)

    def check():
        import torch
        if not torch.cuda.is_available():
            raise devices.DeviceError(f"the GPU check needs a GPU that torch can use; this "
                                      f"machine has none visible to torch {torch.__version__}")
        devices.configure("cuda")
        rows = [pytest_row("CUDA tests: training, models vs the reference, port vs pycaffe",
                           CUDA_TESTS),
                pytest_row("CUDA graphs vs eager training, bit for bit", GRAPH_TESTS)]
        row, bench, measured = bench_section(args)
        rows.append((row, measured))
        table = [f"GPU check: {devices.describe('cuda')}", "", "| check | result | time |",
                 "|---|---|---|", *(row for row, _ in rows), "", bench]
        emit("\n".join(table), args.out)
        return 0 if all(ok for _, ok in rows) else 1
    return commands.guarded(check, (OSError, devices.DeviceError))


if __name__ == "__main__":
    sys.exit(main())
