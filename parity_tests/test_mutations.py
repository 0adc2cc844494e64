"""The parity check can fail: a wrong sign, swapped gates or a wrong direction is caught.

Each mutation is run on one side only. A parameter mutation is exactly the bug it names run on
the true weights (code computing ``-W_hh h`` is the correct code given ``-W_hh``; code reading
the forget gate's weights for the input gate is the correct code given swapped weights). Code
mutations patch the PyTorch layer itself. Every one must move the results by far more than the
1e-10 tolerance of test_torch_vs_reference.py; we ask for 1e-4.
"""
import pytest
import torch

import rnn_models.layers
import rnn_models.models

from .helpers import (AVG_HALF, EQ_HALF, GRAVES, LASAGNE_GATE, NNTOOLS_2015, NNTOOLS_HALF,
                      TCONV_HALF, Case, max_gap)

DETECTED = 1e-4
GATE_PARAMS = {"i": ("W_xi", "W_hi", "w_ci", "b_i"), "f": ("W_xf", "W_hf", "w_cf", "b_f"),
               "c": ("W_xc", "W_hc", None, "b_c"), "o": ("W_xo", "W_ho_gate", "w_co", "b_o_gate")}


def negate(key):
    def mutate(params):
        return {**params, key: -params[key]}
    mutate.__name__ = f"negate {key}"
    return mutate


def swap_gates(g1, g2, suffix=""):
    """Exchange every parameter of gate g1 with its twin in gate g2 (peepholes only in pairs)."""
    def mutate(params):
        out = dict(params)
        for a, b in zip(GATE_PARAMS[g1], GATE_PARAMS[g2]):
            if a is not None and b is not None:
                out[a + suffix], out[b + suffix] = params[b + suffix], params[a + suffix]
        return out
    mutate.__name__ = f"swap gates {g1},{g2}{suffix}"
    return mutate


def swap_directions(params):
    """The forward branch gets the backward branch's weights and vice versa."""
    flip = {"_f": "_b", "_b": "_f"}
    return {(k[:-2] + flip[k[-2:]] if k[-2:] in flip else k): v for k, v in params.items()}


def flip_kernel(params):
    """W_conv reversed along k: Theano's true convolution (Lasagne's Conv1DLayer) of our kernel."""
    return {**params, "W_conv": params["W_conv"][:, :, ::-1]}


MUTATIONS = {
    "average": [negate("W_ih"), negate("b_h"), negate("W_s")],
    "rnn": [negate("W_hh"), negate("W_ih"), negate("W_ho")],
    "birnn": [negate("W_hh_b"), negate("b_o_f"), swap_directions],
    "rnn2": [negate("W_hh_1"), negate("W_hh_2"), negate("b_h_2")],
    "lstm": [swap_gates("i", "f"), swap_gates("c", "o"), swap_gates("i", "o"), negate("w_co"),
             negate("w_cf")],
    "bilstm": [swap_gates("i", "f", "_b"), swap_gates("f", "o", "_f"), swap_directions],
    # craffel's BiRNN (nntools step, learnt h_init_b): the learnt state and the step's weights
    "birnn_nntools": [negate("h_init_b"), negate("W_hh_b"), negate("b_h_f")],
    "tconv": [negate("W_conv"), negate("b_conv"), flip_kernel],
}

#: The model and options each group of mutations runs on (written out: no default decides).
MUTATION_CASES = {"average": ("average", AVG_HALF), "rnn": ("rnn", EQ_HALF),
                  "birnn": ("birnn", EQ_HALF), "rnn2": ("rnn2", EQ_HALF),
                  "lstm": ("lstm", GRAVES), "bilstm": ("bilstm", LASAGNE_GATE),
                  "birnn_nntools": ("birnn", NNTOOLS_2015), "tconv": ("tconv", TCONV_HALF)}


@pytest.mark.parametrize("group, mutate", [(n, m) for n, ms in MUTATIONS.items() for m in ms],
                         ids=lambda v: getattr(v, "__name__", v))
