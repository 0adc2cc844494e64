"""The bad-input corpus, the training's cases (``python -m experiment.train``): HDF5 stores,
stores of two extractions, checkpoints, usage errors, and store contents checked before training
(codes that are not finite, labels and class counts off by one). The outcome is always an error:
one line naming the file and what is wrong (tests/bad_inputs.py)."""
import os
import pickle

import h5py
import numpy as np
import pytest
import torch

from caffe_extract.store import write_store
from experiment import train as T

from ..bad_inputs import ATTRS, lost, one_line_error, run_cli, snapshot, stores, toy_records


# ------------------------------------------------------------------------------ HDF5 stores

def break_h5(path, how):
    if how == "truncated":
        data = path.read_bytes()
        path.write_bytes(data[:len(data) // 2])
    elif how == "not HDF5":
        path.write_bytes(b"random bytes, not HDF5" * 100)
    elif how == "wrong schema":
        path.unlink()
        with h5py.File(path, "w") as f:
            f["x"] = np.zeros(3)
    elif how.startswith("without "):
        with h5py.File(path, "a") as f:
            del f[how.split()[1]]
    elif how == "labels of another length":
        with h5py.File(path, "a") as f:
            del f["labels"]
            f["labels"] = np.zeros(3, np.int64)
    elif how == "float64 features":
        with h5py.File(path, "a") as f:
            data = f["features"][()]
            del f["features"]
            f["features"] = data.astype(np.float64)


STORE_CASES = {   # name -> (what breaks, what the error says)
    "truncated": ("truncated", "not readable as HDF5"),
    "not HDF5": ("not HDF5", "not readable as HDF5"),
    "wrong schema": ("wrong schema", "not a feature store"),
    "missing labels": ("without labels", "no dataset 'labels'"),
    "missing features": ("without features", "no dataset 'features'"),
    "missing classes": ("without classes", "no dataset 'classes'"),
    "rows disagree": ("labels of another length", "labels has 3 rows"),
    "float64 features": ("float64 features", "features must be float32"),
}


@pytest.mark.parametrize("case", sorted(STORE_CASES))
def test_bad_store(tmp_path, capsys, case):
    how, says = STORE_CASES[case]
    stores(tmp_path)
    break_h5(tmp_path / "split1_test_fc7.h5", how)
    code = T.main(["--features", str(tmp_path), "--out", str(tmp_path / "r"), "--no-progress"])
    one_line_error(capsys, code, "split1_test_fc7.h5", says)


MIX_CASES = {   # name -> (train attrs, test attrs, test classes, what the error names)
    "other weights": ({}, {"weights_sha1": "c" * 40}, None, "weights_sha1"),
    "other layer": ({}, {"layer": "fc6"}, None, "layer"),
    "other preprocessing": ({}, {"preprocessing": "q"}, None, "preprocessing"),
    "other sampler": ({}, {"sampler": "t"}, None, "sampler"),
    "other split source": ({}, {"splits_sha1": "d" * 40}, None, "splits_sha1"),
    "other configuration": ({}, {"config": "modern"}, None, "config"),
    "other classes": ({}, {}, ("C0", "C9"), "different classes"),
}


@pytest.mark.parametrize("case", sorted(MIX_CASES))
def test_stores_of_two_extractions_never_mix(tmp_path, capsys, case):
    train_attrs, test_attrs, classes, says = MIX_CASES[case]
    stores(tmp_path, train_attrs, test_attrs, classes or ("C0", "C1"))
    code = T.main(["--features", str(tmp_path), "--out", str(tmp_path / "r"), "--no-progress"])
    one_line_error(capsys, code, "split1_train_fc7.h5", "split1_test_fc7.h5", says)


def test_missing_store_folder(tmp_path, capsys):
    code = run_cli(T.main, ["--features", str(tmp_path / "nowhere"), "--no-progress"])
    one_line_error(capsys, code, "nowhere", "run the extraction first")


# ------------------------------------------------------------------------------ checkpoints

TRAIN = ["--models", "rnn", "--hidden", "4", "--lr", "0.003", "--seeds", "1", "--epochs", "2",
         "--batch-size", "4", "--val-groups", "2", "--no-progress"]


def checkpoint_of(tmp_path):
    stores(tmp_path)
    assert T.main(["--features", str(tmp_path), "--out", str(tmp_path / "r")] + TRAIN) == 0
    (path,) = (tmp_path / "r" / "checkpoints").glob("rnn-*.pt")
    return path


def make_pickle(path):
    torch.save({"model": torch.nn.Linear(2, 2)}, path)          # a module, not plain tensors


CHECKPOINT_CASES = {   # name -> (how the checkpoint is damaged, what the error says)
    "truncated": (lambda p: p.write_bytes(p.read_bytes()[:len(p.read_bytes()) // 2]),
                  "not a readable checkpoint"),
    "random bytes": (lambda p: p.write_bytes(os.urandom(5000)), "not a readable checkpoint"),
    "a pickle that is not a plain state dict": (make_pickle, "not a readable checkpoint"),
    "a plain pickle of a dict": (lambda p: p.write_bytes(pickle.dumps({"epoch": 1})),
                                 "not a readable checkpoint"),
    "a state dict of something else": (lambda p: torch.save({"weights": torch.zeros(2)}, p),
                                       "not a training checkpoint"),
    "another configuration": (lambda p: torch.save({**torch.load(p, weights_only=True),
                                                    "config": {"model": "lstm"}}, p),
                              "written by another configuration"),
    "another model's weights": (lambda p: torch.save({**torch.load(p, weights_only=True),
                                                      "model": {"W_ih": torch.zeros(3, 3)}}, p),
                                "its weights do not fit this run"),
}


def test_a_rerun_on_other_codes_reuses_none_of_the_runs(tmp_path, capsys):
    """The same --out on other codes (other held-out groups; then a store with other codes under
    the same name) is refused, naming the checkpoint, where it once reported the old models;
    a checkpoint written before checkpoints kept their codes' digests is still reused."""
    path = checkpoint_of(tmp_path)
    argv = ["--features", str(tmp_path), "--out", str(tmp_path / "r")] + TRAIN
    capsys.readouterr()
    (tmp_path / "r" / "table.json").unlink()    # the runs alone, as a cluster's tasks leave them
    one_line_error(capsys, T.main(argv + ["--val-groups", "1"]), path.name,
                   "was trained on other codes than these (its train and val set differs")
    write_store(tmp_path / "split1_train_fc7.h5", toy_records(seed=7), [], ["C0", "C1"], ATTRS)
    one_line_error(capsys, T.main(argv), path.name, "other codes", "or train into another folder")
    torch.save({k: v for k, v in torch.load(path, weights_only=True).items() if k != "data"}, path)
    before = path.stat().st_mtime_ns
    assert T.main(argv) == 0 and path.stat().st_mtime_ns == before     # reused, not trained


@pytest.mark.parametrize("case", sorted(CHECKPOINT_CASES))
def test_bad_checkpoint(tmp_path, capsys, case):
    damage, says = CHECKPOINT_CASES[case]
    path = checkpoint_of(tmp_path)
    capsys.readouterr()
    damage(path)
    code = T.main(["--features", str(tmp_path), "--out", str(tmp_path / "r")] + TRAIN)
    one_line_error(capsys, code, path.name, says)


# ------------------------------------------------------------------------- train usage

def test_learning_rates_that_name_the_same_run_are_refused(tmp_path, capsys):
    """A run is named by its learning rate's 6 significant digits (lr0.001): 0.0010000001 would
    share 0.001's checkpoint (once a command that could never finish), so it is refused."""
    stores(tmp_path)
    code = run_cli(T.main, ["--features", str(tmp_path), "--lr", "0.001", "0.0010000001"])
    one_line_error(capsys, code, "argument --lr", "at most 6 significant digits", "0.0010000001")


TRAIN_USAGE_CASES = [(["--splits", "4"], "invalid choice"),   # argv -> what the usage error says
                     (["--config", "2016"], "invalid choice"),
                     (["--models", "cnn"], "invalid choice")]
#: Later: a cluster's options without --stage once trained the whole table.
STAGE_USAGE_CASES = [(["--count"], "--count is for a cluster's job-array tasks: give it with "
                                   "--stage search or --stage seeds"),
                     (["--task", "0"], "--task is for a cluster's job-array tasks")]


@pytest.mark.parametrize("argv, says", TRAIN_USAGE_CASES + STAGE_USAGE_CASES)
def test_train_usage_errors(tmp_path, capsys, argv, says):
    stores(tmp_path)
    try:
        code = T.main(["--features", str(tmp_path), "--out", str(tmp_path / "r"), "--no-progress"] + argv)
    except SystemExit as exit_:
        code = exit_.code
    one_line_error(capsys, code, says)
    assert not (tmp_path / "r").exists()                   # nothing trained


# ------------------------------------- store contents: codes not finite, labels, class counts

def with_membership(folder):
    """A store of all three splits (groups 1-2 test, 3-6 train, in every split)."""
    records = toy_records()
    records["split_membership"] = np.where(records["group"][:, None] <= 2, 2, 1).repeat(3, axis=1)
    write_store(folder / "all_splits_fc7.h5", records, [], ["C0", "C1"], ATTRS)
    return folder / "all_splits_fc7.h5"


def edit_h5(path, **datasets):
    with h5py.File(path, "a") as f:
        for name, change in datasets.items():
            data = change(f[name][()])
            del f[name]
            f.create_dataset(name, data=data, dtype=h5py.string_dtype() if data.dtype == object else None)


def set_rows(rows, value):
    def change(features):
        features[rows] = value
        return features
    return change


def relabel(row, label):
    def change(labels):
        labels[row] = label
        return labels
    return change


CLASSES3 = np.array(["C0", "C1", "C2"], dtype=object)
CONTENT_CASES = {   # name -> (store, its change, extra options, what the error names)
    "NaN codes in one video": ("split1_train_fc7.h5", {"features": set_rows(3, np.nan)}, [],
                               ("features", "not finite", "C1/v_C1_g02_c01.avi")),
    "infinite codes in one video": ("split1_train_fc7.h5", {"features": set_rows(4, -np.inf)}, [],
                                    ("features", "not finite", "C0/v_C0_g03_c01.avi")),
    "NaN codes in the test store": ("split1_test_fc7.h5", {"features": set_rows(0, np.nan)}, [],
                                    ("features", "C0/v_C0_g01_c01.avi")),
    "NaN codes in a store of all splits": ("all", {"features": set_rows(slice(6, 8), np.nan)}, [],
                                           ("features", "2 video(s)", "C0/v_C0_g04_c01.avi")),
    "huge codes (1e30): the loss overflows": ("split1_train_fc7.h5",
                                              {"features": set_rows(slice(None), 1e30)}, [],
                                              ("training loss became nan", "no results written")),
    "labels 1-based": ("split1_train_fc7.h5", {"labels": lambda l: l + 1}, [],
                       ("labels", "C0/v_C0_g01_c01.avi", "its class is C0")),
    "a label one past the last class": ("split1_test_fc7.h5", {"labels": relabel(1, 2)}, [],
                                        ("labels", "C1/v_C1_g01_c01.avi", "outside 0..1")),
    "a negative label": ("split1_train_fc7.h5", {"labels": relabel(2, -1)}, [],
                         ("labels", "C0/v_C0_g02_c01.avi", "outside 0..1")),
    "a label of another class": ("split1_train_fc7.h5", {"labels": relabel(0, 1)}, [],
                                 ("labels", "C0/v_C0_g01_c01.avi", "its class is C0")),
    "one class too many": ("both", {"classes": lambda c: CLASSES3}, [],
                           ("classes", "C2", "has no video")),
    "one class too few": ("both", {"classes": lambda c: c[:1]}, [],
                          ("labels", "C1/v_C1_g01_c01.avi", "outside 0..0")),
    "a class listed twice": ("both", {"classes": lambda c: np.array(["C0", "C0"], dtype=object)}, [],
                             ("classes", "distinct")),
    "split membership out of range": ("all", {"split_membership": lambda m: m + 2 * (m == 2)}, [],
                                      ("split_membership", "C0/v_C0_g01_c01.avi")),
    "--val-groups as many as the groups": ("split1_train_fc7.h5", {}, ["--val-groups", "6"],
                                           ("--val-groups 6", "has 6 groups")),
}


@pytest.mark.parametrize("case", sorted(CONTENT_CASES))
def test_store_contents_checked_before_training(tmp_path, capsys, case):
    """The issue's examples: NaN codes once trained on NaN losses and wrote a table of chance
    accuracies; 1-based labels once ended in `IndexError: Target 2 is out of bounds`."""
    name, changes, extra, says = CONTENT_CASES[case]
    if name == "all":
        paths = [with_membership(tmp_path)]
    else:
        stores(tmp_path)
        paths = [tmp_path / n for n in ("split1_train_fc7.h5", "split1_test_fc7.h5")
                 if name in (n, "both")]
    for path in paths:
        edit_h5(path, **changes)
    out = tmp_path / "r"
    out.mkdir()
    (out / "notes.txt").write_text("an earlier run's notes")
    before = snapshot(out)
    argv = ["--features", str(tmp_path), "--out", str(out)] + TRAIN + extra
    code = run_cli(T.main, argv)
    named = [paths[0].name] if "loss" not in says[0] and "--val" not in says[0] else []
    one_line_error(capsys, code, *named, *says)
    assert not lost(before, out)
    assert not any((out / f).exists() for f in ("table.json", "table.md", "predictions.csv"))


# --------------------------------------- every class in train, validation and test (issue 30)

def held_groups(val_groups=2, groups=range(1, 7)):
    """The groups ``validation_split`` holds out of a train list of ``groups`` (seed 0)."""
    import random
    return set(random.Random(0).sample(sorted(groups), val_groups))


def keep_rows(records, keep):
    """The rows ``keep`` (a boolean mask) of a store's records."""
    return {k: np.asarray(v)[keep] for k, v in records.items()}


def class_only_in(where):
    """A train store whose class C1 has videos only in the held-out groups ("held") or only
    outside them ("kept"); C0 in every group."""
    records = toy_records()
    held = held_groups()
    in_held = np.isin(records["group"], sorted(held))
    c1 = records["labels"] == 1
    return keep_rows(records, ~c1 | (in_held if where == "held" else ~in_held))


HOLD_OUT_CASES = {   # name -> (train records, test records, what the error names)
    "a class only in the held-out groups": (lambda: class_only_in("held"), lambda: toy_records(8, seed=1),
                                            ("class C1", "training set")),
    "a class never in the held-out groups": (lambda: class_only_in("kept"), lambda: toy_records(8, seed=1),
                                             ("class C1", "validation set")),
    "a class missing from the test list": (toy_records, lambda: keep_rows(
        toy_records(8, seed=1), toy_records(8, seed=1)["labels"] == 0), ("class C1", "test list")),
}


@pytest.mark.parametrize("case", sorted(HOLD_OUT_CASES))
def test_every_class_in_train_validation_and_test_after_the_hold_out(tmp_path, capsys, case):
    """A class that vanishes from one side once the validation groups are held out would train,
    select or score without it, silently (it did: the check for empty classes ran before the
    hold-out). Now one line names the class and the set; nothing is written."""
    train, test, says = HOLD_OUT_CASES[case]
    write_store(tmp_path / "split1_train_fc7.h5", train(), [], ["C0", "C1"], ATTRS)
    write_store(tmp_path / "split1_test_fc7.h5", test(), [], ["C0", "C1"], ATTRS)
    out = tmp_path / "r"
    code = run_cli(T.main, ["--features", str(tmp_path), "--out", str(out)] + TRAIN)
    one_line_error(capsys, code, *says)
    assert not (out / "table.json").exists() and not (out / "checkpoints").exists()
