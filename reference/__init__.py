"""NumPy float64 reference of the paper's models: forward and hand-derived backward (BPTT).

    p, cache = reference.forward(name, params, x, **options)   # x (N, T, D) -> p (N, C)
    loss, grads = reference.backward(cache, labels)           # loss="averaged" or "per-step"
    params = reference.initial_params(name, reference.param_shapes(name, D, H, C), "nntools-2015")

Small and readable on purpose: it is the yardstick the PyTorch modules are checked against.
"""
from .architecture import MODELS, default_options, param_shapes
from .init import initial_params
from .models import backward, forward

__all__ = ["MODELS", "backward", "default_options", "forward", "initial_params", "param_shapes"]