def test_parameter_mutation_is_caught(group, mutate):
    name, options = MUTATION_CASES[group]
    case = Case(name, options, N=2, T=10, D=7, H=6, C=5, seed=11,
                dropout=0.5 if name == "average" else 0.0)
    gap, where = max_gap(case.torch(), case.reference(mutate(case.params)))
    assert gap > DETECTED, f"{mutate.__name__} went unnoticed (gap {gap:.2g} in {where})"


def test_lasagne_output_gate_differs_from_graves():
    """The 0.1 output-gate bug is a different model, and the check sees it."""
    case = Case("lstm", GRAVES, N=2, T=10, seed=5)
    gap, _ = max_gap(case.torch(lasagne_output_gate=True), case.reference())
    assert gap > DETECTED


@pytest.mark.parametrize("name", ["rnn", "birnn", "rnn2"])
def test_nntools_step_differs_from_the_equation(name):
    """craffel's doubled-ReLU step is another model than the paper's equation: caught."""
    case = Case(name, NNTOOLS_HALF, N=2, T=10, seed=6)
    assert max_gap(case.torch(rnn_step="equation"), case.reference())[0] > DETECTED


def test_ignored_initial_state_is_caught(monkeypatch):
    """Code mutation: the torch layer starts from 0 instead of the learnt h_init."""
    real = rnn_models.models.rnn_layer

    def from_zero(*args, **kwargs):
        return real(*(args[:7]), h_init=None)
    monkeypatch.setattr(rnn_models.models, "rnn_layer", from_zero)
    case = Case("birnn", NNTOOLS_2015, N=2, T=10, seed=8)
    assert max_gap(case.torch(), case.reference())[0] > DETECTED


def test_per_step_loss_differs_from_averaged():
    """The two loss forms are different losses (same p), and the check sees which one ran."""
    averaged = Case("birnn", NNTOOLS_2015, N=3, T=10, seed=9)
    per_step = Case("birnn", NNTOOLS_2015, N=3, T=10, seed=9, loss="per-step")
    gap, where = max_gap(averaged.torch(), per_step.reference())
    assert gap > DETECTED and where != "p"


@pytest.mark.parametrize("name", ["birnn", "bilstm"])
def test_backward_layer_run_forward_is_caught(name, monkeypatch):
    """Code mutation: the torch layers ignore ``reverse`` (the backward branch runs forward)."""
    monkeypatch.setattr(rnn_models.layers, "time_steps", lambda T, reverse: range(T))
    case = Case(name, N=2, T=10, seed=2)
    assert max_gap(case.torch(), case.reference())[0] > DETECTED


@pytest.mark.parametrize("order", [("f", "i", "c", "o"), ("i", "f", "o", "c")])
def test_gate_order_mismatch_is_caught(order, monkeypatch):
    """Code mutation: the torch LSTM stacks its weights in another order than it splits them."""
    monkeypatch.setattr(rnn_models.layers, "GATES", order)
    case = Case("lstm", N=2, T=10, seed=4)
    assert max_gap(case.torch(), case.reference())[0] > DETECTED


@pytest.mark.parametrize("width", [3, 5])
def test_wrong_padding_offset_is_caught(width, monkeypatch):
    """Code mutation: the torch convolution pads one frame too many before the sequence and one
    too few after it: tap k reads x_{t+k-(K-1)/2-1}, the kernel is centred on frame t - 1."""
    real = rnn_models.models.tconv_layer

    def late(x, W_conv, b_conv, relu_grad_at_zero):
        shifted = torch.cat([x.new_zeros(x.shape[0], 1, x.shape[2]), x[:, :-1]], dim=1)
        return real(shifted, W_conv, b_conv, relu_grad_at_zero)
    monkeypatch.setattr(rnn_models.models, "tconv_layer", late)
    case = Case("tconv", {**TCONV_HALF, "width": width}, N=2, T=10, D=7, H=6, C=5, seed=12)
    assert max_gap(case.torch(), case.reference())[0] > DETECTED
