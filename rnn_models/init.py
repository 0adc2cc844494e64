"""Initial values in PyTorch, by scheme: ``reference.init`` states each scheme with its source
and holds the one table of distributions (``init_spec``) that both sides draw from; here they
are drawn from torch's global generator (``torch.manual_seed`` makes them reproducible).
"""
import torch

from reference.init import DEFAULT_SCHEME, SCHEMES, base_name, init_spec

__all__ = ["DEFAULT_SCHEME", "SCHEMES", "base_name", "initial_value"]


def initial_value(model, name, shape, scheme=DEFAULT_SCHEME):
    """A tensor of ``shape`` holding parameter ``name``'s initial value under ``scheme``."""
    kind, scale = init_spec(model, name, shape, scheme)
    if kind == "zeros":
        return torch.zeros(shape)
    if kind == "uniform":
        return torch.empty(shape).uniform_(-scale, scale)
    return torch.empty(shape).normal_(0.0, scale)
