"""Training and evaluation through CUDA graphs (``experiment.train.graphs``) give the eager
path's bits: weights, momentum, history, chosen epoch and probabilities, for every model, after
a resume too. The CUDA cases need a GPU (`make gpu-check`); here they are skipped, loudly."""
import numpy as np
import pytest
import torch

from conftest import NO_CUDA
from experiment import train as T
from experiment.train import graphs
from experiment.train.classification import Classification, classifier
from rnn_models import MODELS

from .test_train import N_CLASSES

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason=NO_CUDA)


def toy_split(n, seed, d=32, t=10, device="cuda"):
    """Codes in which the class shows as a shifted mean: ``n`` videos (N, T, D)."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % N_CLASSES
    x = torch.rand(n, t, d, generator=g) + y[:, None, None] * 0.5
    return T.Split(x.to(device), y.to(device))


def train(tmp_path, model, switch, monkeypatch, epochs=3, d=32, hidden=16, stop_after=None):
    """``fit``'s record and the model's final state for ``model`` on toy codes: 76 training
    videos in minibatches of 16 (three warm-up steps, a capture and replays, and a last
    minibatch of 12, eager), 40 validation videos; graphs on or off (``switch``)."""
    monkeypatch.setenv(graphs.SWITCH, switch)
    T.set_deterministic("cuda")
    data = toy_split(76, seed=1, d=d), toy_split(40, seed=2, d=d)
    config = T.model_base(model, T.RunSettings(model=model, hidden_dim=hidden, lr=0.01,
                                               epochs=epochs, batch_size=16, patience=0))
    objective = Classification(config.loss, config.model) if stop_after is None else \
        Stopping(config.loss, config.model, stop_after)
    final = {}

    def make(settings, device):
        net, optimizer = classifier(d, N_CLASSES)(settings, device)
        final.update(net=net, optimizer=optimizer)
        return net, optimizer
    record = T.fit(config, make, data, str(tmp_path), objective, progress=False, device="cuda")
    return record, final


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


def assert_same_run(a, b):
    (record_a, final_a), (record_b, final_b) = a, b
    assert record_a["history"] == record_b["history"]
    assert record_a["best"]["epoch"] == record_b["best"]["epoch"]
    assert torch.equal(record_a["best"]["val_probabilities"], record_b["best"]["val_probabilities"])
    for name, value in final_a["net"].state_dict().items():
        assert torch.equal(value, final_b["net"].state_dict()[name]), name
    momentum = [s["momentum_buffer"] for s in final_a["optimizer"].state.values()]
    assert all(torch.equal(m, s["momentum_buffer"]) for m, s in
               zip(momentum, final_b["optimizer"].state.values()))


@cuda
@pytest.mark.parametrize("model", MODELS)
def test_graphs_give_the_eager_bits(tmp_path, monkeypatch, model):
    """Three epochs of every model (the Average with dropout: the CUDA generator as eager)."""
    eager = train(tmp_path / "eager", model, "0", monkeypatch)
    captured = train(tmp_path / "graphs", model, "1", monkeypatch)
    assert_same_run(eager, captured)


@cuda
def test_graphs_at_ucf101_width_give_the_eager_bits(tmp_path, monkeypatch):
    """fc7's 4,096 inputs and the paper's 512 hidden units, one epoch of the LSTM."""
    runs = [train(tmp_path / s, "lstm", s, monkeypatch, epochs=1, d=4096, hidden=512)
            for s in ("0", "1")]
    assert_same_run(*runs)


@cuda
def test_a_run_resumed_after_capture_gives_the_eager_bits(tmp_path, monkeypatch):
    """Killed after two epochs (a graph captured), resumed with a new capture to four."""
    monkeypatch.setenv("TRAIN_CHECKPOINT_SECONDS", "0")
    with pytest.raises(KeyboardInterrupt):
        train(tmp_path / "graphs", "birnn", "1", monkeypatch, epochs=4, stop_after=2)
    resumed = train(tmp_path / "graphs", "birnn", "1", monkeypatch, epochs=4)
    assert resumed[0]["history"][0]["epoch"] == 1 and len(resumed[0]["history"]) == 4
    assert_same_run(train(tmp_path / "eager", "birnn", "0", monkeypatch, epochs=4), resumed)


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
