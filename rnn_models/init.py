"""Initial values in PyTorch, by scheme: ``"nntools-2015"`` (the default, the paper's weeks) or
``"lasagne-0.1"`` (the first Lasagne release). ``reference.init`` states each scheme with its
source and holds the one table of distributions (``init_spec``) that both sides draw from.

nntools-2015 (recurrent.py at Lasagne fce361f, init.py and dense.py at b237390^):
- RNN W_ih, W_hh ~ Glorot U(+-sqrt(6 / (fan_in + fan_out))), b_h = 0;
- LSTM W_x*, W_h*, w_c* and the biases b_i, b_f, b_c, b_o_gate ~ N(0, 0.1);
- dense layers (W_ho, W_s, the Average model's) Glorot, biases 0; h_init = 0;
- the temporal convolution's W_conv (H, D, K) Glorot with the receptive field,
  U(+-sqrt(6 / ((H + D) K))), as Lasagne's Conv1DLayer; b_conv = 0.
lasagne-0.1: as nntools-2015 except RNN W_ih, W_hh ~ U(-0.01, 0.01) and LSTM biases 0.

Drawn from torch's global generator: ``torch.manual_seed`` makes them reproducible.
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

