"""One parity case: a model, its options, random float64 inputs and weights, run on both sides."""
from dataclasses import dataclass, field

import numpy as np
import torch

import reference
import rnn_models
from reference.architecture import cell_of


@dataclass
class Case:
    """Model ``name`` with ``options`` on a random problem of size N, T, D, H, C (O = H).

    Weights are drawn so that every nonlinearity works in its interesting range: matrices and
    the convolution kernel N(0, 1/fan_in) (fan_in: D, or D K for W_conv (H, D, K);
    pre-activations of order 1), vectors N(0, 0.5^2) (a learnt initial state h_init too, so
    that it is not 0); inputs N(0, 1).
    ``dropout`` (Average only) draws an explicit inverted-dropout mask of that rate.
    ``loss``: "averaged" (cross-entropy of p) or "per-step" (mean of the per-step ones).
    """

    name: str
    options: dict = field(default_factory=dict)
    N: int = 4
    T: int = 10
    D: int = 7
    H: int = 6
    C: int = 5
    seed: int = 0
    dropout: float = 0.0
    loss: str = "averaged"

    def __post_init__(self):
        rng = np.random.default_rng(self.seed)
        shapes = reference.param_shapes(self.name, self.D, self.H, self.C, **self.options)
        self.params = {k: rng.normal(0.0, 1.0 / np.sqrt(np.prod(s[1:])) if len(s) >= 2 else 0.5, s)
                       for k, s in shapes.items()}
        self.x = rng.normal(size=(self.N, self.T, self.D))
        self.labels = rng.integers(0, self.C, self.N)
        self.mask = None
        if self.dropout:
            keep = rng.random((self.N, self.H)) >= self.dropout
            self.mask = keep / (1.0 - self.dropout)

    def reference(self, params=None):
        """(p, loss, grads) from the NumPy reference, optionally with other weights."""
        p, cache = reference.forward(self.name, params or self.params, self.x,
                                     dropout_mask=self.mask, **self.options)
        loss, grads = reference.backward(cache, self.labels, loss=self.loss)
        return p, loss, grads

    def reference_loss(self):
        return self.reference()[1]

    def torch(self, params=None, device="cpu", **options):
        """(p, loss, grads) from the PyTorch module in float64 on ``device``, autograd for the
        gradients."""
        options = {**self.options, **options}
        model = rnn_models.build(self.name, self.D, self.H, self.C, **options).double().eval()
        state = {k: torch.from_numpy(v) for k, v in (params or self.params).items()}
        model.load_state_dict(state, strict=True)
        model.to(device)
        x = torch.from_numpy(self.x).to(device)
        if cell_of(self.name) == "average" and self.mask is not None:
            p = model(x, dropout_mask=torch.from_numpy(self.mask).to(device))
        else:
            p = model(x)
        labels = torch.from_numpy(self.labels).to(device)
        if self.loss == "averaged":
            loss = -torch.log(p[torch.arange(self.N, device=device), labels]).mean()
        else:  # -(1/(N T)) sum_n sum_t log P_t[n, label_n], from step_log_probabilities
            log_P = (model.step_log_probabilities(x, dropout_mask=torch.from_numpy(self.mask).to(device))
                     if self.mask is not None else model.step_log_probabilities(x))
            loss = -log_P[torch.arange(self.N, device=device), :, labels].mean()
        loss.backward()
        # a parameter the loss does not depend on has no .grad: its gradient is 0
        grads = {k: (torch.zeros_like(v) if v.grad is None else v.grad).cpu().numpy()
                 for k, v in model.named_parameters()}
        return p.detach().cpu().numpy(), loss.item(), grads


def max_gap(a, b):
    """Largest absolute difference between two (p, loss, grads) results, and where it is."""
    gaps = {"p": np.max(np.abs(a[0] - b[0])), "loss": abs(a[1] - b[1])}
    assert a[2].keys() == b[2].keys(), (sorted(a[2]), sorted(b[2]))
    gaps.update({f"d{k}": np.max(np.abs(a[2][k] - b[2][k])) for k in a[2]})
    worst = max(gaps, key=gaps.get)
    return float(gaps[worst]), worst


