"""Initial values as Lasagne 0.1's defaults, which the paper's code used.

- ``RecurrentLayer``: W_in_to_hid, W_hid_to_hid ~ Uniform(-0.01, 0.01); b = 0.
- ``LSTMLayer`` gates: W_in, W_hid and the peephole W_cell ~ Normal(0, 0.1); b = 0.
- ``DenseLayer`` (the Average model's layers, W_ho/b_o, W_s/b_s): W ~ GlorotUniform,
  U(-a, a) with a = sqrt(6 / (fan_in + fan_out)); b = 0.
- Initial states h_0 (and c_0) are 0 and not trained.

Drawn from torch's global generator: ``torch.manual_seed`` makes them reproducible.
"""
import math
import re

import torch

DENSE = {"W_ho", "W_s"}   # and every weight of the Average model


def base_name(name):
    """The parameter's name without its branch/layer suffix: W_hh_f -> W_hh, W_ho_gate_b -> W_ho_gate."""
    return re.sub(r"_(f|b|1|2)$", "", name)


def lasagne_default(model, name, shape):
    """A tensor of ``shape`` holding Lasagne 0.1's default initial value for parameter ``name``."""
    if name.startswith("b_"):  # every bias (test the full name: b_f is the forget gate's)
        return torch.zeros(shape)
    base = base_name(name)
    if model == "average" or base in DENSE:
        fan_out, fan_in = shape
        a = math.sqrt(6.0 / (fan_in + fan_out))
        return torch.empty(shape).uniform_(-a, a)
    if base in ("W_ih", "W_hh"):
        return torch.empty(shape).uniform_(-0.01, 0.01)
    return torch.empty(shape).normal_(0.0, 0.1)  # LSTM W_x*, W_h*, w_c*
