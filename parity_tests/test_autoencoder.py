"""Srivastava et al.'s composite LSTM autoencoder (issue 24, unsupervised pretraining): the hand-
derived backward equals central finite differences, our torch module equals the reference in
float64 (outputs, loss, every gradient), the decoders read what the equations say (x_k..x_1 in
reverse, x_{k+1}..x_T), and the encoder's weights, loaded into the ``lstm`` classifier, give it
the encoder's hidden states.
"""
import numpy as np
import pytest
import torch

import rnn_models
from reference import autoencoder as A
from reference import layers as L
from rnn_models.autoencoder import CompositeAutoencoder

from .gradcheck import numerical_gradient, rel_error
from .helpers import GRAVES, LASAGNE_GATE, NO_PEEPHOLES

TOLERANCE = 1e-7      # finite differences, as test_gradcheck.py
PARITY = 1e-10        # float64 torch vs reference, as test_torch_vs_reference.py

OPTIONS = [pytest.param(GRAVES, id="graves"), pytest.param(LASAGNE_GATE, id="lasagne-gate"),
           pytest.param(NO_PEEPHOLES, id="no-peepholes")]


def problem(N, T, D, H, options, seed):
    """x (N, T, D) ~ N(0, 1) and every parameter as ``helpers.Case`` draws them: matrices
    N(0, 1/fan_in), vectors N(0, 0.5^2) (gates in their interesting range)."""
    rng = np.random.default_rng(seed)
    shapes = A.autoencoder_shapes(D, H, options["peepholes"])
    params = {k: rng.normal(0.0, 1.0 / np.sqrt(s[1]) if len(s) == 2 else 0.5, s)
              for k, s in shapes.items()}
    return params, rng.normal(size=(N, T, D))


def torch_run(params, x, split, options):
    """(x_hat_rec, x_hat_fut, loss, grads) of the torch module in float64, autograd."""
    D, H = x.shape[2], params["b_i"].shape[0]
    model = CompositeAutoencoder(D, H, split=split, **options).double()
    model.load_state_dict({k: torch.from_numpy(v) for k, v in params.items()}, strict=True)
    x = torch.from_numpy(x)
    x_hat_rec, x_hat_fut = model(x)
    loss = model.loss(x)
    loss.backward()
    grads = {k: v.grad.numpy() for k, v in model.named_parameters()}
    return x_hat_rec.detach().numpy(), x_hat_fut.detach().numpy(), loss.item(), grads


@pytest.mark.parametrize("options", OPTIONS)
@pytest.mark.parametrize("T, split", [(4, None), (5, 1), (5, 4), (10, None)])
def test_backward_matches_finite_differences(options, T, split):
    """Every parameter's gradient, k from 1 (one code encoded) to T - 1 (one predicted)."""
    params, x = problem(3, T, 4, 3, options, seed=T + 7 * (split or 0))
    _, cache = A.forward(params, x, split, **options)
    _, grads = A.backward(cache)
    assert grads.keys() == params.keys()

    def loss():
        return A.backward(A.forward(params, x, split, **options)[1])[0]

    for name, value in params.items():
        error = rel_error(grads[name], numerical_gradient(loss, value))
        assert error < TOLERANCE, f"d{name} (T={T}, k={split}): relative error {error:.2e}"


@pytest.mark.parametrize("options", OPTIONS)
@pytest.mark.parametrize("T, split", [(2, None), (7, 3), (10, None)])
def test_torch_equals_reference(options, T, split):
    """Outputs, loss and every gradient, float64, to 1e-10 (accumulation order only)."""
    params, x = problem(4, T, 6, 5, options, seed=100 + T)
    (ref_rec, ref_fut), cache = A.forward(params, x, split, **options)
    ref_loss, ref_grads = A.backward(cache)
    rec, fut, loss, grads = torch_run(params, x, split, options)
    assert np.max(np.abs(rec - ref_rec)) <= PARITY
    assert np.max(np.abs(fut - ref_fut)) <= PARITY
    assert abs(loss - ref_loss) <= PARITY * max(1.0, abs(ref_loss))
    assert grads.keys() == ref_grads.keys()
    for name in grads:
        assert np.max(np.abs(grads[name] - ref_grads[name])) <= PARITY, name


