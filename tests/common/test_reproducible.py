"""The demo's bits do not follow the CPU's kernels (common/reproducible.py).

Two kernel settings that this machine offers, as a machine of another kind would choose them:
A = AVX2 kernels, one thread; B = the CPU's widest kernels, two threads: on an AVX-512 CPU,
OpenBLAS's SkylakeX core and MKL's AVX-512 branch; on an AVX2-only one (AMD, older Intel), the
SSE4.2-era kernels (``WIDEST``), never an instruction the CPU lacks. Each stage of the demo (pycaffe extraction,
the CaffeNet port's extraction, the training of the four models) runs under A and under B in
subprocesses; with the project's pinning they must give byte-identical codes, table.json,
predictions.csv and weights. The control runs the same under ``ACTION_RNN_FAST=1`` (fast mode: the
project sets nothing) and asserts that A and B differ there, so the test can fail.
Measured on an Intel Xeon with AVX-512, unpinned: pycaffe's codes differ by up to 9e-6 (OpenBLAS core and
thread count), the port's by MKL's branch and thread count, the trained weights by up to
5e-8 and predictions.csv with them. The port's convolutions (oneDNN) gave equal bits under
AVX2 and AVX-512 here, so the port's control rests on MKL and the thread count.

Training runs with 1 thread under A and 3 under B (``--threads``): its bits must not depend on
the thread count either, which is what lets it use every core.

A reduced but real run: 12 synthetic videos (2 classes x 6 groups), the four paper models,
hidden 64, 3 epochs, one seed. The two settings run side by side (one core each).
"""
import hashlib
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

from common import cpu
from common.reproducible import FAST, FAST_NOTED, PINNED

#: two kernel settings as two machines would choose them: A, AVX2 with one thread; B, this
#: CPU's widest kernels with two threads (AVX-512 where it has them; else SSE4.2-era kernels,
#: OpenBLAS's Sandybridge core and ATen's default, so that the unpinned control never asks for
#: an instruction the CPU lacks: on an AVX2-only CPU AVX-512 kernels die with SIGILL)
A = {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2",
     "OPENBLAS_CORETYPE": "Haswell", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
     "MKL_NUM_THREADS": "1"}
TWO_THREADS = {"OPENBLAS_NUM_THREADS": "2", "OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2"}
WIDEST = {True: {"ATEN_CPU_CAPABILITY": "avx512", "MKL_CBWR": "AVX512", "ONEDNN_MAX_CPU_ISA": "ALL",
                 "OPENBLAS_CORETYPE": "SkylakeX", **TWO_THREADS},
          False: {"ATEN_CPU_CAPABILITY": "default", "MKL_CBWR": "SSE4_2",
                  "ONEDNN_MAX_CPU_ISA": "SSE41", "OPENBLAS_CORETYPE": "Sandybridge", **TWO_THREADS}}
SETTINGS = {"A": A, "B": WIDEST[cpu.has_avx512()]}


#: training keeps the thread count free (reproducible.training_threads): 1 vs 3 threads (3 splits
#: every dimension unevenly, and exceeds this machine's 2 cores)
TRAINING_THREADS = {"A": ["--threads", "1"], "B": ["--threads", "3"]}


def env_for(setting, pinned):
    env = {k: v for k, v in os.environ.items() if k not in PINNED and k != FAST}
    env.update(SETTINGS[setting])
    if not pinned:
        env[FAST] = "1"
    env["PYTHONWARNINGS"] = "ignore"
    return env


