"""The same bits on other CPUs, seen from this one: an AMD EPYC and an Intel CPU without AVX-512,
emulated by Debian's qemu-user (``qemu-x86_64 -cpu MODEL``: the program sees that CPU's CPUID,
so MKL, OpenBLAS, ATen and numpy choose their kernels as they would there).

A tiny run of each stage (tests/common/emulated_run.py: a few training steps of the four paper
models, a video's frames decoded and preprocessed, OpenCV's optical flow, a small convolution in
torch (oneDNN), one pycaffe forward) must give this machine's bytes under both emulated CPUs, and so must one
fixture of the Theano/Lasagne oracle (``rnn_nntools-zeros``, the one that moved by 1 ulp on a
real AMD EPYC before its numpy's AVX-512 exp was switched off). The control leaves the MKL
vendor fix out (common/mkl.py) on the emulated AMD: MKL then runs its AUTO branch, says so in
one line naming the CPU, and the training bytes differ, so these tests can fail.

Emulation costs about 200x per GEMM: each emulated run takes 30-60 s, all of them run at once.
`make test` installs qemu-user (scripts/install_qemu.sh) and sets REQUIRE_EMULATOR=1, so a
missing emulator fails there; elsewhere these tests skip with a loud reason.
"""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
RUN = os.path.join(HERE, "emulated_run.py")
ORACLE_PYTHON = os.path.join(ROOT, ".venv-oracle", "bin", "python")
ORACLE = os.path.join(ROOT, "parity_tests", "lasagne_oracle.py")
FIXTURE = "rnn_nntools-zeros"
#: qemu's CPU models: AMD Zen 3 (AVX2, no AVX-512) and Intel Haswell (AVX2, no AVX-512)
CPUS = {"amd-epyc-milan": "EPYC-Milan-v1", "intel-haswell": "Haswell-v4"}
WITHOUT_FIX = "amd-epyc-milan-without-mkl-fix"
EMULATOR_SKIP = "NO EMULATOR (qemu-x86_64): other CPUs not tested; `make test` installs it"


def qemu():
    path = shutil.which("qemu-x86_64")
    if path is None:
        if os.environ.get("REQUIRE_EMULATOR") == "1":
            pytest.fail("qemu-x86_64 not found: run scripts/install_qemu.sh (apt: qemu-user)")
        pytest.skip(EMULATOR_SKIP)
    return path


def emulated(cpu, command, env=None):
    """``command`` under qemu emulating ``cpu`` (None: natively), started, not waited for."""
    prefix = [qemu(), "-cpu", cpu] if cpu else []
    return subprocess.Popen(prefix + command, cwd=ROOT, env={**os.environ, **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(job):
    out, err = job.communicate(timeout=900)
    assert job.returncode == 0, err[-3000:]
    return out, err


@pytest.fixture(scope="module")
def runs(caffe, tmp_path_factory):
    """Every run at once (the emulated ones dominate): native, each emulated CPU, the control,
    and the oracle fixture under each emulated CPU. Returns {name: (stdout, stderr)} and the
    oracle's output folders."""
    jobs = {"native": emulated(None, [sys.executable, RUN])}
    for name, cpu in CPUS.items():
        jobs[name] = emulated(cpu, [sys.executable, RUN])
    jobs[WITHOUT_FIX] = emulated(CPUS["amd-epyc-milan"], [sys.executable, RUN, "--no-caffe"],
                                 env={"ACTION_RNN_NO_MKL_VENDOR_FIX": "1"})
    oracle_dirs = {}
    if os.path.exists(ORACLE_PYTHON):
        for name, cpu in CPUS.items():
            oracle_dirs[name] = tmp_path_factory.mktemp(f"oracle-{name}")
            jobs[f"oracle-{name}"] = emulated(cpu, [ORACLE_PYTHON, ORACLE, str(oracle_dirs[name]),
                                                    FIXTURE])
    return {name: finish(job) for name, job in jobs.items()}, oracle_dirs


def digests(runs, name):
    return json.loads(runs[0][name][0].strip().splitlines()[-1])


@pytest.mark.parametrize("name", CPUS)
def test_emulated_cpu_gives_this_machines_bytes(runs, name):
    native, there = digests(runs, "native"), digests(runs, name)
    assert there["vendor"] == ("AuthenticAMD" if "amd" in name else "GenuineIntel")
    assert there["mkl"] == native["mkl"] == "AVX2,STRICT"
    stages = [k for k in native if k.startswith(("train/", "frames", "flow", "conv", "pycaffe"))]
    assert len(stages) == 8
    assert {k: there[k] for k in stages} == {k: native[k] for k in stages}


def test_without_the_mkl_vendor_fix_amd_differs_and_says_so(runs):
    """The control: what the fix fixes. MKL runs AUTO, one line names the CPU and the branch,
    and every model's bytes differ from this machine's."""
    native, there = digests(runs, "native"), digests(runs, WITHOUT_FIX)
    assert there["mkl"] == "AUTO,STRICT"
    warnings = [line for line in runs[0][WITHOUT_FIX][1].splitlines()
                if line.startswith("warning: MKL")]
    assert len(warnings) == 1, runs[0][WITHOUT_FIX][1][-2000:]
    assert "AUTO,STRICT branch, not the pinned AVX2,STRICT" in warnings[0]
    assert "AuthenticAMD" in warnings[0] and "EPYC" in warnings[0]
    for model in ("average", "rnn", "lstm", "birnn"):
        assert there[f"train/{model}"] != native[f"train/{model}"], model


def test_native_run_says_nothing_about_mkl(runs):
    """On this machine the pinned branch is in effect: no warning line."""
    assert "warning: MKL" not in runs[0]["native"][1]


@pytest.mark.skipif(not os.path.exists(ORACLE_PYTHON),
                    reason="no .venv-oracle (make oracle): the committed fixtures are used alone")
@pytest.mark.parametrize("name", CPUS)
def test_oracle_fixture_regenerates_identically_on_emulated_cpu(runs, name):
    committed = np.load(os.path.join(ROOT, "parity_tests", "fixtures", "lasagne", FIXTURE + ".npz"))
    there = np.load(runs[1][name] / (FIXTURE + ".npz"))
    assert committed.files == there.files
    changed = [k for k in committed.files if not np.array_equal(committed[k], there[k])]
    assert changed == []
