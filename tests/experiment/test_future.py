"""The "beyond the paper" study: late fusion of the two streams, the direction-pair accuracy, and
`python -m experiment.future` end to end on toy stores whose RGB codes cannot tell Left from
Right while their flow codes can."""
import json
import os

import numpy as np
import pytest
import torch

from caffe_extract.store import write_store
from experiment.future import fusion
from experiment.future import study as F
from experiment.future import report as R
from experiment.train import stores

from . import crafted_stores as crafted

CLASSES = ["Jump", "PushLeft", "PushRight", "Sit"]
D = 16


# ---------------------------------------------------------------- fusion

def test_fuse_is_the_weighted_mean_and_checks_its_inputs():
    a, b = np.array([[0.9, 0.1]]), np.array([[0.2, 0.8]])
    assert np.allclose(fusion.fuse(a, b), [[0.55, 0.45]])
    assert np.allclose(fusion.fuse(a, b, 1.0), a) and np.allclose(fusion.fuse(a, b, 0.0), b)
    with pytest.raises(ValueError, match="different sets"):
        fusion.fuse(a, np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        fusion.fuse(a, b, 1.5)


def test_the_learnt_weight_is_chosen_by_accuracy_ties_nearest_a_half():
    p_rgb = np.array([[0.9, 0.1], [0.4, 0.6]])
    p_flow = np.array([[0.3, 0.7], [0.7, 0.3]])
    labels = [0, 1]
    # video 0 right when 0.3 + 0.6 w > 0.5 (w > 1/3); video 1 when 0.3 + 0.3 w > 0.7 - 0.3 w
    # (w > 2/3): both from w = 0.7 up
    curve = dict(fusion.weight_curve(p_rgb, p_flow, labels))
    assert curve[0.3] == 0.0 and curve[0.35] == curve[0.65] == 0.5 and curve[0.7] == 1.0
    assert fusion.choose_weight(p_rgb, p_flow, labels) == (0.7, 1.0)   # 0.7-1 tie: nearest 1/2
    # right when 0.6 w > 0.4 w + (1 - w), w > 5/6: 0.85 to 1 tie, 0.85 is nearest 1/2
    assert fusion.choose_weight([[0.6, 0.4]], [[0.0, 1.0]], [0]) == (0.85, 1.0)
    # a flat curve (every w equally good) keeps the average
    assert fusion.choose_weight([[0.9, 0.1]], [[0.8, 0.2]], [0]) == (0.5, 1.0)


# ---------------------------------------------------------------- direction pairs

def test_direction_pairs_are_found_by_name():
    assert R.direction_pairs(CLASSES) == [(1, 2)]
    assert R.direction_pairs(["RollLeft", "RollRight", "PushLeft", "Walk"]) == [(0, 1)]
    assert R.direction_pairs(["ApplyEyeMakeup", "Archery"]) == []


def test_pair_accuracy_ignores_other_classes_and_a_constant_model_is_chance():
    labels = np.array([0, 1, 1, 2, 2, 3])
    right = np.array([[0.0, 0.5, 0.1, 0.4],     # Jump video: not a pair video, left out
                      [0.1, 0.2, 0.1, 0.6],     # PushLeft: wrong class overall, right on pair
                      [0.1, 0.1, 0.7, 0.1],     # PushLeft, prefers Right: wrong on pair
                      [0.1, 0.1, 0.7, 0.1],     # PushRight: right
                      [0.0, 0.6, 0.4, 0.0],     # PushRight, prefers Left: wrong
                      [0.0, 0.5, 0.1, 0.4]])
    result = {"runs": [{"test_probabilities": right}, {"test_probabilities": np.full((6, 4), .25)}]}
    correct, mask = R.pair_correct(result, labels, [(1, 2)])
    assert mask.tolist() == [False, True, True, True, True, False]
    assert correct.tolist() == [[True, False, True, False], [True, True, False, False]]


# ---------------------------------------------------------------- end to end

def toy_store(path, stream, groups, seed):
    """Codes where Jump and Sit show in both streams, PushLeft and PushRight share their RGB
    prototype (the same pictures) and differ only in the flow codes (the motion)."""
    rng = np.random.default_rng(seed)
    prototypes = np.kron(np.eye(4), np.ones(D // 4)).astype(np.float32)       # (4, D)
    if stream == "rgb":
        prototypes[2] = prototypes[1]
    features, labels, videos, group = [], [], [], []
    for g in groups:
        for c, name in enumerate(CLASSES):
            for k in range(2):
                features.append(prototypes[c] + np.abs(rng.normal(0, 0.2, (10, D))))
                labels.append(c)
                videos.append(f"{name}/v_{name}_g{g:02d}_c{k + 1:02d}.avi")
                group.append(g)
    crafted.write(path, np.stack(features).astype(np.float32), labels, videos, group, CLASSES,
                  stream=stream, subset="train" if "_train_" in str(path) else "test")


@pytest.fixture(autouse=True, scope="module")
def toy_codes():
    """The toy stores' fc7 codes are 16-dimensional (``D``), not CaffeNet's 4096."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(stores.LAYER_DIMS, "fc7", D)
        yield


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    features = tmp_path_factory.mktemp("features")
    for stream, suffix in (("rgb", ""), ("flow", "_flow")):
        toy_store(features / f"split1_train_fc7{suffix}.h5", stream, range(8, 16), seed=0)
        toy_store(features / f"split1_test_fc7{suffix}.h5", stream, range(1, 5), seed=1)
    return features, tmp_path_factory.mktemp("future")


def study_command(folders, out, *parts):
    features, root = folders
    return ["--features", str(features), "--main", str(root / "main"), "--out", str(root / out),
            "--parts", *parts, "--hidden", "32", "--lr", "0.01", "--epochs", "20", "--patience", "0",
            "--seeds", "2", "--no-progress"]


@pytest.fixture(scope="module")
def study(folders):
    from experiment import train as T
    features, root = folders
    assert T.main(["--features", str(features), "--out", str(root / "main"), "--hidden", "32",
                   "--lr", "0.01", "--epochs", "20", "--patience", "0", "--seeds", "2",
                   "--no-progress"]) == 0                                    # the main table
    assert F.main(study_command(folders, "future", "flow", "fusion")) == 0
    return json.loads((folders[1] / "future" / "table.json").read_text()), folders[1] / "future"


def test_the_table_has_every_row_and_compares_with_the_papers_best_model(study):
    record, folder = study
    labels = [row["label"] for row in record["rows"]]
    assert labels[:4] == ["Average (RGB)", "RNN (RGB)", "LSTM (RGB)", "Bidirectional RNN (RGB)"]
    assert "Average (flow)" in labels and "RNN: RGB + flow, w chosen on validation" in labels
    assert len(labels) == 4 + 4 + 8 and record["reference"] == "Bidirectional RNN (RGB)"
    compared = [row for row in record["rows"] if "vs_reference" in row]
    assert len(compared) == len(labels) - 1
    holm = sorted(row["vs_reference"]["p_holm"] for row in compared)
    assert all(row["vs_reference"]["p_holm"] >= row["vs_reference"]["p"] for row in compared)
    assert holm[-1] <= 1.0
    for name in ("table.md", "fusion_weights.png", "direction_pairs.png"):
        assert (folder / name).stat().st_size > 0
    assert "| Average (flow) | motion the frames lack |" in (folder / "table.md").read_text()


def test_flow_tells_the_directions_apart_and_rgb_cannot(study):
    record, _ = study
    pairs = {row["label"]: row["pairs"][0] for row in record["rows"]}
    assert pairs["Average (RGB)"] < 0.75               # the same pictures: near chance
    assert pairs["Average (flow)"] > 0.9


def test_the_learnt_weight_is_at_least_as_good_as_each_stream_on_validation(study):
    record, _ = study
    for row in record["rows"]:
        if row["label"].endswith("w chosen on validation"):
            for run in row["runs"]:
                curve = dict((round(w, 2), a) for w, a in run["val_curve"])
                assert run["val_acc"] == max(curve.values()) >= max(curve[0.0], curve[1.0])
                assert curve[round(run["weight"], 2)] == run["val_acc"]


def test_parts_in_two_processes_give_the_rows_of_one(study, folders):
    """--jobs 2: the flow part (with fusion) and the temporal convolution train in two worker
    processes at once; the flow and fusion rows are those of the one-process run, every number
    the same (each seed's best epoch, accuracies and test loss, the intervals and tests)."""
    record, _ = study
    assert F.main(study_command(folders, "parallel", "flow", "fusion", "tconv") + ["--jobs", "2"]) == 0
    parallel = json.loads((folders[1] / "parallel" / "table.json").read_text())
    labels = [row["label"] for row in parallel["rows"]]
    assert labels == [row["label"] for row in record["rows"]] + ["Temporal convolution (RGB)"]

    def unadjusted(row):            # Holm adjusts over the table, and this one has a row more
        test = {k: v for k, v in row.get("vs_reference", {}).items()
                if k not in ("p_holm", "verdict")}
        return {**row, "vs_reference": test}
    assert [unadjusted(row) for row in parallel["rows"][:-1]] == \
        [unadjusted(row) for row in record["rows"]]
    assert set(parallel["seconds"]) == {"rgb", "flow", "tconv"}


def test_stores_of_other_videos_cannot_be_fused(tmp_path, capsys):
    for stream, suffix, groups in (("rgb", "", range(8, 16)), ("flow", "_flow", range(8, 17))):
        toy_store(tmp_path / f"split1_train_fc7{suffix}.h5", stream, groups, seed=0)
        toy_store(tmp_path / f"split1_test_fc7{suffix}.h5", stream, range(1, 5), seed=1)
    code = F.main(["--features", str(tmp_path), "--main", str(tmp_path / "m"), "--out",
                   str(tmp_path / "f"), "--parts", "flow", "--hidden", "8", "--epochs", "1",
                   "--seeds", "2", "--no-progress"])
    assert code == 1
    assert "do not hold the same videos" in capsys.readouterr().err


def test_row_names_say_what_is_new():
    assert R.label("rgb", {"model": "birnn"}) == "Bidirectional RNN (RGB)"
    assert R.label("fusion", {"model": "lstm+flow (average)"}) == "LSTM: RGB + flow, averaged"
    assert R.label("crops", {"model": "birnn+crops, no mirrors (mean of 5)"}) == \
        "Bidirectional RNN, crops, no mirrors (mean of 5)"
    assert R.label("finetune", {"model": "birnn+fine-tuned fc6/fc7"}) == \
        "Bidirectional RNN, fine-tuned fc6/fc7"
    assert R.label("pretrain", {"model": "lstm", "fraction": 0.25}) == \
        "LSTM, autoencoder-pretrained (25% of labels)"


@pytest.mark.parametrize("part, extract", [("flow", "--stream flow"), ("crops", "--views oversample"),
                                           ("finetune", "with --layer pool5")])
def test_a_missing_store_is_named_before_any_training(tmp_path, capsys, part, extract):
    toy_store(tmp_path / "split1_train_fc7.h5", "rgb", range(8, 16), seed=0)
    toy_store(tmp_path / "split1_test_fc7.h5", "rgb", range(1, 5), seed=1)
    code = F.main(["--features", str(tmp_path), "--main", str(tmp_path / "m"), "--out",
                   str(tmp_path / "f"), "--parts", part, "--random-weights", "0", "--no-progress"])
    assert code == 1
    assert extract in capsys.readouterr().err
    assert not (tmp_path / "m").exists() or not any((tmp_path / "m").rglob("*.pt"))


def test_a_main_table_of_other_training_settings_is_reused_with_them(folders, capsys):
    """A main table trained with another batch size, momentum, dropout and validation groups
    (options experiment.future does not have): the study takes them from its table.json, so
    that its RGB rows are the main table's runs, read back (nothing trained there again), and
    every part trains like them; the Settings line names them (it leaves out the paper's)."""
    from experiment import train as T
    features, root = folders
    main = root / "main-settings"
    grid = ["--hidden", "8", "--lr", "0.01", "--epochs", "3", "--patience", "0", "--seeds", "2",
            "--no-progress"]
    assert T.main(["--features", str(features), "--out", str(main), *grid, "--batch-size", "8",
                   "--momentum", "0.5", "--dropout", "0.25", "--val-groups", "2"]) == 0
    table = json.loads((main / "table.json").read_text())
    checkpoints = sorted(main.rglob("*.pt"))
    stamps = [path.stat().st_mtime_ns for path in checkpoints]
    assert F.main(["--features", str(features), "--main", str(main), "--out",
                   str(root / "future-settings"), "--parts", "tconv", *grid]) == 0, \
        capsys.readouterr().err
    assert sorted(main.rglob("*.pt")) == checkpoints
    assert [path.stat().st_mtime_ns for path in checkpoints] == stamps
    record = json.loads((root / "future-settings" / "table.json").read_text())
    rgb = [row for row in record["rows"] if row["label"].endswith("(RGB)")][:4]
    assert [[run["test_acc"] for run in row["runs"]] for row in rgb] == \
        [[run["test_acc"] for run in model["runs"]] for model in table["models"]]
    for path in (root / "future-settings" / "tconv").rglob("*.pt"):      # trained like them
        saved = torch.load(path, weights_only=True)["config"]
        assert (saved["batch_size"], saved["momentum"], saved["dropout"]) == (8, 0.5, 0.25)
    settings_line = (root / "future-settings" / "table.md").read_text().splitlines()[-1]
    shown = json.loads(settings_line.removeprefix("Settings: "))
    assert {k: shown[k] for k in ("batch_size", "momentum", "dropout", "val_groups")} == \
        {"batch_size": 8, "momentum": 0.5, "dropout": 0.25, "val_groups": 2}
    assert record["settings"]["batch_size"] == 8


def test_a_main_folder_without_a_main_table_is_refused_before_any_training(folders, tmp_path,
                                                                           capsys):
    """A --main that does not exist (a typo) or holds no table.json: one line saying what to
    run, and nothing trained there (the study once trained a whole main table into it)."""
    features, _ = folders
    (tmp_path / "empty").mkdir()
    for main in (tmp_path / "typo", tmp_path / "empty"):
        code = F.main(["--features", str(features), "--main", str(main), "--out",
                       str(tmp_path / "f"), "--parts", "tconv", "--hidden", "8", "--epochs", "1",
                       "--seeds", "2", "--no-progress"])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 1 and len(err) == 1, err
        assert err[0] == (f"error: --main {main} holds no main table (table.json): train it first "
                          f"(make demo, or python -m experiment.train --features {features} "
                          f"--out {main} --config paper --hidden 8 --lr 0.003 --epochs 1 "
                          f"--patience 0 --seeds 2)")
    assert not (tmp_path / "typo").exists() and not any((tmp_path / "empty").iterdir())
    assert not (tmp_path / "f").exists()           # nor a claimed --out left behind
