"""Augmentation in training (issue 24): one of caffe.Classifier's ten views per video per epoch,
and the mean of the views at test time (the views and their store:
tests/caffe_extract/test_views.py)."""
from dataclasses import asdict

import numpy as np
import pytest
import torch

from caffe_extract import views as V
from experiment.future import augment
from experiment.train import Data, Protocol, Runtime, RunSettings, Split, train_run


def test_one_view_per_video_per_epoch_is_a_function_of_seed_and_epoch():
    a = augment.draw_views(1000, 10, seed=1, epoch=3)
    np.testing.assert_array_equal(a, augment.draw_views(1000, 10, seed=1, epoch=3))
    assert not torch.equal(a, augment.draw_views(1000, 10, seed=1, epoch=4))
    assert not torch.equal(a, augment.draw_views(1000, 10, seed=2, epoch=3))
    counts = torch.bincount(a, minlength=10)
    assert counts.min() > 70 and counts.max() < 130                   # uniform: 100 +- ~9.5
    x = torch.arange(4 * 10 * 2 * 1, dtype=torch.float32).reshape(4, 10, 2, 1)
    split = augment.ViewSplit(x, torch.zeros(4, dtype=torch.int64))
    v = augment.draw_views(4, 10, 0, 1)
    np.testing.assert_array_equal(split.batch(torch.tensor([2, 0]), 0, 1),
                                  x[[2, 0], v[[2, 0]]])               # (B, T, D): one view each


def tiny_views(seed, n, classes=3, views=10, steps=4, dim=6):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % classes
    x = torch.randn(n, views, steps, dim, generator=g) + 2.0 * torch.nn.functional.one_hot(
        y, dim)[:, None, None, :]
    return Split(x, y)


def test_training_resumes_to_the_same_result(tmp_path):
    """A run stopped after 2 epochs and resumed ends with the uninterrupted run's weights:
    the views drawn depend on (seed, epoch) only."""
    data = tiny_views(0, 12)
    train = augment.ViewSplit(data.x, data.y)
    val = augment.view(tiny_views(1, 6), V.CENTRE)
    config = RunSettings(model="rnn", hidden_dim=5, lr=0.01, epochs=4, patience=0, batch_size=5)
    whole = train_run(config, train, val, 3, str(tmp_path / "whole"), progress=False)
    train_run(RunSettings(**{**asdict(config), "epochs": 2}), train, val, 3,
              str(tmp_path / "cut"), progress=False)
    path = tmp_path / "cut" / "checkpoints" / (config.run_id() + ".pt")
    saved = torch.load(path, weights_only=True)
    assert saved["epoch"] == 2
    saved["config"] = asdict(config)                                  # continue to 4 epochs
    torch.save(saved, path)
    resumed = train_run(config, train, val, 3, str(tmp_path / "cut"), progress=False)
    losses = [r["train_loss"] for r in whole["history"]]
    assert [r["train_loss"] for r in resumed["history"]] == losses and len(set(losses)) == 4
    for k, w in whole["best"]["model"].items():
        assert torch.equal(w, resumed["best"]["model"][k]), k


class Fixed(torch.nn.Module):
    """A model whose time-averaged log-probabilities are given per (first code value)."""

    def __init__(self, table):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))
        self.table = table

    def log_probabilities(self, x):                                   # x (N, T, D)
        return torch.stack([self.table[int(v)] for v in x[:, 0, 0]]).log()


def test_mean_of_ten_views_on_a_hand_made_case():
    """2 videos, 10 views: video 0's views say class 0 with p 0.6 (views 0-3) and class 1 with
    p 0.9 (views 4-9); the mean is p = (4 * 0.6 + 6 * 0.1) / 10 = 0.3 for class 0, so class 1
    wins; its centre view (4) says class 1 as well. Video 1 (label 0): centre view says class 1
    (0.9), the mean says class 0 (0.6 * 9 + 0.1) / 10 = 0.55."""
    table = {0: torch.tensor([0.6, 0.4]), 1: torch.tensor([0.1, 0.9])}
    code = torch.tensor([[0, 0, 0, 0, 1, 1, 1, 1, 1, 1], [0, 0, 0, 0, 1, 0, 0, 0, 0, 0]])
    x = code[:, :, None, None].expand(2, 10, 3, 1).float()            # (N, V, T, D)
    test = Split(x, torch.tensor([1, 0]))
    acc, loss, p = augment.evaluate_views(Fixed(table), test)
    np.testing.assert_allclose(p.numpy(), [[0.3, 0.7], [0.55, 0.45]], rtol=1e-6)
    assert acc == 1.0
    assert loss == pytest.approx(-(np.log(0.7) + np.log(0.55)) / 2, rel=1e-6)
    from experiment.train import evaluate
    centre_acc, _, _ = evaluate(Fixed(table), augment.view(test, V.CENTRE))
    assert centre_acc == 0.5


