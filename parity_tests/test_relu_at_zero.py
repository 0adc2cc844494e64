"""ReLU's derivative at exactly 0: 0 as torch.relu, 0.5 as Lasagne's rectify (the default,
``relu_grad_at_zero=0.5``, the ``paper`` configuration's).

With h_0 = 0, b_h = 0 and an all-zero input frame the pre-activation is exactly 0, so the
convention decides dL/db_h (in the temporal convolution z_t = b_conv = 0: dL/db_conv). This
happens in practice: post-ReLU FC7 codes contain zeros, and Lasagne initialises biases to 0.
Central finite differences across the kink see the mean of the two slopes, 0.5: the equation
step with rectify's convention equals them there, while craffel's nested nntools step,
ReLU(ReLU(u) + ReLU(v)), has 0.5 x 0.5 = 0.25 where u = v = 0.
"""
import numpy as np
import pytest

from .gradcheck import numerical_gradient, rel_error
from .helpers import Case, max_gap

#: Every option written out, except relu_grad_at_zero (and rnn_step), which the tests set.
BASE = {"average": {}, "rnn": {"rnn_step": "equation", "learn_init": False},
        "birnn": {"rnn_step": "equation", "learn_init": False}, "tconv": {"width": 3}}
#: The biases inside the ReLU.
HIDDEN_BIASES = ("b_h", "b_conv")


def zero_preactivation_case(name, **options):
    case = Case(name, {**BASE[name], **options}, N=2, T=1, D=5, H=4, C=3, seed=1)
    case.x[:] = 0.0
    for key in case.params:
        if key.startswith(HIDDEN_BIASES):
            case.params[key][:] = 0.0
    return case


@pytest.mark.parametrize("name", ["average", "rnn", "birnn", "tconv"])
def test_torch_relu_gradient_at_zero_is_zero(name):
    case = zero_preactivation_case(name, relu_grad_at_zero=0.0)
    for _, _, grads in (case.reference(), case.torch()):
        for key in grads:
            if key.startswith(HIDDEN_BIASES):
                assert np.all(grads[key] == 0.0), key


@pytest.mark.parametrize("name", ["average", "rnn", "birnn", "tconv"])
def test_lasagne_gradient_at_zero_is_half(name):
    case = zero_preactivation_case(name, relu_grad_at_zero=0.5)
    ref, tor = case.reference(), case.torch()
    assert max_gap(ref, tor)[0] <= 1e-12
    # dL/db_h = 0.5 * dL/dh: compare with the same problem shifted off the kink (b_h = +tiny)
    shifted = zero_preactivation_case(name, relu_grad_at_zero=0.0)
    for key in shifted.params:
        if key.startswith(HIDDEN_BIASES):
            shifted.params[key][:] = 1e-12
    _, _, grads_above = shifted.reference()
    for key in ref[2]:
        if key.startswith(HIDDEN_BIASES):
            np.testing.assert_allclose(ref[2][key], 0.5 * grads_above[key], rtol=1e-9, atol=0)
            assert np.any(ref[2][key] != 0.0)


def test_mismatched_convention_is_caught():
    case = zero_preactivation_case("rnn", relu_grad_at_zero=0.5)
    assert max_gap(case.torch(relu_grad_at_zero=0.0), case.reference())[0] > 1e-4


@pytest.mark.parametrize("step, ratio", [("equation", 1.0), ("nntools", 0.5)])
def test_gradient_at_zero_against_finite_differences(step, ratio):
    """At u = W_ih x + b_h = 0 and v = W_hh h_0 = 0 (T = 1, x = 0, b_h = 0): central differences
    give dL/db_h = 0.5 dL/dh. The equation step (rectify) equals them; the nntools step is
    ReLU(ReLU(u) + ReLU(v)), whose rectify gradient is 0.5 x 0.5, half of them.
    Across a kink the central difference's truncation error is O(h), not O(h^2): step
    h = 1e-7 (measured relative error 6.8e-9; rounding ~eps/h ~ 1e-9)."""
    case = zero_preactivation_case("rnn", relu_grad_at_zero=0.5, rnn_step=step)
    ref = case.reference()
    assert max_gap(ref, case.torch())[0] <= 1e-12
    numeric = numerical_gradient(case.reference_loss, case.params["b_h"], h=1e-7)
    assert np.all(numeric != 0.0)
    assert rel_error(ref[2]["b_h"], ratio * numeric) < 1e-7


def test_paper_default_is_rectify():
    """Without options, the models use rectify's gradient 0.5 at 0 (the paper configuration):
    the NumPy twins and the torch models (``rnn_models.build``'s defaults) both."""
    for name in ("average", "rnn", "birnn", "tconv"):
        default = Case(name, {}, N=2, T=1, D=5, H=4, C=3, seed=1)
        default.x[:] = 0.0
        # the default BiRNN also learns h_init_b: compare with the explicit options, h_init_b = 0
        extra = {"learn_init": True} if name == "birnn" else {}
        case = zero_preactivation_case(name, relu_grad_at_zero=0.5, **extra)
        if name == "birnn":
            case.params["h_init_b"][:] = 0.0
        default.params = case.params
        assert max_gap(default.reference(), case.reference())[0] == 0.0
        torch_default = default.torch()
        assert max_gap(torch_default, case.torch())[0] == 0.0
        assert any(np.any(grad != 0.0) for key, grad in torch_default[2].items()
                   if key.startswith(HIDDEN_BIASES))          # 0.5 x dL/dh, not torch's 0
