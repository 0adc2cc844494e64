"""Unsupervised pretraining (experiment.future.pretrain): label subsets, a bad fraction, the classifier
started from the encoder, the autoencoder's resume, and the learning curve's results format."""
import numpy as np
import pytest
import torch

from experiment.future.pretrain import (PretrainSettings, label_subset, learning_curve,
                                 plot_learning_curve, pretrain)
from experiment.train import checkpoints
from experiment.train import Data, Protocol, Runtime, RunSettings, Split, train_run

CLASSES = {"classes": ["a", "b", "c"]}
QUIET = Runtime("cpu", False)


def tiny_data(seed=0, n_per_class=10, classes=3, T=4, D=6):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(classes).repeat_interleave(n_per_class)
    x = torch.rand(len(y), T, D, generator=g) + y[:, None, None] * 0.5       # (N, T, D)
    return Split(x, y)


def test_label_subset_is_stratified_nested_and_seeded():
    labels = np.repeat(np.arange(4), [30, 30, 7, 1])
    small, large = label_subset(labels, 0.1), label_subset(labels, 0.5)
    assert np.bincount(labels[small]).tolist() == [3, 3, 1, 1]      # ceil(0.1 n_c), >= 1
    assert np.bincount(labels[large]).tolist() == [15, 15, 4, 1]
    assert set(small) <= set(large)
    assert np.array_equal(label_subset(labels, 1.0), np.arange(len(labels)))
    assert not np.array_equal(label_subset(labels, 0.5, seed=1), large)


@pytest.mark.parametrize("fraction", [0, -0.1, 1.5, float("nan"), True, "0.5"])
def test_a_fraction_outside_0_1_is_a_clear_error(fraction, tmp_path):
    with pytest.raises(ValueError, match=r"label fraction must be in \(0, 1\]"):
        label_subset([0, 1], fraction)
    data = Data(tiny_data(), tiny_data(1), tiny_data(2), CLASSES)
    with pytest.raises(ValueError, match="label fraction"):     # before any training
        learning_curve(Protocol(RunSettings(epochs=1), (0.01,), (3,), (0,)), data, tmp_path,
                       QUIET, fractions=(0.5, fraction))
    assert not any(tmp_path.iterdir())


def test_pretraining_takes_the_classifiers_optimiser(tmp_path, monkeypatch):
    """The knob table's "the classifier's optimiser": a main table trained at another batch
    size, momentum and weight decay pretrains its autoencoders with them too (they were
    TRAINING's whatever the classifier's)."""
    import experiment.future.pretrain as P
    seen = []

    def stop(config, *args):
        seen.append(config)
        raise RuntimeError("stop")

    monkeypatch.setattr(P, "pretrain", stop)
    data = Data(tiny_data(), tiny_data(1), tiny_data(2), CLASSES)
    base = RunSettings(epochs=1, batch_size=16, momentum=0.5, weight_decay=1e-4)
    with pytest.raises(RuntimeError, match="stop"):
        learning_curve(Protocol(base, (0.01,), (3,), (0,)), data, tmp_path, QUIET)
    (config,) = seen
    assert (config.batch_size, config.momentum, config.weight_decay) == (16, 0.5, 1e-4)


def test_train_run_starts_from_the_given_weights(tmp_path):
    """lr 0: the best epoch's weights are the initial ones: the encoder's where given, the drawn
    ones elsewhere (equal to a run without ``initial``)."""
    train, val = tiny_data(), tiny_data(1)
    config = RunSettings(model="lstm", hidden_dim=3, lr=0.0, epochs=1, patience=0)
    plain = train_run(config, train, val, 3, tmp_path / "plain", progress=False)["best"]["model"]
    encoder = {"W_xi": torch.full((3, 6), 0.25), "b_o_gate": torch.full((3,), -1.0)}
    started = train_run(config, train, val, 3, tmp_path / "started", progress=False,
                        initial=encoder)["best"]["model"]
    assert torch.equal(started["W_xi"], encoder["W_xi"])
    assert torch.equal(started["b_o_gate"], encoder["b_o_gate"])
    assert all(torch.equal(started[k], plain[k]) for k in plain if k not in encoder)
    with pytest.raises(RuntimeError, match="W_nope"):
        train_run(config, train, val, 3, tmp_path / "bad", progress=False,
                  initial={"W_nope": torch.zeros(1)})


def test_pretraining_resumes_to_the_same_weights(tmp_path):
    train, val = tiny_data(), tiny_data(1)
    config = PretrainSettings(hidden_dim=3, split=2, lr=0.01, epochs=3, batch_size=8)
    whole = pretrain(config, train.x, val.x, tmp_path / "whole", progress=False)
    pretrain(PretrainSettings(**{**config.__dict__, "epochs": 1}), train.x, val.x,
             tmp_path / "cut", progress=False)
    first = tmp_path / "cut" / "checkpoints" / (config.run_id() + ".pt")
    saved = torch.load(first, weights_only=True)
    saved["config"]["epochs"] = 3                  # the same run, stopped after epoch 1
    torch.save(saved, first)
    resumed = pretrain(config, train.x, val.x, tmp_path / "cut", progress=False)
    assert resumed["history"] == whole["history"]
    assert whole["history"][-1]["train_loss"] < whole["history"][0]["train_loss"]
    for name, value in whole["best"]["encoder"].items():
        assert torch.equal(resumed["best"]["encoder"][name], value), name


def test_the_autoencoder_is_saved_after_its_last_epoch_and_when_the_interval_passed(
        tmp_path, monkeypatch):
    import experiment.future.pretrain as P
    train, val = tiny_data(), tiny_data(1)
    config = PretrainSettings(hidden_dim=3, split=2, lr=0.01, epochs=3, batch_size=8)
    saved, real = [], checkpoints.atomic_save
    monkeypatch.setattr(checkpoints, "atomic_save", lambda obj, path: (saved.append(obj["epoch"]),
                                                              real(obj, path)))
    for seconds, epochs in (("1000", [3]), ("0", [1, 2, 3])):
        monkeypatch.setenv("TRAIN_CHECKPOINT_SECONDS", seconds)
        saved.clear()
        pretrain(config, train.x, val.x, tmp_path / seconds, progress=False)
        assert saved == epochs


def test_learning_curve_format_table_and_plot(tmp_path):
    data = Data(tiny_data(n_per_class=8), tiny_data(1), tiny_data(2), CLASSES)
    results = learning_curve(Protocol(RunSettings(epochs=2, patience=0), (0.01,), (3,), (0, 1)),
                             data, tmp_path, QUIET, fractions=(0.25, 1.0),
                             pretraining=PretrainSettings(split=2, epochs=2, lr=0.01))
    assert [(r["fraction"], r["pretrained"]) for r in results] == [
        (0.25, False), (0.25, True), (1.0, False), (1.0, True)]
    for r in results:
        assert {"model", "chosen", "search", "runs", "test_acc_mean", "test_acc_std"} <= set(r)
        assert [run["seed"] for run in r["runs"]] == [0, 1]
        assert r["model"] == "lstm"
    # pretrained runs start elsewhere: their histories differ from the runs from scratch
    assert results[0]["runs"][0]["history"] != results[1]["runs"][0]["history"]
    assert sorted(p.name for p in (tmp_path / "pretrain" / "checkpoints").iterdir()) == [
        "autoencoder-paper-h3-k2-lr0.01-seed0.pt", "autoencoder-paper-h3-k2-lr0.01-seed1.pt"]
    plot_learning_curve(results, tmp_path / "learning_curve.png")
    assert (tmp_path / "learning_curve.png").stat().st_size > 1000
