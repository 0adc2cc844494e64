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

    Weights are drawn so that every nonlinearity works in its interesting range: matrices
    N(0, 1/fan_in) (pre-activations of order 1), vectors N(0, 0.5^2); inputs N(0, 1).
    ``dropout`` (Average only) draws an explicit inverted-dropout mask of that rate.
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

    def __post_init__(self):
        rng = np.random.default_rng(self.seed)
        shapes = reference.param_shapes(self.name, self.D, self.H, self.C,
                                        peepholes=self.options.get("peepholes", True))
        self.params = {k: rng.normal(0.0, 1.0 / np.sqrt(s[1]) if len(s) == 2 else 0.5, s)
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
        loss, grads = reference.backward(cache, self.labels)
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
        loss = -torch.log(p[torch.arange(self.N, device=device), labels]).mean()
        loss.backward()
        grads = {k: v.grad.cpu().numpy() for k, v in model.named_parameters()}
        return p.detach().cpu().numpy(), loss.item(), grads


def max_gap(a, b):
    """Largest absolute difference between two (p, loss, grads) results, and where it is."""
    gaps = {"p": np.max(np.abs(a[0] - b[0])), "loss": abs(a[1] - b[1])}
    assert a[2].keys() == b[2].keys(), (sorted(a[2]), sorted(b[2]))
    gaps.update({f"d{k}": np.max(np.abs(a[2][k] - b[2][k])) for k in a[2]})
    worst = max(gaps, key=gaps.get)
    return float(gaps[worst]), worst


#: Every model with every option setting the parity tests cover.
CONFIGS = [
    ("average", {}, 0.0),
    ("average", {}, 0.5),
    ("average", {"relu_grad_at_zero": 0.5}, 0.5),
    ("rnn", {}, 0.0),
    ("rnn", {"relu_grad_at_zero": 0.5}, 0.0),
    ("birnn", {}, 0.0),
    ("birnn", {"relu_grad_at_zero": 0.5}, 0.0),
    ("rnn2", {}, 0.0),
    ("rnn2", {"relu_grad_at_zero": 0.5}, 0.0),
    ("lstm", {}, 0.0),
    ("lstm", {"peepholes": False}, 0.0),
    ("lstm", {"lasagne_output_gate": True}, 0.0),
    ("bilstm", {}, 0.0),
    ("bilstm", {"peepholes": False}, 0.0),
    ("bilstm", {"lasagne_output_gate": True}, 0.0),
]


def config_id(config):
    name, options, dropout = config
    parts = [name] + [f"{k}={v}" for k, v in options.items()]
    return "-".join(parts + ([f"dropout={dropout}"] if dropout else []))
