"""Training and evaluation through CUDA graphs (``experiment.train.graphs``) give the eager
path's bits: weights, momentum, history, chosen epoch and probabilities, for every model, after
a resume too. The CUDA cases need a GPU (`make gpu-check`); here they are skipped, loudly."""
from dataclasses import asdict, replace

import numpy as np
import pytest
import torch

from conftest import NO_CUDA
from experiment import train as T
from experiment.train import graphs
from experiment.train.classification import Classification, classifier
from rnn_models import MODELS, build

from .test_train import N_CLASSES

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason=NO_CUDA)


def toy_split(n, seed, d=32, t=10, device="cuda"):
    """Codes in which the class shows as a shifted mean: ``n`` videos (N, T, D)."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % N_CLASSES
    x = torch.rand(n, t, d, generator=g) + y[:, None, None] * 0.5
    return T.Split(x.to(device), y.to(device))


def train(tmp_path, monkeypatch, switch, config, make, d=32, n_val=1100, stop_after=None):
    """(``fit``'s record, the model and optimiser at the end, the graphs captured) of run
    ``config`` on toy codes, graphs on or off (``switch``): 76 training videos in minibatches
    of 16 (three warm-up steps, a capture and replays, and a last minibatch of 12, eager) and
    ``n_val`` validation videos (1100: evaluation's minibatches of 256 are captured too)."""
    monkeypatch.setenv(graphs.SWITCH, switch)
    captures = []
    capture = graphs.Captured.capture
    monkeypatch.setattr(graphs.Captured, "capture",
                        lambda self, inputs: (captures.append(1), capture(self, inputs)))
    T.set_deterministic("cuda")
    data = toy_split(76, seed=1, d=d), toy_split(n_val, seed=2, d=d)
    objective = Classification(config.loss, config.model) if stop_after is None else \
        Stopping(config.loss, config.model, stop_after)
    final = {}

    def keeping(settings, device):
        final["net"], final["optimizer"] = make(settings, device)
        return final["net"], final["optimizer"]
    record = T.fit(config, keeping, data, str(tmp_path), objective, progress=False, device="cuda")
    return record, final, len(captures)


def settings(model, loss="averaged", epochs=3, hidden=16):
    config = T.model_base(model, T.RunSettings(model=model, hidden_dim=hidden, lr=0.01,
                                               epochs=epochs, batch_size=16, patience=0))
    return replace(config, loss=loss)


class Stopping(Classification):
    """A run killed after ``stop_after`` epochs' checkpoints (``KeyboardInterrupt``)."""

    def __init__(self, form, model, stop_after):
        super().__init__(form, model)
        self.epochs, self.stop_after = 0, stop_after

    def validate(self, model, val, forward=None):
        self.epochs += 1
        if self.epochs > self.stop_after:
            raise KeyboardInterrupt
        return super().validate(model, val, forward)


def assert_same_run(eager, captured, graphs_captured=2):
    """The same history, chosen epoch, probabilities, weights and momentum; the eager run
    captured nothing, the other ``graphs_captured`` graphs (training step, evaluation)."""
    (record_a, final_a, n_a), (record_b, final_b, n_b) = eager, captured
    assert (n_a, n_b) == (0, graphs_captured)
    assert record_a["history"] == record_b["history"]
    assert record_a["best"]["epoch"] == record_b["best"]["epoch"]
    assert torch.equal(record_a["best"]["val_probabilities"], record_b["best"]["val_probabilities"])
    for name, value in final_a["net"].state_dict().items():
        assert torch.equal(value, final_b["net"].state_dict()[name]), name
    momentum_a, momentum_b = ([s["momentum_buffer"] for s in final["optimizer"].state.values()]
                              for final in (final_a, final_b))
    assert len(momentum_a) == len(momentum_b) == len(list(final_a["net"].parameters()))
    assert all(torch.equal(a, b) for a, b in zip(momentum_a, momentum_b))


@cuda
@pytest.mark.parametrize("loss", ["averaged", "per-step"])
@pytest.mark.parametrize("model", MODELS)
def test_graphs_give_the_eager_bits(tmp_path, monkeypatch, model, loss):
    """Three epochs of every model with both losses (the Average with dropout: the CUDA
    generator as eager)."""
    config, make = settings(model, loss), classifier(32, N_CLASSES)
    assert_same_run(*(train(tmp_path / s, monkeypatch, s, config, make) for s in ("0", "1")))


@cuda
def test_graphs_at_ucf101_width_give_the_eager_bits(tmp_path, monkeypatch):
    """fc7's 4,096 inputs and the paper's 512 hidden units, two epochs of the LSTM."""
    config, make = settings("lstm", epochs=2, hidden=512), classifier(4096, N_CLASSES)
    assert_same_run(*(train(tmp_path / s, monkeypatch, s, config, make, d=4096)
                      for s in ("0", "1")))


@cuda
@pytest.mark.parametrize("model", ["average", "birnn"])
def test_a_run_resumed_after_capture_gives_the_eager_bits(tmp_path, monkeypatch, model):
    """Killed after two epochs (graphs captured), resumed to four with new captures: the CUDA
    generator restored before them (the Average's dropout) and the momentum."""
    monkeypatch.setenv("TRAIN_CHECKPOINT_SECONDS", "0")
    config, make = settings(model, epochs=4), classifier(32, N_CLASSES)
    with pytest.raises(KeyboardInterrupt):
        train(tmp_path / "graphs", monkeypatch, "1", config, make, stop_after=2)
    resumed = train(tmp_path / "graphs", monkeypatch, "1", config, make)
    assert [row["epoch"] for row in resumed[0]["history"]] == [1, 2, 3, 4]
    assert_same_run(train(tmp_path / "eager", monkeypatch, "0", config, make), resumed)


@cuda
def test_fine_tuning_through_graphs_gives_the_eager_bits(tmp_path, monkeypatch):
    """CaffeNet's fc6/fc7 (dropout, their own learning rate) under a BiRNN, on pool5 codes."""
    from caffe_extract.random_model import cached_random_caffemodel
    from experiment.future import finetune as FT
    head = settings("birnn", epochs=2)
    config = FT.FineTuneSettings(**asdict(head))
    fc = FT.caffenet_fc(cached_random_caffemodel(seed=0))
    state = build("birnn", 4096, 16, N_CLASSES, **T.model_options(head)).state_dict()

    def make(config, device):
        return FT.finetuned(config, state, fc, N_CLASSES, device)
    assert_same_run(*(train(tmp_path / s, monkeypatch, s, config, make, d=9216, n_val=40)
                      for s in ("0", "1")), graphs_captured=1)


@cuda
def test_a_captured_evaluation_gives_the_eager_bits(monkeypatch):
    """``evaluate`` through ``evaluation_forward``: 5 minibatches of 8 (3 warm-up, a capture
    and a replay) and a last of 3; the same accuracy, loss and probabilities."""
    T.set_deterministic("cuda")
    torch.manual_seed(0)
    net = classifier(32, N_CLASSES)(T.RunSettings(model="rnn", hidden_dim=16), "cuda")[0]
    split = toy_split(43, seed=3)
    eager = T.evaluate(net, split, batch_size=8)
    monkeypatch.setenv(graphs.SWITCH, "1")
    captured = T.evaluate(net, split, batch_size=8, forward=graphs.evaluation_forward(net, "cuda"))
    assert eager[:2] == captured[:2] and torch.equal(eager[2], captured[2])


def test_graphs_only_where_switched_on_and_on_a_gpu(monkeypatch):
    """Off by default and on the CPU (where the step is the eager one, as written)."""
    monkeypatch.delenv(graphs.SWITCH, raising=False)
    assert not graphs.wanted("cuda") and not graphs.wanted("cuda:1")
    monkeypatch.setenv(graphs.SWITCH, "1")
    assert graphs.wanted("cuda:1") and not graphs.wanted("cpu")
    net, optimizer = classifier(32, N_CLASSES)(T.RunSettings(model="rnn", hidden_dim=4), "cpu")
    step, forward = graphs.passes(net, optimizer, Classification(), "cpu")
    assert forward is None and step.__qualname__.startswith("eager_step")


def test_a_non_finite_loss_updates_nothing():
    """The eager step leaves weights and momentum as they were when the loss is not finite
    (``fit`` then stops: NonFiniteLoss); a finite one updates them."""
    net = torch.nn.Linear(3, 2)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    before = [p.detach().clone() for p in net.parameters()]

    def terms(model, x, y):
        return model(x).sum() * y, None
    step = graphs.eager_step(net, optimizer, terms)
    loss, _, finite = step(torch.ones(1, 3), torch.tensor(float("inf")))
    assert not finite and not optimizer.state
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters()))
    assert step(torch.ones(1, 3), torch.tensor(1.0))[2]
    assert not all(torch.equal(a, b) for a, b in zip(before, net.parameters()))
    assert np.isinf(float(loss.detach()))