def run_both(args, workdirs, pinned, extra=None):
    """Run ``python -m args`` (plus ``extra[setting]``) under settings A and B at once, each in
    its own folder."""
    extra = extra or {}
    jobs = [subprocess.Popen([sys.executable, "-m", *args, *extra.get(s, [])], cwd=workdirs[s],
                             env=env_for(s, pinned),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for s in ("A", "B")]
    for job in jobs:
        out, err = job.communicate(timeout=600)
        assert job.returncode == 0, err[-3000:]


def codes_digest(path):
    from caffe_extract.store import read_store
    return hashlib.sha1(np.ascontiguousarray(read_store(path)["features"]).tobytes()).hexdigest()


def results_digests(folder):
    """SHA1 of table.json, predictions.csv and every checkpoint's weights (in name order)."""
    import torch
    weights = hashlib.sha1()
    for name in sorted(os.listdir(folder / "checkpoints")):
        for tensor in torch.load(folder / "checkpoints" / name, weights_only=True)["model"].values():
            weights.update(tensor.numpy().tobytes())
    return {"table.json": hashlib.sha1((folder / "table.json").read_bytes()).hexdigest(),
            "predictions.csv": hashlib.sha1((folder / "predictions.csv").read_bytes()).hexdigest(),
            "weights": weights.hexdigest()}


@pytest.fixture(scope="module")
def videos(tmp_path_factory, random_caffemodel):
    root = tmp_path_factory.mktemp("repro")
    subprocess.run([sys.executable, "-m", "caffe_extract.synthetic", "--root", str(root / "data"),
                    "--groups", "6", "--clips", "1", "--classes", "2", "--seed", "5"],
                   check=True, capture_output=True)
    return root


def extract(root, tag, backend, pinned):
    dirs = {s: root / f"{tag}-{s}" for s in ("A", "B")}
    for d in dirs.values():
        d.mkdir()
    run_both(["caffe_extract", "extract", "--videos", str(root / "data" / "videos"), "--splits",
              str(root / "data" / "splits"), "--out-dir", "features", "--random-weights", "0",
              "--backend", backend, "--workers", "1", "--device", "cpu", "--no-progress"],
             dirs, pinned)
    return {s: codes_digest(d / "features" / "all_splits_fc7.h5") for s, d in dirs.items()}, dirs


def train(root, tag, features, pinned):
    dirs = {s: root / f"{tag}-{s}" for s in ("A", "B")}
    for d in dirs.values():
        d.mkdir()
        (d / "features").symlink_to(features)
    run_both(["experiment.train", "--features", "features", "--out", "results", "--models",
              "average", "rnn", "lstm", "birnn", "--hidden", "64", "--lr", "0.003", "--epochs", "3",
              "--patience", "0", "--seeds", "1", "--val-groups", "1", "--device", "cpu",
              "--no-progress"], dirs, pinned, extra=TRAINING_THREADS)
    return {s: results_digests(d / "results") for s, d in dirs.items()}


@pytest.fixture(scope="module")
def pycaffe_codes(videos):
    return extract(videos, "caffe", "caffe", pinned=True)


def test_pycaffe_codes_are_the_same_bits_under_both_kernel_settings(pycaffe_codes):
    digests, _ = pycaffe_codes
    assert digests["A"] == digests["B"]


def test_port_codes_are_the_same_bits_under_both_kernel_settings(videos):
    digests, _ = extract(videos, "port", "torch", pinned=True)
    assert digests["A"] == digests["B"]


def test_training_gives_the_same_table_predictions_and_weights(videos, pycaffe_codes):
    _, dirs = pycaffe_codes
    digests = train(videos, "train", dirs["A"] / "features", pinned=True)
    assert digests["A"] == digests["B"]


def test_control_unpinned_the_two_settings_differ(videos, pycaffe_codes):
    """Without the pinning the same two settings give other bits: what the test above guards."""
    codes, _ = extract(videos, "caffe-unpinned", "caffe", pinned=False)
    assert codes["A"] != codes["B"], "pycaffe: OpenBLAS Haswell/1 thread vs SkylakeX/2 threads"
    port, _ = extract(videos, "port-unpinned", "torch", pinned=False)
    assert port["A"] != port["B"], "port: MKL AVX2/1 thread vs AVX-512/2 threads"
    _, dirs = pycaffe_codes
    results = train(videos, "train-unpinned", dirs["A"] / "features", pinned=False)
    assert results["A"]["weights"] != results["B"]["weights"]
    assert results["A"]["predictions.csv"] != results["B"]["predictions.csv"]


def test_pin_overrides_the_environment_and_warns_when_a_library_came_first():
    """A user's other kernel choice is overridden; a library loaded before the pinning gets one
    clear warning naming it; fast mode pins no kernel and keeps a thread count it is given."""
    from common.reproducible import ReproducibilityWarning, pin
    environ = {"ATEN_CPU_CAPABILITY": "avx512", "OMP_NUM_THREADS": "8"}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert pin(environ, modules={}) == []
    assert environ["ATEN_CPU_CAPABILITY"] == "avx2" and environ["OMP_NUM_THREADS"] == "1"
    assert environ["MKL_CBWR"] == "AVX2,STRICT" and environ["OPENBLAS_CORETYPE"] == "Haswell"
    with pytest.warns(ReproducibilityWarning, match="torch imported before"):
        assert pin({}, modules={"torch": object()}) == ["torch"]
    environ = {FAST: "1", "OMP_NUM_THREADS": "8"}
    assert pin(environ, modules={}) == []
    assert environ == {FAST: "1", "OMP_NUM_THREADS": "8", "OPENBLAS_NUM_THREADS": "1",
                       "MKL_NUM_THREADS": "1", FAST_NOTED: "1"}


def test_fast_mode_says_so_once_per_command(capsys):
    """One line on stderr in the first process; its children (which inherit the marker) are
    quiet, so a command with many decoding workers says it once."""
    from common.reproducible import pin
    environ = {FAST: "1"}
    pin(environ, modules={})
    pin(environ, modules={})
    lines = capsys.readouterr().err.splitlines()
    assert lines == [f"note: {FAST}=1: CPU kernels not pinned (fast mode); results may differ "
                     "between machines in the last digits"]


def test_this_process_runs_pinned():
    """conftest imports caffe_extract before torch: the tests themselves run pinned, and MKL
    itself reports the pinned branch."""
    import torch

    from common import mkl
    from common.reproducible import BRANCH, runs_pinned
    assert runs_pinned() and torch.backends.cpu.get_cpu_capability() == "AVX2"
    assert BRANCH == mkl.branch() == "AVX2,STRICT"


def test_mkl_vendor_fix_is_what_the_process_resolves():
    """The vendor fix is loaded into the global symbol scope, so the name MKL asks for resolves
    to ours, not to the copy inside libtorch_cpu.so (tests/common/test_emulated_cpus.py shows the
    effect on an AMD CPU)."""
    import ctypes

    from common import mkl
    fix = mkl.load_vendor_fix()
    assert fix is not None, f"{mkl.LIBRARY} missing: make setup builds it"
    process = ctypes.CDLL(None)
    for name in ("mkl_serv_intel_cpu_true", "mkl_serv_intel_cpu"):
        assert ctypes.cast(getattr(process, name), ctypes.c_void_p).value == \
            ctypes.cast(getattr(fix, name), ctypes.c_void_p).value
        assert getattr(fix, name)() == 1


def test_mkl_branch_names_as_mkl_verbose_writes_them():
    from common.mkl import describe
    assert describe(0x1000A) == "AVX2,STRICT" and describe(2) == "AUTO"
    assert describe(0x10002) == "AUTO,STRICT" and describe(12) == "AVX512"


def test_control_settings_ask_only_for_kernels_the_cpu_has():
    """The unpinned control's B setting on a CPU without AVX-512 names no AVX-512 kernel (it
    died with SIGILL on an AMD EPYC when it did)."""
    avx2_only = " ".join(WIDEST[False].values()).upper()
    assert "512" not in avx2_only and "SKYLAKEX" not in avx2_only and "ALL" not in avx2_only
    assert SETTINGS["B"] is WIDEST[cpu.has_avx512()]


def test_training_takes_every_core_it_may_use_unless_told():
    """Training's thread count (free, as the training test above shows): the process's
    affinity mask by default (a Slurm allocation, taskset), ``--threads`` otherwise."""
    import torch

    from common.reproducible import training_threads
    from experiment.train import set_deterministic
    assert training_threads() == len(os.sched_getaffinity(0))
    assert training_threads(3) == 3
    before = torch.get_num_threads()
    try:
        set_deterministic("cpu", threads=3)
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(before)