def crops(model, base, seeds, splits, out, mirrors=True):
    """``run_augmented`` on 3 classes with lr 0.01 and 5 hidden units, quietly."""
    data = Data(*splits, {"classes": ["a", "b", "c"]})
    return augment.run_augmented(model, Protocol(base, (0.01,), (5,), tuple(seeds)), data,
                                 str(out), Runtime("cpu", False), mirrors)


def test_run_augmented_returns_two_results_in_run_model_s_format(tmp_path):
    data = (tiny_views(0, 12), tiny_views(1, 6), tiny_views(2, 6))
    base = RunSettings(epochs=3, patience=0, batch_size=6)
    centre, mean10 = crops("rnn", base, [0, 1], data, tmp_path)
    assert centre["model"] == "rnn+crops (centre)" and mean10["model"] == "rnn+crops (mean of 10)"
    keys = {"seed", "best_epoch", "train_acc", "val_acc", "test_acc", "test_loss", "history",
            "test_predictions", "test_probabilities", "val_probabilities"}
    for result in (centre, mean10):
        assert {"chosen", "search", "runs", "test_acc_mean", "test_acc_std"} <= set(result)
        assert [set(r) for r in result["runs"]] == [keys, keys]
        assert result["runs"][0]["test_probabilities"].shape == (6, 3)
        assert result["runs"][0]["val_probabilities"].shape == (6, 3)     # the record keeps it
    assert centre["runs"][1]["val_acc"] == mean10["runs"][1]["val_acc"]
    assert not np.array_equal(centre["runs"][0]["test_probabilities"],
                              mean10["runs"][0]["test_probabilities"])
    assert (tmp_path / "oversample" / "checkpoints").is_dir()
    with pytest.raises(ValueError, match="views='oversample'"):
        crops("rnn", base, [0], [augment.view(s, 0) for s in data], tmp_path)


def test_without_mirrors_only_the_five_unmirrored_views_are_drawn_and_averaged(tmp_path):
    """Views 5-9 (the mirrors) hold NaN: a run that drew or averaged any of them would stop
    with a non-finite loss or give NaN probabilities."""
    data = [tiny_views(seed, n) for seed, n in ((0, 12), (1, 6), (2, 6))]
    for split in data:
        split.x[:, V.CENTRE + 1:] = float("nan")
    base = RunSettings(epochs=3, patience=0, batch_size=6)
    centre, mean5 = crops("rnn", base, [0], data, tmp_path, mirrors=False)
    assert centre["model"] == "rnn+crops, no mirrors (centre)"
    assert mean5["model"] == "rnn+crops, no mirrors (mean of 5)"
    assert np.isfinite(mean5["runs"][0]["test_probabilities"]).all()
    assert (tmp_path / "oversample-no-mirrors" / "checkpoints").is_dir()


@pytest.mark.parametrize("model", ["rnn", "average"])
def test_a_float16_store_in_memory_trains_as_its_float32_copy(tmp_path, model):
    """A float16 views store stays float16 in memory (half of 21.8 GB at UCF-101's size); each
    minibatch (and the Average model's time mean) is taken in float32, and float16 -> float32
    is exact: the same bits as the store converted to float32 first."""
    half = [tiny_views(seed, n) for seed, n in ((0, 12), (1, 6), (2, 6))]
    half = [Split(s.x.to(torch.float16), s.y) for s in half]
    full = [Split(s.x.to(torch.float32), s.y) for s in half]
    base = RunSettings(epochs=3, patience=0, batch_size=6)
    results = [crops(model, base, [0], data, tmp_path / name)
               for name, data in (("half", half), ("full", full))]
    for a, b in zip(*results):
        assert a["runs"][0]["history"] == b["runs"][0]["history"]
        np.testing.assert_array_equal(a["runs"][0]["test_probabilities"],
                                      b["runs"][0]["test_probabilities"])
