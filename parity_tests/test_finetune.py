"""The fine-tuned path (CaffeNet's fc6 and fc7 on pool5 codes, then one of the paper's models):
the NumPy reference's hand-derived gradients equal central finite differences, the torch module
equals the reference (forward, loss, every gradient, fc6 and fc7 included), and in eval mode its
fc7 codes are the ones real Caffe computes from the same pool5 codes.

Tolerances: finite differences 1e-7 relative (as test_gradcheck.py); torch vs reference 1e-10
absolute in float64 (as test_torch_vs_reference.py: the two sum in different orders, rounding
only; measured 6.7e-16 at most over this file's cases); torch float32 vs Caffe float32 in
``test_fc7_codes_equal_real_caffes``, stated there.
"""
import numpy as np
import pytest
import torch

import rnn_models
from reference import finetune as F
from rnn_models.finetune import FineTuned

from .gradcheck import numerical_gradient, rel_error
from .helpers import AVG_HALF, LASAGNE_GATE, LEARNT, NNTOOLS_HALF, TCONV_HALF

TOLERANCE = 1e-7      # finite differences, as test_gradcheck.py
PARITY = 1e-10        # float64 torch vs the NumPy reference, as test_torch_vs_reference.py

#: Heads: the paper's four (the BiRNN with the paper configuration's learnt h_{T+1}), the
#: nntools step, and the temporal convolution.
HEADS = [("average", AVG_HALF), ("rnn", NNTOOLS_HALF), ("lstm", LASAGNE_GATE),
         ("birnn", LEARNT), ("tconv", TCONV_HALF)]


class Problem:
    """A tiny fine-tuning problem: pool5-like codes x (N, T, D) >= 0 with a quarter exactly 0
    (pool5 follows a ReLU), fc6 (H6, D), fc7 (H7, H6) and the head's weights N(0, 1/fan_in),
    vectors N(0, 0.5^2); ``dropout``: explicit masks of that rate on drop6 and drop7. Distinct
    sizes D, H6, H7 so that a transposed weight cannot pass."""

    def __init__(self, name, options, N=3, T=4, D=11, H6=9, H7=7, H=6, C=5, seed=0,
                 dropout=0.0, loss="averaged"):
        import reference
        rng = np.random.default_rng(seed)
        self.name, self.options, self.loss = name, options, loss
        self.N, self.D, self.H6, self.H, self.C = N, D, H6, H, C
        shapes = {"W6": (H6, D), "b6": (H6,), "W7": (H7, H6), "b7": (H7,)}
        shapes.update({F.HEAD + k: s for k, s in
                       reference.param_shapes(name, H7, H, C, **options).items()})
        self.params = {k: rng.normal(0.0, 1.0 / np.sqrt(np.prod(s[1:])) if len(s) >= 2 else 0.5, s)
                       for k, s in shapes.items()}
        self.x = np.abs(rng.normal(size=(N, T, D))) * (rng.random((N, T, D)) > 0.25)
        self.labels = rng.integers(0, C, N)
        self.masks = None                  # both twins take None for no dropout
        if dropout:
            self.masks = tuple((rng.random((N, T, h)) >= dropout) / (1.0 - dropout)
                               for h in (H6, H7))

    def reference(self):
        p, cache = F.forward(self.name, self.params, self.x, self.masks, **self.options)
        loss, grads = F.backward(cache, self.labels, self.loss)
        return p, loss, grads

    def torch(self):
        head = rnn_models.build(self.name, self.params["W7"].shape[0], self.H, self.C,
                                **self.options)
        model = FineTuned(head, input_dim=self.D, fc6_dim=self.H6).double().eval()
        model.load_state_dict({k: torch.from_numpy(v) for k, v in self.params.items()},
                              strict=True)
        x = torch.from_numpy(self.x)
        masks = None if self.masks is None else tuple(torch.from_numpy(m) for m in self.masks)
        rows = torch.arange(self.N)
        labels = torch.from_numpy(self.labels)
        if self.loss == "averaged":
            loss = -model.log_probabilities(x, masks)[rows, labels].mean()
        else:
            loss = -model.step_log_probabilities(x, masks)[rows, :, labels].mean()
        loss.backward()
        grads = {k: v.grad.numpy() for k, v in model.named_parameters()}
        return model(x, masks).detach().numpy(), loss.item(), grads


def head_id(head):
    return head[0]


@pytest.mark.parametrize("head", HEADS, ids=head_id)
@pytest.mark.parametrize("dropout", [0.0, 0.5])
@pytest.mark.parametrize("loss", ["averaged", "per-step"])
def test_reference_gradients_equal_finite_differences(head, dropout, loss):
    """Every parameter's gradient, W6 and W7 through the head's dL/dz."""
    problem = Problem(*head, dropout=dropout, loss=loss, seed=3)
    _, _, analytic = problem.reference()
    for name, value in problem.params.items():
        numeric = numerical_gradient(lambda: problem.reference()[1], value)
        error = rel_error(analytic[name], numeric)
        assert error < TOLERANCE, f"{head[0]} d{name}: relative error {error:.2e}"