#: Option settings, written out in full (so that a change of the defaults changes no case).
AVG0, AVG_HALF = {"relu_grad_at_zero": 0.0}, {"relu_grad_at_zero": 0.5}
EQ0 = {"relu_grad_at_zero": 0.0, "rnn_step": "equation", "learn_init": False}
EQ_HALF = {**EQ0, "relu_grad_at_zero": 0.5}
NNTOOLS0 = {**EQ0, "rnn_step": "nntools"}
NNTOOLS_HALF = {**EQ_HALF, "rnn_step": "nntools"}
LEARNT = {**EQ_HALF, "learn_init": True}
NNTOOLS_2015 = {**NNTOOLS_HALF, "learn_init": True}       # the RNN of craffel's fce361f
GRAVES = {"peepholes": True, "lasagne_output_gate": False}
LASAGNE_GATE = {"peepholes": True, "lasagne_output_gate": True}
NO_PEEPHOLES = {"peepholes": False, "lasagne_output_gate": False}
TCONV0 = {"relu_grad_at_zero": 0.0, "width": 3}
TCONV_HALF = {**TCONV0, "relu_grad_at_zero": 0.5}

#: Every model with every option setting the parity tests cover.
CONFIGS = [
    ("average", AVG0, 0.0),
    ("average", AVG0, 0.5),
    ("average", AVG_HALF, 0.5),
    ("rnn", EQ0, 0.0),
    ("rnn", EQ_HALF, 0.0),
    ("rnn", NNTOOLS0, 0.0),
    ("rnn", NNTOOLS_HALF, 0.0),
    ("birnn", EQ0, 0.0),
    ("birnn", EQ_HALF, 0.0),
    ("birnn", LEARNT, 0.0),
    ("birnn", {**EQ0, "learn_init": True}, 0.0),
    ("birnn", NNTOOLS0, 0.0),
    ("birnn", NNTOOLS_2015, 0.0),
    ("rnn2", EQ0, 0.0),
    ("rnn2", EQ_HALF, 0.0),
    ("rnn2", NNTOOLS_HALF, 0.0),
    ("rnn2", {**NNTOOLS_HALF, "learn_init": True}, 0.0),   # forward layers only: no h_init
    ("lstm", GRAVES, 0.0),
    ("lstm", NO_PEEPHOLES, 0.0),
    ("lstm", LASAGNE_GATE, 0.0),
    ("bilstm", GRAVES, 0.0),
    ("bilstm", NO_PEEPHOLES, 0.0),
    ("bilstm", LASAGNE_GATE, 0.0),
    ("tconv", TCONV0, 0.0),
    ("tconv", TCONV_HALF, 0.0),
    ("tconv", {**TCONV_HALF, "width": 1}, 0.0),       # a per-frame classifier
    ("tconv", {**TCONV_HALF, "width": 5}, 0.0),       # T = 1: the centre tap alone reads x
]

#: The cases checked with the per-step loss (both loss forms are checked on each).
LOSS_CONFIGS = [
    ("average", AVG_HALF, 0.5),
    ("rnn", EQ_HALF, 0.0),
    ("rnn", NNTOOLS_HALF, 0.0),
    ("birnn", NNTOOLS_2015, 0.0),
    ("rnn2", EQ0, 0.0),
    ("lstm", LASAGNE_GATE, 0.0),
    ("bilstm", GRAVES, 0.0),
    ("tconv", TCONV_HALF, 0.0),
]


def config_id(config):
    name, options, dropout = config
    parts = [name] + [f"{k}={v}" for k, v in options.items()]
    return "-".join(parts + ([f"dropout={dropout}"] if dropout else []))
