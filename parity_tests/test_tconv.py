"""The temporal convolution layer (the paper's "other models"): the hand-derived backward equals
central finite differences, the zero padding is where the equation puts it, and our hand-written
torch layer equals ``torch.nn.functional.conv1d``, an independent anchor for the convolution.

The model-level checks (gradients of the loss, torch vs reference, both loss forms) run in
test_gradcheck.py and test_torch_vs_reference.py through ``helpers.CONFIGS``; mutations in
test_mutations.py. Here the layer alone, with dx too (x is no parameter of the model, so the
model-level checks never see a dx read off the wrong frames).
"""
import numpy as np
import pytest
import torch

import rnn_models
from reference import layers as L
from rnn_models.layers import tconv_layer

from .gradcheck import numerical_gradient, rel_error
from .helpers import TCONV0, Case

TOLERANCE = 1e-7      # finite differences, as test_gradcheck.py
PARITY = 1e-10        # float64 torch vs torch, as test_torch_vs_reference.py


def layer_problem(N, T, D, H, K, seed):
    """x (N, T, D), W_conv N(0, 1/(D K)), b_conv N(0, 0.5^2), and G (N, T, H): the layer's
    scalar loss is sum(h * G), so that dL/dh = G."""
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(N, T, D)), rng.normal(0.0, 1.0 / np.sqrt(D * K), (H, D, K)),
            rng.normal(0.0, 0.5, H), rng.normal(size=(N, T, H)))


@pytest.mark.parametrize("K", [1, 3, 5])
@pytest.mark.parametrize("T", [1, 2, 3, 7])
@pytest.mark.parametrize("relu_grad_at_zero", [0.0, 0.5])
def test_layer_backward_matches_finite_differences(K, T, relu_grad_at_zero):
    """dx, dW_conv, db_conv; T < K puts frames of padding under both ends of the kernel."""
    x, W_conv, b_conv, G = layer_problem(2, T, 3, 4, K, seed=10 * K + T)

    def loss():
        return float(np.sum(L.tconv_forward(x, W_conv, b_conv, relu_grad_at_zero)[0] * G))

    _, cache = L.tconv_forward(x, W_conv, b_conv, relu_grad_at_zero)
    analytic = dict(zip(("x", "W_conv", "b_conv"), L.tconv_backward(G, cache)))
    for name, value in (("x", x), ("W_conv", W_conv), ("b_conv", b_conv)):
        error = rel_error(analytic[name], numerical_gradient(loss, value))
        assert error < TOLERANCE, f"d{name} (K={K}, T={T}): relative error {error:.2e}"


def test_gradcheck_catches_a_misaligned_input_in_dW(monkeypatch):
    """A backward that reads the padded input one frame off (x_{t+k-(K-1)/2+1} for dW_conv)
    must fail the model-level check."""
    from .test_gradcheck import gradcheck_errors
    real = L.tconv_backward

    def misaligned(dh, cache):
        xp, W_conv, relu_cache = cache
        return real(dh, (np.roll(xp, -1, axis=1), W_conv, relu_cache))

    monkeypatch.setattr(L, "tconv_backward", misaligned)
    errors = gradcheck_errors(Case("tconv", TCONV0, N=2, T=5, D=4, H=3, C=3))
    assert errors["W_conv"] > 1e-2


@pytest.mark.parametrize("K", [3, 5])
def test_one_frame_meets_only_the_kernels_centre(K):
    """T = 1: every tap but k = (K-1)/2 reads the zero padding, so z_0 = W_conv[:, :, (K-1)/2]
    x_0 + b_conv, and the other taps get no gradient."""
    x, W_conv, b_conv, G = layer_problem(3, 1, 4, 5, K, seed=K)
    centre = (K - 1) // 2
    h, cache = L.tconv_forward(x, W_conv, b_conv)
    np.testing.assert_allclose(h[:, 0], np.maximum(x[:, 0] @ W_conv[:, :, centre].T + b_conv, 0),
                               rtol=0, atol=1e-15)
    _, dW_conv, _ = L.tconv_backward(G, cache)
    assert np.all(np.delete(dW_conv, centre, axis=2) == 0.0) and np.any(dW_conv[:, :, centre])


