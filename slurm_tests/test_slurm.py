"""A real Slurm cluster (`make test-slurm`, run by CI): the extraction as a job array plus a
dependent merge job, one task requeued mid-run, and the training grid as job arrays plus a
dependent report; each must equal the single-process run.

The cluster is Debian's Slurm 22.05 with munge on localhost, installed, configured, started and
stopped by scripts/slurm_local.sh (root or sudo needed, as for apt).
"""
import json
import os
import re
import subprocess
import sys
import time

import numpy as np
import pytest

from caffe_extract.store import read_store
from caffe_extract.synthetic import CLASSES, make_dataset

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPTS = os.path.join(ROOT, "scripts")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    folder = tmp_path_factory.mktemp("slurm")
    start = subprocess.run([os.path.join(SCRIPTS, "slurm_local.sh"), "start", str(folder)],
                           capture_output=True, text=True, timeout=900)
    assert start.returncode == 0, start.stderr[-3000:]
    env = {**os.environ, "SLURM_CONF": str(folder / "slurm.conf"), "PY": sys.executable}
    yield env
    subprocess.run([os.path.join(SCRIPTS, "slurm_local.sh"), "stop", str(folder)], timeout=120)


def slurm(env, *command):
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def submit(env, script, **settings):
    """Run a submission script; returns the job ids it printed on its last line, and the line
    before, which says what was submitted."""
    out = slurm({**env, **{k: str(v) for k, v in settings.items()}}, os.path.join(SCRIPTS, script))
    lines = out.strip().splitlines()
    return lines[-1].split(), lines[-2]


def wait(env, jobs, timeout=600):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not slurm(env, "squeue", "-h", "-j", ",".join(jobs)).strip():
            return
        time.sleep(1)
    raise AssertionError(f"jobs {jobs} still queued after {timeout} s")


def job_field(env, job, field):
    return re.search(rf"\b{field}=(\S+)", slurm(env, "scontrol", "show", "job", job))[1]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("ucf")
    make_dataset(root, n_groups=6, classes=CLASSES[:3], seed=8)
    return root


def same_store(a, b):
    x, y = read_store(a), read_store(b)
    for key in ("features", "labels", "video", "group", "frame_times", "split_membership",
                "warning", "classes", "failed_video", "failed_reason"):
        np.testing.assert_array_equal(x[key], y[key], err_msg=key)
    assert {k: str(v) for k, v in x["attrs"].items()} == {k: str(v) for k, v in y["attrs"].items()}


def test_extraction_array_with_a_requeued_task_equals_one_process(cluster, dataset, tmp_path):
    common = ["--videos", str(dataset / "videos"), "--splits", str(dataset / "splits"),
              "--random-weights", "0", "--backend", "torch", "--chunk", "2", "--no-progress"]
    single = subprocess.run([sys.executable, "-m", "caffe_extract", "extract", "--out-dir",
                             str(tmp_path / "single"), "--workers", "1", *common],
                            capture_output=True, text=True, timeout=600)
    assert single.returncode == 0, single.stderr[-2000:]
    out = tmp_path / "cluster"
    (array, merge), _ = submit(cluster, "slurm_extract.sh", VIDEOS=dataset / "videos",
                          SPLITS_DIR=dataset / "splits", OUT_DIR=out, RANDOM_WEIGHTS=0,
                          BACKEND="torch", SHARDS=3, CPUS=1, EXTRACT_ARGS="--chunk 2")
    # requeue task 1 once it has written a chunk, while it is still running
    parts = out / "all_splits_fc7.h5.shard1of3.parts"
    deadline = time.monotonic() + 300
    while not list(parts.glob("chunk-*.npz")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert job_field(cluster, f"{array}_1", "JobState") == "RUNNING", "task 1 ended too soon"
    slurm(cluster, "scontrol", "requeue", f"{array}_1")
    wait(cluster, [array, merge])
    assert int(job_field(cluster, f"{array}_1", "Restarts")) == 1
    for job in (f"{array}_0", f"{array}_1", f"{array}_2", merge):
        assert job_field(cluster, job, "JobState") == "COMPLETED", job
    same_store(out / "all_splits_fc7.h5", tmp_path / "single" / "all_splits_fc7.h5")


def test_training_arrays_and_report_equal_one_process(cluster, dataset, tmp_path):
    features = tmp_path / "features"
    extract = subprocess.run([sys.executable, "-m", "caffe_extract", "extract", "--videos",
                              str(dataset / "videos"), "--splits", str(dataset / "splits"),
                              "--out-dir", str(features), "--random-weights", "0", "--backend",
                              "torch", "--workers", "0", "--no-progress"],
                             capture_output=True, text=True, timeout=600)
    assert extract.returncode == 0, extract.stderr[-2000:]
    train_args = "--lr 0.003 0.001 --hidden 8 --seeds 2 --epochs 4 --batch-size 8 --val-groups 2"
    settings = dict(FEATURES=features, MODELS="average lstm", SPLITS="1 2", CPUS=1,
                    TRAIN_ARGS=train_args, DEVICE="cpu")
    jobs, said = submit(cluster, "slurm_train.sh", RESULTS=tmp_path / "cluster", **settings)
    assert len(jobs) == 3
    assert "(8 tasks)" in said and "(8 tasks, after it)" in said   # 2 splits x 2 models x 2 lr|seeds
    single = subprocess.run([sys.executable, "-m", "experiment.train", "--features", str(features),
                             "--out", str(tmp_path / "single"), "--models", "average", "lstm",
                             "--splits", "1", "2", "--device", "cpu", *train_args.split(),
                             "--no-progress"], capture_output=True, text=True, timeout=900)
    assert single.returncode == 0, single.stderr[-2000:]
    wait(cluster, jobs, timeout=900)
    for job in jobs:
        assert job_field(cluster, job, "JobState") == "COMPLETED", job
    for split in ("split1", "split2"):
        a, b = (json.loads((tmp_path / w / split / "table.json").read_text())
                for w in ("cluster", "single"))
        a["settings"].pop("out"), b["settings"].pop("out")
        assert a == b, split
        assert (tmp_path / "cluster" / split / "predictions.csv").read_bytes() == \
            (tmp_path / "single" / split / "predictions.csv").read_bytes()
    assert (tmp_path / "cluster" / "table.md").read_text() == (tmp_path / "single" / "table.md").read_text()
