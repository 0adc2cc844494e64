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

The variants of craffel's nntools code at fce361f run as Lasagne 0.1 layers (see
``lasagne_oracle.py``): ``rnn_nntools`` (the doubled-ReLU step, ``rnn_step="nntools"``),
``birnn_learninit`` (a backward layer learning its initial state, ``learn_init=True``, with
``grad/rec_b.hid_init`` recorded) and ``birnn_nntools`` (both).

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
import rnn_models.layers
import rnn_models.models
from rnn_models.lasagne import from_lasagne

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures", "lasagne")
ORACLE_PYTHON = os.path.join(HERE, os.pardir, ".venv-oracle", "bin", "python")
TOLERANCE = 1e-10
DETECTED = 1e-4

RNN_0_1 = {"relu_grad_at_zero": 0.5, "rnn_step": "equation", "learn_init": False}

#: Per oracle model: our model, and the options that compute what Lasagne 0.1 computes
#: (every option written out, so that no default decides a case).
LASAGNE_MODE = {
    "average": ("average", {"relu_grad_at_zero": 0.5}),
    "rnn": ("rnn", RNN_0_1),
    "birnn": ("birnn", RNN_0_1),
    "rnn2": ("rnn2", RNN_0_1),
    "lstm": ("lstm", {"peepholes": True, "lasagne_output_gate": True}),
    "lstm_nopeep": ("lstm", {"peepholes": False, "lasagne_output_gate": False}),
    "bilstm": ("bilstm", {"peepholes": True, "lasagne_output_gate": True}),
    "rnn_nntools": ("rnn", {**RNN_0_1, "rnn_step": "nntools"}),
    "birnn_learninit": ("birnn", {**RNN_0_1, "learn_init": True}),
    "birnn_nntools": ("birnn", {**RNN_0_1, "rnn_step": "nntools", "learn_init": True}),
}


def fixture_names():
    names = sorted(os.path.basename(f)[:-4] for f in glob.glob(os.path.join(FIXTURES, "*.npz")))
    assert len(names) == 30, f"expected 10 models x 3 cases of fixtures in {FIXTURES}, found {names}"
    return names


class Fixture:
    """One recorded oracle run, mapped to our names."""

    def __init__(self, fixture):
        data = np.load(os.path.join(FIXTURES, fixture + ".npz"))
        self.name, self.options = LASAGNE_MODE[fixture.split("-")[0]]
        self.peepholes = self.options.get("peepholes", True)
        self.data = data
        self.lasagne_weights = {k: data[k] for k in data.files if "." in k and "/" not in k}
        self.params = self.map(self.lasagne_weights)
        self.grads = self.map({k[5:]: data[k] for k in data.files if k.startswith("grad/")})
        self.x, self.labels, self.p, self.loss = data["x"], data["labels"], data["p"], data["loss"]
        self.mask = data["dropout_mask"] if "dropout_mask" in data.files else None

    def map(self, values):
        return from_lasagne(self.name, values, self.peepholes, self.options.get("learn_init", False),
                            self.options.get("rnn_step", "equation"))

    def torch_model(self, params=None, **options):
        D, H, C, _ = reference.architecture.infer_dims(self.name, params or self.params)
        options = {**self.options, **options}
        model = rnn_models.build(self.name, D, H, C, **options).double()
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


def test_learnt_initial_state_is_checked():
    """The learnt-init fixtures record d hid_init, non-zero, and it is compared (d h_init_b)."""
    for name in ("birnn_learninit-batch", "birnn_nntools-zeros"):
        f = Fixture(name)
        assert "h_init_b" in f.grads and np.any(f.grads["h_init_b"] != 0)
        gap, where = f.gap(f.torch_result())
        assert gap <= TOLERANCE, (gap, where)
    f = Fixture("birnn_learninit-batch")
    assert np.any(f.params["h_init_b"] != 0)       # a non-zero state, so its value matters
    shifted = dict(f.params, h_init_b=0.0 * f.params["h_init_b"])
    assert f.gap(f.torch_result(shifted))[0] > DETECTED


@pytest.mark.parametrize("fixture", ["rnn_nntools-batch", "birnn_nntools-batch"])
def test_nntools_step_is_not_the_equation(fixture):
    """The doubled-ReLU step Lasagne ran is a different model from the paper's equation."""
    f = Fixture(fixture)
    assert f.gap(f.torch_result(rnn_step="equation"))[0] > DETECTED
    assert f.gap(f.reference_result(rnn_step="equation"))[0] > DETECTED


def flat_nntools_layer(x, W_ih, W_hh, b_h, reverse=False, relu_grad_at_zero=0.0,
                       step="equation", h_init=None):
    """A wrong nntools step: h_t = ReLU(W_ih x_t + b_h) + ReLU(W_hh h_{t-1}), the same values
    as the nested form but without the outer rectify, so without its gradient at 0."""
    relu = rnn_models.layers.relu
    N, T, _ = x.shape
    u = relu(x @ W_ih.T + b_h, relu_grad_at_zero)
    h = x.new_zeros(N, W_hh.shape[0]) if h_init is None else h_init.expand(N, -1)
    hs = [None] * T
    for t in rnn_models.layers.time_steps(T, reverse):
        h = u[:, t] + relu(h @ W_hh.T, relu_grad_at_zero)
        hs[t] = h
    return torch.stack(hs, dim=1)


@pytest.mark.parametrize("fixture", ["rnn_nntools-zeros", "birnn_nntools-zeros"])
def test_nested_rectify_gradient_at_zero_matters(fixture, monkeypatch):
    """At exact zeros (u_t = W_ih x_t + b_h = 0 and W_hh h_{t-1} = 0) Theano's gradient is the
    nested form's (outer rectify 0.5 times inner 0.5): the flat sum is caught."""
    f = Fixture(fixture)
    monkeypatch.setattr(rnn_models.models, "rnn_layer", flat_nntools_layer)
    p, loss, grads = f.torch_result()
    assert np.max(np.abs(p - f.p)) <= TOLERANCE            # the same values ...
    gap, where = f.gap((p, loss, grads))
    assert gap > DETECTED, (gap, where)                     # ... another gradient


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
