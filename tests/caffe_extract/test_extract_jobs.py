"""``extract --jobs N`` through ``common.processes.run_all``: the shards in spawned worker
processes, pinned and on one network thread each, a failing shard named in one line, a killed
run leaving no worker behind and resuming to the single run's store."""
import fcntl
import os
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from caffe_extract.__main__ import main
from caffe_extract.store import read_store
from caffe_extract.synthetic import CLASSES, make_dataset
from common.processes import Task, run_all


def child_state():
    """In a worker of ``run_all``: the libraries loaded before the kernels were pinned, the
    pinned variables as the worker sees them, torch's threads, and whether numpy is loaded."""
    import common.reproducible as reproducible
    import torch
    return (reproducible.EARLY, {k: os.environ.get(k) for k in reproducible.PINNED},
            torch.get_num_threads(), reproducible.runs_pinned())


def test_workers_are_pinned_before_numpy_and_use_one_thread():
    """A spawned worker imports ``common`` (its initializer's module) before anything else, so
    its kernels are pinned before numpy loads, as this process's; ``threads=1`` gives torch one
    thread (the extraction's shards: one network thread per process)."""
    from common import reproducible
    (early, pinned, threads, ok), = run_all([Task("a", child_state)], 1, threads=1,
                                            progress=False).values()
    assert early == [] and threads == 1
    if reproducible.mode() == "pinned":
        assert ok and pinned == {k: v or None for k, v in reproducible.PINNED.items()}


@pytest.fixture(scope="module")
def small(tmp_path_factory, random_caffemodel):
    root = tmp_path_factory.mktemp("jobs")
    make_dataset(root, n_groups=4, classes=CLASSES[:2], seed=4)
    return root


def command(root, out, *extra):
    return ["extract", "--videos", str(root / "videos"), "--splits", str(root / "splits"),
            "--out-dir", str(out), "--random-weights", "0", "--backend", "torch",
            "--device", "cpu", "--workers", "0", "--chunk", "2", "--batch-videos", "2",
            "--no-progress", *extra]


def same_store(a, b):
    """The same data and attributes, but the code's version (its commit)."""
    with h5py.File(a, "r") as f, h5py.File(b, "r") as g:
        assert sorted(f) == sorted(g)
        for key in f:
            assert np.array_equal(f[key][()], g[key][()]), key
        assert {k: str(v) for k, v in f.attrs.items() if k != "code_version"} == \
            {k: str(v) for k, v in g.attrs.items() if k != "code_version"}


@pytest.fixture(scope="module")
def single(small, tmp_path_factory):
    out = tmp_path_factory.mktemp("single")
    assert main(command(small, out)) == 0
    return out / "all_splits_fc7.h5"


def test_a_failing_shard_is_named_and_the_rerun_resumes(small, single, tmp_path, capfd):
    """Shard 1/2 cannot write its chunks (a file where its .parts folder goes): one line names
    the shard and why, shard 0/2 runs to its end; once the file is gone the same command
    resumes (shard 0/2's store kept) and writes the single run's store."""
    out = tmp_path / "out"
    out.mkdir()
    blocker = out / "all_splits_fc7.h5.shard1of2.parts"
    blocker.write_text("in the way")
    assert main(command(small, out, "--jobs", "2")) == 1
    err = capfd.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in err
    assert lines[0].startswith("error: shard(s) 1/2 failed (1/2: ") and "File exists" in lines[0]
    assert lines[0].endswith("rerun the same command to resume")
    assert (out / "all_splits_fc7.h5.shard0of2").exists()
    blocker.unlink()
    assert main(command(small, out, "--jobs", "2")) == 0
    assert "shard0of2: kept" in capfd.readouterr().err   # said by its worker
    same_store(out / "all_splits_fc7.h5", single)
    assert sorted(os.listdir(out)) == ["all_splits_fc7.h5"]


def test_jobs_n_holds_the_store_s_own_lock(small, tmp_path, capfd):
    """The --jobs parent held only its shards' locks (``STORE.shardIofN.lock``): a plain
    extraction, or one of another --jobs, into the same --out-dir ran beside it, each computing
    the whole store. It holds the store's own lock now, as a plain extraction does: held, the
    --jobs run is refused in one line before any shard starts (and does not say to resume)."""
    out = tmp_path / "out"
    out.mkdir()
    with open(out / "all_splits_fc7.h5.lock", "a+") as held:    # as a plain run holds it
        held.write("4242")
        held.flush()
        fcntl.flock(held, fcntl.LOCK_EX)
        assert main(command(small, out, "--jobs", "2")) == 1
    err = capfd.readouterr().err
    assert f"error: another extraction is writing {out}/all_splits_fc7.h5 (pid 4242)" in err
    assert "resume" not in err and "processes at once" not in err
    assert os.listdir(out) == ["all_splits_fc7.h5.lock"]


def children(pid):
    """The pids whose parent is ``pid`` (Linux /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as f:
                if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry))
        except (OSError, ValueError, IndexError):
            continue
    return found


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_killed_run_leaves_no_worker_and_resumes(small, single, tmp_path):
    """kill -9 of ``extract --jobs 2`` once a chunk is saved: its shard workers die with it
    (before, a worker would finish its shard, then wait forever on its task queue), and the
    same command then resumes to the single run's store."""
    out = tmp_path / "out"
    argv = [sys.executable, "-m", "caffe_extract"] + command(small, out, "--jobs", "2")
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    run = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while not list(out.glob("*.parts/chunk-*.npz")) and time.monotonic() < deadline:
        assert run.poll() is None, run.stderr.read().decode()
        time.sleep(0.2)
    workers = [pid for child in children(run.pid) for pid in [child] + children(child)]
    os.kill(run.pid, signal.SIGKILL)
    run.wait()
    time.sleep(2)
    assert workers and not [pid for pid in workers if alive(pid)]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    same_store(out / "all_splits_fc7.h5", single)