@pytest.mark.parametrize("head", HEADS, ids=head_id)
@pytest.mark.parametrize("dropout", [0.0, 0.5])
@pytest.mark.parametrize("loss", ["averaged", "per-step"])
@pytest.mark.parametrize("N, T", [(1, 1), (3, 4)])
def test_torch_equals_reference(head, dropout, loss, N, T):
    problem = Problem(*head, N=N, T=T, dropout=dropout, loss=loss, seed=N + 10 * T)
    p_ref, loss_ref, grads_ref = problem.reference()
    p, value, grads = problem.torch()
    assert sorted(grads) == sorted(grads_ref)
    assert np.max(np.abs(p - p_ref)) <= PARITY and abs(value - loss_ref) <= PARITY
    for name in grads:
        gap = np.max(np.abs(grads[name] - grads_ref[name]))
        assert gap <= PARITY, f"{head[0]} d{name}: torch and reference differ by {gap:.3g}"
    assert np.abs(grads["W6"]).max() > 1e-3     # the gradient reaches fc6: not all zero


def test_gradcheck_catches_a_backward_that_forgets_drop6(monkeypatch):
    """A backward that skips drop6's mask (dh6 = dd6) must fail the finite-difference check."""
    real = F.fc_backward

    def forgetful(dz, cache):
        a6_cache, h6_cache, _, a7_cache, h7_cache, m7 = cache
        return real(dz, (a6_cache, h6_cache, None, a7_cache, h7_cache, m7))

    problem = Problem("rnn", NNTOOLS_HALF, dropout=0.5, seed=4)
    monkeypatch.setattr(F, "fc_backward", forgetful)
    _, _, analytic = problem.reference()
    numeric = numerical_gradient(lambda: problem.reference()[1], problem.params["W6"])
    assert rel_error(analytic["W6"], numeric) > 1e-2


def test_dropout_in_training_mode_has_caffes_rate_and_scale():
    """Training mode drops about half of fc6's and fc7's outputs and doubles the rest (Caffe's
    Dropout layer at ratio 0.5); eval mode drops nothing."""
    torch.manual_seed(0)
    model = FineTuned(rnn_models.build("average", 64, 4, 3), input_dim=32, fc6_dim=64)
    with torch.no_grad():
        model.W6.fill_(1.0 / 32)
        model.W7.copy_(torch.eye(64))
    x = torch.ones(8, 10, 32)
    kept = model.train().codes(x)                                   # (8, 10, 64)
    assert set(torch.unique(kept).tolist()) == {0.0, 4.0}           # 1 x 2 (drop6) x 2 (drop7)
    assert abs(float((kept > 0).float().mean()) - 0.25) < 0.03      # kept by both: 1/4
    assert torch.equal(model.eval().codes(x), torch.ones(8, 10, 64))


# A float32 path of fc6 and fc7 (9216 + 4096 products per output) against Caffe's: OpenBLAS and
# torch's GEMM sum in different orders; measured 4.5e-7 of the codes' largest value here, and
# 5.1e-7 over the demo's 4,000 frames (its pool5 store through fc6/fc7 vs its fc7 store). We
# allow 1e-5 of it, 20x that, far below a real error (a misordered pool5 moves codes by their
# own size).
FLOAT32 = 1e-5


def test_fc7_codes_equal_real_caffes(caffe, random_caffemodel):
    """Eval mode: fc6 ... relu7 on real Caffe's pool5 blob, flattened as the extraction stores
    it (C, H, W order), gives the relu7 codes Caffe computes, with the weights copied by
    ``experiment.future.finetune.caffenet_fc``; the same pool5 flattened H, W, C does not."""
    from caffe_extract.backends import open_backend
    from experiment.future.finetune import caffenet_fc
    frames = np.random.default_rng(0).uniform(-100, 100, (10, 3, 227, 227)).astype(np.float32)
    out = open_backend("caffe", random_caffemodel).forward(frames, ("pool5", "relu7"))
    pool5, relu7 = out["pool5"].reshape(10, -1), out["relu7"]          # (10, 9216), (10, 4096)
    model = FineTuned(rnn_models.build("average", 4096, 8, 3)).eval()
    model.load_fc(caffenet_fc(random_caffemodel))
    with torch.no_grad():
        codes = model.codes(torch.from_numpy(pool5)[None])[0].numpy()
    assert pool5.shape == (10, 9216) and (relu7 > 0).mean() > 0.1
    assert np.max(np.abs(codes - relu7)) <= FLOAT32 * np.abs(relu7).max()
    shuffled = pool5.reshape(10, 256, 6, 6).transpose(0, 2, 3, 1).reshape(10, 9216)  # H, W, C
    with torch.no_grad():
        wrong = model.codes(torch.from_numpy(np.ascontiguousarray(shuffled))[None])[0].numpy()
    assert np.max(np.abs(wrong - relu7)) > 0.1 * np.abs(relu7).max()