def test_first_and_last_frames_see_padding_on_their_own_side():
    """K = 3: h_0 reads (0, x_0, x_1), h_{T-1} reads (x_{T-2}, x_{T-1}, 0); tap 0 is the past."""
    x, W_conv, b_conv, _ = layer_problem(2, 4, 3, 4, 3, seed=1)
    h, _ = L.tconv_forward(x, W_conv, b_conv)

    def expected(frames):   # (previous, current, next) frame, None for padding
        z = b_conv + sum(x[:, s] @ W_conv[:, :, k].T for k, s in enumerate(frames) if s is not None)
        return np.maximum(z, 0.0)

    np.testing.assert_allclose(h[:, 0], expected((None, 0, 1)), rtol=0, atol=1e-15)
    np.testing.assert_allclose(h[:, 2], expected((1, 2, 3)), rtol=0, atol=1e-15)
    np.testing.assert_allclose(h[:, 3], expected((2, 3, None)), rtol=0, atol=1e-15)


@pytest.mark.parametrize("K", [1, 3, 5])
@pytest.mark.parametrize("N, T", [(1, 1), (1, 2), (4, 10)])
def test_torch_model_equals_torch_nn_conv1d(K, N, T):
    """Our im2col layer inside the whole model vs ``conv1d(padding=(K-1)/2)`` + relu + the same
    readout: p and the gradient of the loss for every parameter. torch's conv1d is a
    cross-correlation with weight (out, in, K), the layout and the tap order of our W_conv."""
    case = Case("tconv", {**TCONV0, "width": K}, N=N, T=T, D=7, H=6, C=5, seed=K + 10 * T)
    p_ours, _, grads = case.torch()

    model = rnn_models.build("tconv", case.D, case.H, case.C, **case.options).double()
    model.load_state_dict({k: torch.from_numpy(v) for k, v in case.params.items()})
    x = torch.from_numpy(case.x)
    z = torch.nn.functional.conv1d(x.transpose(1, 2), model.W_conv, model.b_conv,
                                   padding=(K - 1) // 2).transpose(1, 2)          # (N, T, H)
    s = torch.relu(z) @ model.W_s.T + model.b_s                                    # (N, T, C)
    p_twin = torch.softmax(s, dim=-1).mean(dim=1)                                  # (N, C)
    loss = -torch.log(p_twin[torch.arange(N), torch.from_numpy(case.labels)]).mean()
    loss.backward()

    assert np.max(np.abs(p_twin.detach().numpy() - p_ours)) <= PARITY
    for name, value in model.named_parameters():
        assert np.max(np.abs(value.grad.numpy() - grads[name])) <= PARITY, name


def test_torch_layer_equals_conv1d_at_the_papers_size():
    """D = 4096, T = 10, K = 3: h of our layer and of conv1d + relu, float64."""
    torch.manual_seed(0)
    x = torch.randn(2, 10, 4096, dtype=torch.float64)
    W_conv = torch.randn(8, 4096, 3, dtype=torch.float64) / np.sqrt(4096 * 3)
    b_conv = torch.randn(8, dtype=torch.float64)
    ours = tconv_layer(x, W_conv, b_conv)
    twin = torch.relu(torch.nn.functional.conv1d(x.transpose(1, 2), W_conv, b_conv, padding=1))
    assert (ours - twin.transpose(1, 2)).abs().max() <= PARITY


def test_conv1d_anchor_sees_a_flipped_kernel():
    """The anchor can fail: Theano's convolution (Lasagne's Conv1DLayer) flips the kernel; with
    W_conv reversed in k the twin differs from our layer."""
    x, W_conv, b_conv, _ = (torch.from_numpy(a) for a in layer_problem(2, 6, 5, 4, 3, seed=2))
    flipped = torch.nn.functional.conv1d(x.transpose(1, 2), W_conv.flip(2), b_conv, padding=1)
    gap = (tconv_layer(x, W_conv, b_conv) - torch.relu(flipped).transpose(1, 2)).abs().max()
    assert gap > 1e-4

