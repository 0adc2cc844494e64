"""The fault campaign (`make faults`, run by CI): kill -9 at random moments, then rerun.

For the extraction and for training: an uninterrupted reference run, then runs killed with
SIGKILL at seeded random moments (uniform over the reference run's wall time), each followed by
the same command. Every rerun must end with a store byte-identical to the reference's
(extraction) or with the same results (training: table.json, predictions.csv). Counted: runs
killed, identical after rerun, lost (a rerun that failed or differs) and why each was lost. The
figures go to ``$FAULTS_REPORT`` (default results/faults.json) and the README quotes them.
"""
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

import pytest

from caffe_extract.synthetic import CLASSES, make_dataset

KILLS = int(os.environ.get("FAULT_KILLS", "20"))
REPORT = os.environ.get("FAULTS_REPORT", "results/faults.json")


def timed(command):
    start = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    return time.monotonic() - start


def campaign(name, command_for, same, rng):
    """Kill ``command_for(dir)`` at random moments until KILLS runs were killed; rerun each."""
    reference = command_for("ref")
    duration = timed(reference)
    killed = identical = lost = finished_first = 0
    moments, why = [], []
    attempt = 0
    while killed < KILLS and attempt < 3 * KILLS:
        attempt += 1
        folder = f"run{attempt}"
        moment = rng.uniform(0.05, 0.95) * duration
        child = subprocess.Popen(command_for(folder), stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        try:
            child.wait(timeout=moment)
            finished_first += 1               # it ended before the kill: not a fault
            continue
        except subprocess.TimeoutExpired:
            child.send_signal(signal.SIGKILL)
            child.wait()
        killed += 1
        moments.append(round(moment, 2))
        rerun = subprocess.run(command_for(folder), capture_output=True, text=True, timeout=600)
        if rerun.returncode == 0 and same(folder):
            identical += 1
        else:
            lost += 1
            why.append(f"killed at {moment:.2f} s: " + (
                "differs" if rerun.returncode == 0 else
                f"rerun failed ({rerun.returncode}): {rerun.stderr.strip()[-300:]}"))
    record = {"what": name, "reference_s": round(duration, 1), "killed": killed,
              "identical_after_rerun": identical, "lost": lost,
              "ended_before_the_kill": finished_first, "kill_moments_s": moments,
              "why_lost": why}
    os.makedirs(os.path.dirname(REPORT) or ".", exist_ok=True)
    report = json.load(open(REPORT)) if os.path.exists(REPORT) else {}
    report[name] = record
    with open(REPORT, "w") as f:
        json.dump(report, f, indent=1)
    print(json.dumps(record))
    return record


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("faults")
    make_dataset(root, n_groups=8, classes=CLASSES[:3], seed=4)
    return root


def test_extraction_survives_kill_9(dataset, tmp_path, random_caffemodel):
    def command(folder):
        return [sys.executable, "-m", "caffe_extract", "extract", "--videos", str(dataset / "videos"),
                "--splits", str(dataset / "splits"), "--out-dir", str(tmp_path / folder),
                "--weights", random_caffemodel, "--backend", "torch", "--workers", "1",
                "--chunk", "4", "--batch-videos", "2", "--no-progress"]

    def same(folder):
        store = "all_splits_fc7.h5"
        return (tmp_path / folder / store).read_bytes() == (tmp_path / "ref" / store).read_bytes()

    record = campaign("extraction", command, same, random.Random(2026))
    assert record["killed"] >= KILLS and record["lost"] == 0
    assert record["identical_after_rerun"] == record["killed"]


def test_training_survives_kill_9(dataset, tmp_path, random_caffemodel, monkeypatch):
    # a save after every epoch (not every CHECKPOINT_SECONDS): the most moments at which a kill
    # can land in a save, and every resume starts mid-run
    monkeypatch.setenv("TRAIN_CHECKPOINT_SECONDS", "0")
    features = tmp_path / "features"
    timed([sys.executable, "-m", "caffe_extract", "extract", "--videos", str(dataset / "videos"),
           "--splits", str(dataset / "splits"), "--out-dir", str(features), "--weights",
           random_caffemodel, "--backend", "torch", "--workers", "0", "--no-progress"])

    def command(folder):
        return [sys.executable, "-m", "experiment.train", "--features", str(features), "--out",
                str(tmp_path / folder), "--models", "average", "lstm", "--hidden", "16", "--lr",
                "0.003", "--seeds", "2", "--epochs", "12", "--patience", "0", "--batch-size", "8",
                "--val-groups", "2", "--no-progress"]

    def results(folder):
        table = json.loads((tmp_path / folder / "table.json").read_text())
        table["settings"].pop("out")
        return table, (tmp_path / folder / "predictions.csv").read_bytes()

    record = campaign("training", command, lambda folder: results(folder) == results("ref"),
                      random.Random(2027))
    assert record["killed"] >= KILLS and record["lost"] == 0
    assert record["identical_after_rerun"] == record["killed"]
    shutil.rmtree(features)
