"""The demo's pipeline on a reduced size: synthetic UCF-101 -> codes -> models -> results.

The synthetic set's first four classes are two pairs that differ only in the direction of
motion (RollLeft/RollRight, PushLeft/PushRight): the positions an object visits are the same
set in both, so the time-averaged codes cannot tell a pair apart and the Average model is at
chance within pairs, while a recurrent model sees the order. Asserted for every seed: the LSTM
beats Average by at least 20 points on these classes (measured margins: 27-39 points; the
reduced set is too small for the vanilla RNN to learn direction in 60 epochs, which the full
`make demo` shows it does). The codes come from the PyTorch port here (pycaffe's are equal to
1e-5, see tests/caffe_extract/test_pipeline.py) to keep the test short.
"""
import json
import subprocess
import sys

import pytest


def run(*args):
    result = subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.fixture(scope="module")
def demo(tmp_path_factory, random_caffemodel):
    root = tmp_path_factory.mktemp("demo")
    run("caffe_extract.synthetic", "--root", str(root / "data"), "--groups", "12", "--clips", "2",
        "--classes", "4", "--seed", "3")
    run("caffe_extract", "extract", "--videos", str(root / "data" / "videos"), "--splits",
        str(root / "data" / "splits"), "--out-dir", str(root / "features"), "--random-weights", "0",
        "--backend", "torch", "--workers", "1", "--no-progress")
    table = run("experiment.train", "--features", str(root / "features"), "--out", str(root / "results"),
                "--models", "average", "lstm", "--hidden", "64", "--lr", "0.003", "--epochs", "60",
                "--patience", "0", "--seeds", "3", "--val-groups", "2", "--batch-size", "16",
                "--no-progress").stdout
    return root, table


def test_lstm_beats_average_on_temporal_classes_for_every_seed(demo):
    root, _ = demo
    models = {m["model"]: m for m in json.loads((root / "results" / "table.json").read_text())["models"]}
    average = [run_["test_acc"] for run_ in models["average"]["runs"]]
    lstm = [run_["test_acc"] for run_ in models["lstm"]["runs"]]
    assert len(average) == len(lstm) == 3
    for seed, (a, l) in enumerate(zip(average, lstm)):
        assert l - a >= 0.20, f"seed {seed}: LSTM {l:.3f} vs Average {a:.3f}"
        assert a <= 0.70, f"seed {seed}: Average {a:.3f} should be near chance within pairs"


def test_demo_outputs_carry_the_random_weights_banner(demo):
    root, table = demo
    assert "RANDOM weights" in table and "| LSTM (Lasagne 0.1 output gate) |" in table
    assert (root / "results" / "table.md").read_text().startswith("*** RANDOM weights")
    for name in ("curves.png", "figure7_pca.png", "confusion_lstm.png", "per_class.csv"):
        assert (root / "results" / name).exists()
    splits = root / "data" / "splits"
    assert (splits / "trainlist01.txt").read_bytes().count(b"\r\n") > 0   # CRLF, as UCF-101
    assert run("caffe_extract.synthetic", "--root", str(root / "data")).stdout.strip().endswith(
        "already there")


def test_predict_a_new_video_end_to_end(demo):
    """`python -m experiment.tools.predict VIDEO --results DIR` prints the top 5 of the best model;
    its ranking is the one the results recorded for that test video (seed 0)."""
    import csv
    root, _ = demo
    table = json.loads((root / "results" / "table.json").read_text())
    best = max(table["models"], key=lambda m: m["val_acc_mean"])["model"]
    with open(root / "results" / "predictions.csv") as f:
        row = next(r for r in csv.DictReader(f) if r["model"] == best and r["seed"] == "0")
    video = root / "data" / "videos" / row["video"]
    out = run("experiment.tools.predict", str(video), "--results", str(root / "results"),
              "--device", "cpu").stdout.splitlines()
    assert out[0].startswith(f"{video}: top 4 of {best}")        # 4 classes in this set
    ranked = [line.split() for line in out[1:]]
    assert [name for _, name, _ in ranked][0] == table["classes"][int(row["top1_label"])]
    for i, (_, name, p) in enumerate(ranked[:4]):
        assert name == table["classes"][int(row[f"top{i + 1}_label"])]
        assert abs(float(p) - float(row[f"top{i + 1}_p"])) < 1e-4
    bad = subprocess.run([sys.executable, "-m", "experiment.tools.predict", str(video), "--results",
                          str(root)], capture_output=True, text=True)
    assert bad.returncode == 1 and bad.stderr.startswith("error: ") and "table.json" in bad.stderr


# -- where bits part (experiment/tools/demo_bits.py) ----------------------------------------------

def bits(*args):
    return subprocess.run([sys.executable, "-m", "experiment.tools.demo_bits", *args],
                          capture_output=True, text=True, timeout=300)


def test_stage_digests_equal_their_record_and_name_the_first_stage_that_differs(demo, tmp_path):
    """Recorded, then checked: the same bits exit 0. A changed code store is the first stage
    named (the stages before it still equal), with this machine's CPU and kernel branches."""
    import h5py
    import shutil
    root, _ = demo
    record = tmp_path / "record.json"
    where = ["--data", str(root / "data"), "--results", str(root / "results"), "--record", str(record)]
    store = tmp_path / "features"
    shutil.copytree(root / "features", store)
    assert bits("record", "--store", str(store), *where).returncode == 0
    saved = json.loads(record.read_text())
    names = [stage for stage, _ in saved["stages"]]
    assert names[:2] == ["synthetic videos", "code store"] and names[-2:] == ["predictions", "table"]
    assert sum(name.startswith("checkpoint ") for name in names) == 2 * 3     # 2 models x 3 seeds
    assert saved["machine"]["kernels"]["MKL"] == "AVX2,STRICT" and saved["readme_rows"]
    same = bits("check", "--store", str(store), *where)
    assert same.returncode == 0 and "every stage equals the record" in same.stdout
    with h5py.File(store / "all_splits_fc7.h5", "r+") as f:
        f["features"][0, 0, 0] += 1.0
    changed = bits("check", "--store", str(store), *where)
    assert changed.returncode == 3
    assert "  same     synthetic videos" in changed.stderr
    assert "the first stage that differs: code store (computed by" in changed.stderr
    assert "this machine: " in changed.stderr and "kernels: MKL AVX2,STRICT" in changed.stderr
    assert "flags: " in changed.stderr
    fast = subprocess.run([sys.executable, "-m", "experiment.tools.demo_bits", "check", "--store",
                           str(store), *where], capture_output=True, text=True, timeout=300,
                          env={**__import__("os").environ, "ACTION_RNN_FAST": "1"})
    assert fast.returncode == 0 and "fast mode" in fast.stdout


def test_stage_check_without_a_demo_says_what_to_run(tmp_path):
    """A missing demo folder is one clear line (exit 1), not a traceback; no record for a
    configuration is nothing to compare (exit 0)."""
    record = tmp_path / "r.json"
    record.write_text(json.dumps({"stages": [], "machine": {}}))
    missing = bits("check", "--data", str(tmp_path / "none"), "--record", str(record))
    assert missing.returncode == 1
    assert missing.stderr.startswith("error: demo bits:") and "run `make demo` first" in missing.stderr
    assert "Traceback" not in missing.stderr
    none = bits("check", "--config", "modern", "--record", str(tmp_path / "absent.json"))
    assert none.returncode == 0 and "no record" in none.stdout
