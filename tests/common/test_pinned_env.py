"""The pinned kernel variables are written once (common/pinned.py): common.reproducible sets
them, and the Makefile reads them from that file with any python3 (before .venv exists), exports
them, and unexports them all for FAST=1, with the environment it exported before."""
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

from common import pinned, reproducible

ROOT = pathlib.Path(__file__).resolve().parents[2]
NAMES = tuple(pinned.KERNELS) + pinned.MACHINE + tuple(pinned.THREADS) + ("ACTION_RNN_FAST",)


def test_reproducible_pins_what_pinned_lists():
    assert set(reproducible.PINNED) == set(pinned.KERNELS) | set(pinned.MACHINE) | set(pinned.THREADS)
    assert {k: reproducible.PINNED[k] for k in pinned.KERNELS} == pinned.KERNELS
    assert reproducible.THREADS == tuple(pinned.THREADS)


def test_the_file_runs_without_the_project_or_numpy():
    """``python -I -S``: no site-packages (so no numpy), nothing of the project imported."""
    def run(what):
        return subprocess.run([sys.executable, "-I", "-S", str(ROOT / "common/pinned.py"), what],
                              capture_output=True, text=True, check=True, cwd="/").stdout.split()
    assert run("kernels") == [f"{k}={v}" for k, v in pinned.KERNELS.items()]
    assert run("threads") == [f"{k}={v}" for k, v in pinned.THREADS.items()]
    assert run("names") == list(pinned.KERNELS) + list(pinned.MACHINE)
    bad = subprocess.run([sys.executable, "-I", "-S", str(ROOT / "common/pinned.py"), "x"],
                         capture_output=True, text=True)
    assert bad.returncode != 0 and bad.stderr.startswith("usage:")


def test_the_makefile_names_no_pinned_variable_itself():
    """Fails before the change: the Makefile wrote the list three times (export, unexport,
    FAST_ENV). Comments may name them."""
    text = "\n".join(line.split("#")[0] for line in (ROOT / "Makefile").read_text().splitlines())
    assert [name for name in NAMES[:-1] if name in text] == []


def make_env(fast, python=None):
    """The pinned variables a recipe of the Makefile sees, with FAST and PYTHON as given,
    started from an environment with machine-set values the Makefile must leave or remove."""
    argv = ["make", "--no-print-directory", "-C", str(ROOT), f"FAST={fast}",
            "--eval=envdump: ; @env", "envdump"] + ([f"PYTHON={python}"] if python is not None else [])
    env = {k: v for k, v in os.environ.items() if k not in NAMES}
    env.update(NPY_DISABLE_CPU_FEATURES="X", OPENCV_CPU_DISABLE="Y", ATEN_CPU_CAPABILITY="default")
    out = subprocess.run(argv, capture_output=True, text=True, check=True, env=env).stdout
    return dict(line.split("=", 1) for line in out.splitlines()
                if "=" in line and line.split("=", 1)[0] in NAMES)


@pytest.mark.skipif(shutil.which("make") is None, reason="no make here")
@pytest.mark.parametrize("python", [None, ""], ids=["PYTHON found", "PYTHON empty: python3"])
def test_the_makefile_exports_them_and_fast_unexports_them(python):
    threads = dict(pinned.THREADS)
    assert make_env("", python) == {**pinned.KERNELS, **threads, "NPY_DISABLE_CPU_FEATURES": "X",
                                    "OPENCV_CPU_DISABLE": "Y"}
    assert make_env("1", python) == {**threads, "ACTION_RNN_FAST": "1"}
