"""Parity with the paper's own stack: Theano 1.0.5 + Lasagne 0.1, recorded as fixtures.

``parity_tests/lasagne_oracle.py`` builds each model from Lasagne 0.1 layers (the paper's code
used craffel's layers, released as Lasagne 0.1) and records, in float64, inputs, weights,
outputs, ``theano.grad`` gradients and two ``nesterov_momentum`` steps into
``fixtures/lasagne/*.npz`` (committed). Here our PyTorch modules and the NumPy reference, in
their Lasagne-compatible modes, must match every recorded number to 1e-10 absolute: ReLU
gradient 0.5 at 0 (``relu_grad_at_zero=0.5``) and Lasagne 0.1's output gate
(``lasagne_output_gate=True``). Theano's float64 sigmoid is exactly 1 above x = 19 (C code) or
30 (Python code, which the oracle runs); these fixtures' gate pre-activations stay within
|x| <= 5.5, so no special mode is needed for it.

Weights are mapped by ``rnn_models.lasagne.from_lasagne``, the same function users call.
"""
import glob
import os
import subprocess

import numpy as np
import pytest
import torch

import reference
import rnn_models
from rnn_models.lasagne import from_lasagne

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures", "lasagne")
ORACLE_PYTHON = os.path.join(HERE, os.pardir, ".venv-oracle", "bin", "python")
TOLERANCE = 1e-10
DETECTED = 1e-4

#: Our options that compute what Lasagne 0.1 computes, per oracle model.
LASAGNE_MODE = {
    "average": {"relu_grad_at_zero": 0.5},
    "rnn": {"relu_grad_at_zero": 0.5},
    "birnn": {"relu_grad_at_zero": 0.5},
    "rnn2": {"relu_grad_at_zero": 0.5},
    "lstm": {"lasagne_output_gate": True},
    "lstm_nopeep": {"peepholes": False},
    "bilstm": {"lasagne_output_gate": True},
}


def fixture_names():
    names = sorted(os.path.basename(f)[:-4] for f in glob.glob(os.path.join(FIXTURES, "*.npz")))
    assert len(names) == 21, f"expected 7 models x 3 cases of fixtures in {FIXTURES}, found {names}"
    return names


class Fixture:
    """One recorded oracle run, mapped to our names."""

    def __init__(self, fixture):
        data = np.load(os.path.join(FIXTURES, fixture + ".npz"))
        model = fixture.split("-")[0]
        self.name = "lstm" if model == "lstm_nopeep" else model
        self.peepholes = model != "lstm_nopeep"
        self.options = LASAGNE_MODE[model]
        self.data = data
        self.lasagne_weights = {k: data[k] for k in data.files if "." in k and "/" not in k}
        self.params = self.map(self.lasagne_weights)
        self.grads = self.map({k[5:]: data[k] for k in data.files if k.startswith("grad/")})
        self.x, self.labels, self.p, self.loss = data["x"], data["labels"], data["p"], data["loss"]
        self.mask = data["dropout_mask"] if "dropout_mask" in data.files else None

    def map(self, values):
        return from_lasagne(self.name, values, self.peepholes)

    def torch_model(self, params=None, **options):
        D, H, C, _ = reference.architecture.infer_dims(self.name, params or self.params)
        model = rnn_models.build(self.name, D, H, C, **{**self.options, **options}).double()
        model.load_state_dict({k: torch.from_numpy(v) for k, v in (params or self.params).items()})
        return model

    def torch_loss(self, model):
        x = torch.from_numpy(self.x)
        p = model(x, dropout_mask=torch.from_numpy(self.mask)) if self.mask is not None else model(x)
        return p, -torch.log(p[torch.arange(len(self.labels)), torch.from_numpy(self.labels)]).mean()

    def torch_result(self, params=None, **options):
        model = self.torch_model(params, **options)
        p, loss = self.torch_loss(model)
        loss.backward()
        return p.detach().numpy(), loss.item(), {k: v.grad.numpy() for k, v in model.named_parameters()}

    def reference_result(self, params=None, **options):
        p, cache = reference.forward(self.name, params or self.params, self.x,
                                     dropout_mask=self.mask, **{**self.options, **options})
        loss, grads = reference.backward(cache, self.labels)
        return p, loss, grads

    def gap(self, result):
        p, loss, grads = result
        gaps = {"p": np.max(np.abs(p - self.p)), "loss": abs(loss - self.loss)}
        gaps.update({"d" + k: np.max(np.abs(grads[k] - self.grads[k])) for k in self.grads})
        worst = max(gaps, key=gaps.get)
        return float(gaps[worst]), worst


