"""ReLU's derivative at exactly 0: 0 by default (as torch.relu), 0.5 as Lasagne's rectify.

With h_0 = 0, b_h = 0 and an all-zero input frame the pre-activation is exactly 0, so the
convention decides dL/db_h. This happens in practice: post-ReLU FC7 codes contain zeros, and
Lasagne initialises biases to 0.
"""
import numpy as np
import pytest

from .helpers import Case, max_gap


def zero_preactivation_case(name, **options):
    case = Case(name, options, N=2, T=1, D=5, H=4, C=3, seed=1)
    case.x[:] = 0.0
    for key in case.params:
        if key.startswith("b_h"):
            case.params[key][:] = 0.0
    return case


@pytest.mark.parametrize("name", ["average", "rnn", "birnn"])
def test_default_gradient_at_zero_is_zero(name):
    case = zero_preactivation_case(name)
    for _, _, grads in (case.reference(), case.torch()):
        for key in grads:
            if key.startswith("b_h"):
                assert np.all(grads[key] == 0.0), key


@pytest.mark.parametrize("name", ["average", "rnn", "birnn"])
def test_lasagne_gradient_at_zero_is_half(name):
    case = zero_preactivation_case(name, relu_grad_at_zero=0.5)
    ref, tor = case.reference(), case.torch()
    assert max_gap(ref, tor)[0] <= 1e-12
    # dL/db_h = 0.5 * dL/dh: compare with the same problem shifted off the kink (b_h = +tiny)
    shifted = zero_preactivation_case(name)
    for key in shifted.params:
        if key.startswith("b_h"):
            shifted.params[key][:] = 1e-12
    _, _, grads_above = shifted.reference()
    for key in ref[2]:
        if key.startswith("b_h"):
            np.testing.assert_allclose(ref[2][key], 0.5 * grads_above[key], rtol=1e-9, atol=0)
            assert np.any(ref[2][key] != 0.0)


def test_mismatched_convention_is_caught():
    case = zero_preactivation_case("rnn", relu_grad_at_zero=0.5)
    assert max_gap(case.torch(relu_grad_at_zero=0.0), case.reference())[0] > 1e-4
