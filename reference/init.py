"""Initial values of the parameters, by scheme, drawn from a NumPy ``Generator`` (float64).

``init_spec`` gives the distribution of every parameter (``rnn_models.init`` draws the same ones
with torch's generator), each scheme read off a library's source:

``"nntools-2015"`` (the paper's weeks): craffel's recurrent layers at Lasagne commit fce361f
(2015-03-18, ``lasagne/layers/recurrent.py``) with the ``lasagne/init.py``, ``layers/dense.py``
and ``layers/conv.py`` of that time (commit b237390^, before the init rework of 2015-03-28;
Lasagne's history was rebased, so fce361f's own tree carries a later init.py):

- RecurrentLayer: ``W_in_to_hid``, ``W_hid_to_hid`` ~ ``init.Uniform()``, which without a range
  is Glorot's U(-a, a), a = sqrt(6 / (n1 + n2)) over the first two dimensions (4096 x 512:
  a = 0.0361; 512 x 512: a = 0.0765); ``b=init.Constant(0.)``.
- LSTMLayer: every ``W_in_to_*``, ``W_hid_to_*``, ``W_cell_to_*`` AND every bias ``b_ingate``,
  ``b_forgetgate``, ``b_cell``, ``b_outgate`` is ``init.Normal(0.1)``: N(0, 0.1^2).
- DenseLayer (W_ho, W_s, the Average model's layers): ``W=init.Uniform()`` (Glorot), b = 0.
- Conv1DLayer (W_conv (H, D, K)): ``W=init.Uniform()``, whose Glorot range counts the receptive
  field for more than two dimensions: a = sqrt(6 / ((H + D) K)); b = 0.
- Initial states ``hid_init=init.Constant(0.)``: h_init = 0 (learnt or not).

``"lasagne-0.1"`` (the first release, 2015-08-13, which the Theano oracle runs):

- RecurrentLayer: W_in_to_hid, W_hid_to_hid ~ Uniform(0.01) = U(-0.01, 0.01); b = 0.
- LSTMLayer gates: W_in, W_hid, W_cell ~ Normal(0.1); b = 0.
- DenseLayer and Conv1DLayer: W ~ GlorotUniform, a as above; b = 0. hid_init = 0.

Our weights are stored (out, in), Lasagne's (in, out): Glorot's n1 + n2 is the same sum.
"""
import math
import re

import numpy as np

from .architecture import cell_of

SCHEMES = ("nntools-2015", "lasagne-0.1")
DEFAULT_SCHEME = "nntools-2015"

#: The dense layers' weights (and every weight of the Average model), and the temporal
#: convolution's kernel: Glorot in both schemes.
DENSE = {"W_ho", "W_s", "W_conv"}


def base_name(name):
    """The parameter's name without its branch/layer suffix: W_hh_f -> W_hh, W_ho_gate_b -> W_ho_gate."""
    return re.sub(r"_(f|b|1|2)$", "", name)


def glorot_bound(shape):
    """a = sqrt(6 / ((n1 + n2) r)) for a weight of ``shape`` (n1, n2, ...), r the product of
    the dimensions after the first two (the receptive field; 1 for a matrix), as Lasagne's."""
    n1, n2 = shape[:2]
    return math.sqrt(6.0 / ((n1 + n2) * math.prod(shape[2:])))


def init_spec(model, name, shape, scheme=DEFAULT_SCHEME):
    """The distribution of parameter ``name`` of ``model`` under ``scheme``:
    ("zeros", 0), ("uniform", a) for U(-a, a), or ("normal", std) for N(0, std^2)."""
    if scheme not in SCHEMES:
        raise ValueError(f"unknown initialisation {scheme!r}: choose one of {', '.join(SCHEMES)}")
    base = base_name(name)
    if base == "h_init":
        return ("zeros", 0.0)
    if name.startswith("b_"):
        # the LSTM's gate biases, by their full names: base_name("b_f") would strip the forget
        # gate's own "_f" as if it were the forward branch's suffix
        lstm_bias = cell_of(model) == "lstm" and name.startswith(("b_i", "b_f", "b_c", "b_o_gate"))
        return ("normal", 0.1) if scheme == "nntools-2015" and lstm_bias else ("zeros", 0.0)
    if cell_of(model) == "average" or base in DENSE:
        return ("uniform", glorot_bound(shape))
    if base in ("W_ih", "W_hh"):
        return ("uniform", glorot_bound(shape) if scheme == "nntools-2015" else 0.01)
    return ("normal", 0.1)  # LSTM W_x*, W_h*, w_c*


def draw(spec, shape, rng):
    """An array of ``shape`` drawn from ``spec`` (see ``init_spec``) with ``rng``."""
    kind, scale = spec
    if kind == "zeros":
        return np.zeros(shape)
    if kind == "uniform":
        return rng.uniform(-scale, scale, shape)
    return rng.normal(0.0, scale, shape)


def initial_params(model, shapes, scheme=DEFAULT_SCHEME, rng=None):
    """Initial values of every parameter in ``shapes`` (name -> shape, as ``param_shapes``)."""
    rng = np.random.default_rng() if rng is None else rng
    return {name: draw(init_spec(model, name, shape, scheme), shape, rng)
            for name, shape in shapes.items()}