def test_decoders_read_the_encoders_last_state_and_nothing_else():
    """Unconditioned decoders: x_hat depends on x only through (h_k, c_k). Changing x_{k+1}..x_T
    leaves every output equal; changing x_1 changes them. The targets are x_k..x_1 and
    x_{k+1}..x_T: a perfect output has loss 0."""
    params, x = problem(2, 6, 4, 3, GRAVES, seed=3)
    (rec, fut), _ = A.forward(params, x, **GRAVES)
    later = x.copy()
    later[:, 3:] += 1.0
    (rec2, fut2), _ = A.forward(params, later, **GRAVES)
    assert np.array_equal(rec, rec2) and np.array_equal(fut, fut2)
    earlier = x.copy()
    earlier[:, 0] += 1.0
    assert np.max(np.abs(A.forward(params, earlier, **GRAVES)[0][0] - rec)) > 1e-3
    targets = A.targets(x, 3)
    np.testing.assert_array_equal(targets["_rec"][:, 0], x[:, 2])     # step 1 predicts x_k
    np.testing.assert_array_equal(targets["_rec"][:, 2], x[:, 0])     # step k predicts x_1
    np.testing.assert_array_equal(targets["_fut"], x[:, 3:])
    _, cache = A.forward(params, x, **GRAVES)
    perfect = (cache[0], cache[0], *cache[2:])     # outputs := targets
    assert A.backward(perfect)[0] == 0.0


def test_a_forward_reconstruction_order_fails_the_parity():
    """The check can fail: a torch twin that reconstructs x_1..x_k in input order has another
    loss than the reference's reverse order."""
    params, x = problem(3, 6, 4, 3, GRAVES, seed=5)
    ref_loss = A.backward(A.forward(params, x, **GRAVES)[1])[0]
    model = CompositeAutoencoder(4, 3, **GRAVES).double()
    model.load_state_dict({k: torch.from_numpy(v) for k, v in params.items()})
    xt = torch.from_numpy(x)
    with torch.no_grad():
        x_hat_rec, x_hat_fut = model(xt)
    in_order = (((x_hat_rec - xt[:, :3]) ** 2).sum() + ((x_hat_fut - xt[:, 3:]) ** 2).sum()) / 18
    assert abs(float(in_order) - ref_loss) > 1e-3


@pytest.mark.parametrize("options", OPTIONS)
def test_encoder_weights_give_the_classifier_the_encoders_hidden_states(options):
    """Loaded into ``rnn_models.build("lstm")`` (its W_ho = I, b_o = 0, so that its outputs y_t
    are its LSTM's h_t), the encoder's weights give h_1..h_k equal to the encoder's (the
    reference's, float64): the transfer is one to one, names and equations."""
    params, x = problem(3, 10, 6, 5, options, seed=11)
    encoder = {name: params[name] for name in A.encoder_names(options["peepholes"])}
    h_encoder, _ = L.lstm_forward(x[:, :5], encoder, False, options["peepholes"],
                                  options["lasagne_output_gate"])              # (N, k, H)

    model = CompositeAutoencoder(6, 5, **options).double()
    model.load_state_dict({k: torch.from_numpy(v) for k, v in params.items()})
    classifier = rnn_models.build("lstm", 6, 5, 4, **options).double()
    transfer = model.encoder_weights()
    assert set(transfer) | {"W_ho", "b_o", "W_s", "b_s"} == set(classifier.state_dict())
    classifier.load_state_dict({**classifier.state_dict(), **transfer,
                                "W_ho": torch.eye(5, dtype=torch.float64),
                                "b_o": torch.zeros(5, dtype=torch.float64)}, strict=True)
    with torch.no_grad():
        y = classifier.outputs(torch.from_numpy(x)).numpy()                  # (N, T, H)
    assert np.max(np.abs(y[:, :5] - h_encoder)) <= PARITY
    assert np.max(np.abs(y[:, 5:6] - h_encoder[:, -1:])) > 1e-3    # t > k: it reads on


@pytest.mark.parametrize("split", [0, 10, 2.5, True])
def test_a_bad_split_point_is_a_clear_error(split):
    params, x = problem(2, 10, 4, 3, GRAVES, seed=0)
    with pytest.raises(ValueError, match="split point must be an integer from 1 to T - 1 = 9"):
        A.forward(params, x, split, **GRAVES)
    with pytest.raises(ValueError, match="split point"):
        CompositeAutoencoder(4, 3, split=split, **GRAVES).double()(torch.from_numpy(x))


def test_wrong_parameters_are_a_clear_error():
    params, x = problem(2, 4, 4, 3, GRAVES, seed=0)
    del params["W_r_fut"]
    with pytest.raises(ValueError, match="W_r_fut"):
        A.forward(params, x, **GRAVES)