@pytest.mark.parametrize("fixture", fixture_names())
@pytest.mark.parametrize("side", ["torch", "reference"])
def test_matches_lasagne(fixture, side):
    f = Fixture(fixture)
    gap, where = f.gap(f.torch_result() if side == "torch" else f.reference_result())
    assert gap <= TOLERANCE, f"{side} differs from Lasagne 0.1 by {gap:.3g} in {where}"


@pytest.mark.parametrize("fixture", [n for n in fixture_names() if not n.startswith("average")])
def test_two_nesterov_steps_match_lasagne_updates(fixture):
    """lasagne.updates.nesterov_momentum == torch.optim.SGD(momentum, nesterov=True)."""
    f = Fixture(fixture)
    model = f.torch_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=float(f.data["lr"]),
                                momentum=float(f.data["momentum"]), nesterov=True)
    for _ in range(2):
        optimizer.zero_grad()
        f.torch_loss(model)[1].backward()
        optimizer.step()
    expected = f.map({k[6:]: f.data[k] for k in f.data.files if k.startswith("step2/")})
    for key, value in model.state_dict().items():
        gap = np.max(np.abs(value.numpy() - expected[key]))
        assert gap <= TOLERANCE, f"{key} after two steps differs by {gap:.3g}"
    moved = max(np.max(np.abs(expected[k] - f.params[k])) for k in expected)
    assert moved > 1e-3  # the steps did something


def test_fixed_output_gate_is_not_lasagne_0_1():
    """Graves' output gate (our default) is a different model from the one the paper ran."""
    f = Fixture("lstm-batch")
    assert f.gap(f.torch_result(lasagne_output_gate=False))[0] > DETECTED
    assert f.gap(f.reference_result(lasagne_output_gate=False))[0] > DETECTED


@pytest.mark.parametrize("fixture", ["rnn-zeros", "birnn-zeros", "rnn2-zeros"])
def test_relu_gradient_at_zero_matters(fixture):
    """With exact-zero pre-activations, torch.relu's convention differs from rectify's."""
    f = Fixture(fixture)
    gap, where = f.gap(f.torch_result(relu_grad_at_zero=0.0))
    assert gap > DETECTED and where.startswith("db_h"), (gap, where)


def test_transposed_recurrent_weights_are_detected():
    f = Fixture("rnn-batch")
    wrong = dict(f.params, W_hh=f.params["W_hh"].T)
    assert f.gap(f.torch_result(wrong))[0] > DETECTED


def test_swapped_gate_mapping_is_detected():
    f = Fixture("lstm-batch")
    weights = dict(f.lasagne_weights)
    for part in ("W_in_to_", "W_hid_to_", "b_", "W_cell_to_"):
        a, b = f"lstm.{part}ingate", f"lstm.{part}forgetgate"
        weights[a], weights[b] = weights[b], weights[a]
    assert f.gap(f.torch_result(f.map(weights)))[0] > DETECTED


def test_mapping_is_strict():
    f = Fixture("lstm-batch")
    with pytest.raises(ValueError, match="missing .*lstm.W_cell_to_outgate"):
        from_lasagne("lstm", {k: v for k, v in f.lasagne_weights.items()
                              if k != "lstm.W_cell_to_outgate"})
    with pytest.raises(ValueError, match="unused .*lstm.W_cell_to_ingate"):
        from_lasagne("lstm", f.lasagne_weights, peepholes=False)
    with pytest.raises(ValueError, match="hid_init is not zero"):
        from_lasagne("lstm", dict(f.lasagne_weights, **{"lstm.hid_init": np.ones((1, 5))}))
    with pytest.raises(ValueError, match="do not fit"):
        from_lasagne("lstm", dict(f.lasagne_weights, **{"out.W": np.ones((4, 5))}))


def test_to_lasagne_inverts_from_lasagne():
    from rnn_models.lasagne import to_lasagne
    f = Fixture("bilstm-batch")
    back = to_lasagne("bilstm", f.params)
    assert set(back) == {k for k in f.lasagne_weights if not k.endswith("_init")}
    assert all(np.array_equal(back[k], f.lasagne_weights[k]) for k in back)


@pytest.mark.skipif(not os.path.exists(ORACLE_PYTHON),
                    reason="the Python 3.7 oracle venv is not built: run `make oracle` to "
                           "regenerate the Lasagne fixtures and check them")
def test_fixtures_regenerate_identically(tmp_path):
    """Rerun Theano/Lasagne now: the committed fixtures are exactly what they compute."""
    subprocess.run([ORACLE_PYTHON, os.path.join(HERE, "lasagne_oracle.py"), str(tmp_path)],
                   check=True, capture_output=True, timeout=600)
    for name in fixture_names():
        old, new = np.load(os.path.join(FIXTURES, name + ".npz")), np.load(tmp_path / (name + ".npz"))
        assert old.files == new.files, name
        for key in old.files:
            assert np.array_equal(old[key], new[key]), f"{name}: {key} changed"
