"""The reference's hand-derived gradients equal central finite differences (relative error < 1e-7).

Relative error per parameter array, max|analytic - numeric| / (max|analytic| + max|numeric|)
(``gradcheck.rel_error``); steps h = 1e-5 in float64, where truncation (O(h^2)) and
rounding (O(eps/h)) errors are both near 1e-10. Measured worst case on these problems: ~1e-8.
"""
import numpy as np
import pytest

from reference import layers as L

from .gradcheck import numerical_gradient, rel_error
from .helpers import CONFIGS, EQ0, LOSS_CONFIGS, NNTOOLS_2015, Case, config_id

TOLERANCE = 1e-7

SHAPES = [  # (N, T): one video one frame, one video ten frames, a batch of ten-frame videos
    (1, 1), (1, 10), (3, 10),
]


def gradcheck_errors(case):
    """rel_error of every analytic gradient of ``case`` against finite differences."""
    _, _, grads = case.reference()
    return {k: rel_error(grads[k], numerical_gradient(case.reference_loss, case.params[k]))
            for k in grads}


@pytest.mark.parametrize("config", CONFIGS, ids=config_id)
@pytest.mark.parametrize("N, T", SHAPES)
def test_backward_matches_finite_differences(config, N, T):
    name, options, dropout = config
    case = Case(name, options, N=N, T=T, D=4, H=3, C=3, seed=7 * N + T, dropout=dropout)
    errors = gradcheck_errors(case)
    worst = max(errors, key=errors.get)
    assert errors[worst] < TOLERANCE, f"d{worst}: relative error {errors[worst]:.2e}"


@pytest.mark.parametrize("config", LOSS_CONFIGS, ids=config_id)
@pytest.mark.parametrize("N, T", [(1, 1), (3, 10)])
def test_per_step_loss_backward_matches_finite_differences(config, N, T):
    """The per-step loss, L = -(1/(N T)) sum_n sum_t log P_t[n, label_n], hand-derived."""
    name, options, dropout = config
    case = Case(name, options, N=N, T=T, D=4, H=3, C=3, seed=5 * N + T, dropout=dropout,
                loss="per-step")
    errors = gradcheck_errors(case)
    worst = max(errors, key=errors.get)
    assert errors[worst] < TOLERANCE, f"d{worst}: relative error {errors[worst]:.2e}"


@pytest.mark.parametrize("name", ["average", "rnn", "birnn", "rnn2"])
def test_backward_with_dead_relu_units(name):
    """Half the hidden units get a bias of -100: dead at every step, zero gradient through them."""
    case = Case(name, {"relu_grad_at_zero": 0.0} if name == "average" else EQ0, N=3, T=10, D=4, H=4, C=3, seed=3)
    for key in case.params:
        if key.startswith("b_h"):
            case.params[key][:2] = -100.0
    _, _, grads = case.reference()
    W_in = "W_ih_1" if name == "rnn2" else ("W_ih_f" if name == "birnn" else "W_ih")
    assert np.all(grads[W_in][:2] == 0.0) and np.any(grads[W_in][2:] != 0.0)
    errors = gradcheck_errors(case)
    assert max(errors.values()) < TOLERANCE, errors


def test_gradcheck_catches_truncated_bptt(monkeypatch):
    """A backward that drops the gradient flowing into h_{t-1} must fail the check."""
    real = L.rnn_step_backward

    def truncated(dh, cache):
        dx, dh_prev, *rest = real(dh, cache)
        return (dx, 0.0 * dh_prev, *rest)

    monkeypatch.setattr(L, "rnn_step_backward", truncated)
    errors = gradcheck_errors(Case("rnn", EQ0, N=2, T=5, D=4, H=3, C=3))
    assert errors["W_hh"] > 1e-2


def test_gradcheck_catches_a_lost_initial_state_gradient(monkeypatch):
    """A backward that returns no gradient for the learnt h_init must fail the check."""
    real = L.rnn_backward

    def no_dh_init(dh, cache):
        *rest, dh_init = real(dh, cache)
        return (*rest, 0.0 * dh_init)

    monkeypatch.setattr(L, "rnn_backward", no_dh_init)
    errors = gradcheck_errors(Case("birnn", NNTOOLS_2015, N=2, T=5, D=4, H=3, C=3))
    assert errors["h_init_b"] == 1.0   # nothing right: analytic all 0, numeric not


def test_gradcheck_catches_the_flat_nntools_gradient(monkeypatch):
    """An nntools backward that skips the inner rectifies (uses dz for du and dv) fails."""
    real = L.rnn_step_backward

    def flat(dh, cache):
        x, h_prev, W_ih, W_hh, step, relu_cache = cache
        dz = L.relu_backward(dh, relu_cache[2])
        return dz @ W_ih, dz @ W_hh, dz.T @ x, dz.T @ h_prev, dz.sum(axis=0)

    monkeypatch.setattr(L, "rnn_step_backward", flat)
    errors = gradcheck_errors(Case("rnn", {**EQ0, "rnn_step": "nntools"}, N=2, T=5, D=4, H=3, C=3))
    assert max(errors.values()) > 1e-2


def test_gradcheck_catches_a_dropped_cell_path(monkeypatch):
    """An LSTM backward that drops dL/dc_{t-1} (the constant error carousel) must fail the check."""
    real = L.lstm_step_backward

    def no_carousel(dh, dc, cache):
        dx, dh_prev, dc_prev, dp = real(dh, dc, cache)
        return dx, dh_prev, 0.0 * dc_prev, dp

    monkeypatch.setattr(L, "lstm_step_backward", no_carousel)
    errors = gradcheck_errors(Case("lstm", N=2, T=5, D=4, H=3, C=3))
    assert errors["W_xc"] > 1e-2
