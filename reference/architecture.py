"""What each model of the paper is made of, and the names and shapes of its parameters.

The one place where the models' structure and parameter names are written down: the NumPy
reference (``reference.models``) and the PyTorch modules (``rnn_models``) are both built from it.
The equations are written twice, independently, in ``reference.layers`` and ``rnn_models.layers``;
the parity tests prove the two agree.

A recurrent model is one or more *branches* whose outputs are summed, then a shared softmax
readout (Giel & Diaz, section "Models")::

    y_t = sum over branches of  (W_ho h_t + b_o)       h_t: the branch's top hidden state
    P_t = softmax(W_s y_t + b_s)                        (N, T, C)
    p   = (1/T) sum_t P_t                               (N, C), the model's output

A branch is a stack of recurrent layers of one cell type ("rnn" or "lstm"), run forward in time
or backward (``reverse=True``: h_t depends on h_{t+1}, outputs stay aligned to input time).

The temporal convolution ("tconv") has no branch: one convolution over time, ``W_conv``
(H, D, K) and ``b_conv`` (H,), then the same readout on its h_t (``W_s`` is (C, H)).

Parameter names are the paper's: ``W_ih, W_hh, b_h`` (recurrent layer), ``W_ho, b_o`` (its
output), ``W_s, b_s`` (softmax), ``h_init`` (a learnt initial state h_{T+1}); the LSTM's are
Graves' (2013, eq. 7-11), its output gate's ``W_ho_gate, b_o_gate``. A branch suffixes its
parameters ``_f``/``_b``, a stack its layers ``_1``/``_2``. docs/models.md ("Parameter names")
lists every model's keys and why; weights are stored as the equations multiply them (``W_ih``
is (H, D)).

Letters: N batch, T time, D input, H hidden, O recurrent-layer output, C classes, K kernel width.
"""
from dataclasses import dataclass

#: The LSTM gate order, shared by NumPy and PyTorch (and by Lasagne 0.1 and torch.nn.LSTM).
GATES = ("i", "f", "c", "o")

#: Per gate: (input weight, hidden weight, peephole or None, bias). Graves' names.
LSTM_GATE_PARAMS = {
    "i": ("W_xi", "W_hi", "w_ci", "b_i"),
    "f": ("W_xf", "W_hf", "w_cf", "b_f"),
    "c": ("W_xc", "W_hc", None, "b_c"),
    "o": ("W_xo", "W_ho_gate", "w_co", "b_o_gate"),
}


@dataclass(frozen=True)
class Branch:
    """A stack of recurrent layers followed by its output projection ``y = W_ho h + b_o``.

    cell: "rnn" or "lstm". layers: one name suffix per stacked layer (bottom first).
    reverse: run backward in time. out: suffix of this branch's ``W_ho``/``b_o``.
    """

    cell: str
    layers: tuple
    reverse: bool
    out: str


#: The recurrent models. "average" and "tconv" have no branch: see ``param_shapes``.
ARCHITECTURES = {
    "rnn": (Branch("rnn", ("",), False, ""),),
    "lstm": (Branch("lstm", ("",), False, ""),),
    "birnn": (Branch("rnn", ("_f",), False, "_f"), Branch("rnn", ("_b",), True, "_b")),
    "bilstm": (Branch("lstm", ("_f",), False, "_f"), Branch("lstm", ("_b",), True, "_b")),
    "rnn2": (Branch("rnn", ("_1", "_2"), False, ""),),
}

#: The weights that multiply h_{t-1}; the other matrices of a layer multiply its input x_t.
HIDDEN_WEIGHTS = {"W_hh"} | {LSTM_GATE_PARAMS[gate][1] for gate in GATES}

MODELS = ("average",) + tuple(ARCHITECTURES) + ("tconv",)

#: The options each model family accepts, with their defaults (same in NumPy and PyTorch): the
#: ``paper`` configuration's (issue 15: one default everywhere). docs/models.md ("API") says what
#: each option means; ``width`` (the tconv's K, odd) has no value in the paper: 3, our choice.
RNN_OPTIONS = {"relu_grad_at_zero": 0.5, "rnn_step": "equation", "learn_init": True}
AVERAGE_OPTIONS = {"relu_grad_at_zero": 0.5}
LSTM_OPTIONS = {"peepholes": True, "lasagne_output_gate": True}
TCONV_OPTIONS = {"relu_grad_at_zero": 0.5, "width": 3}
OPTIONS = {"average": AVERAGE_OPTIONS, "rnn": RNN_OPTIONS, "lstm": LSTM_OPTIONS,
           "tconv": TCONV_OPTIONS}
#: The Average model's dropout on its hidden layer (the paper gives no rate: 0.5, Lasagne's
#: default, our choice); ``configurations.TRAINING.dropout`` reads it.
AVERAGE_DROPOUT = 0.5
RNN_STEPS = ("equation", "nntools")


def time_steps(T, reverse):
    """The order a layer visits t = 0..T-1 in: forward, or backward in time (``reverse``)."""
    return range(T - 1, -1, -1) if reverse else range(T)


def cell_of(name):
    """"average", "rnn", "lstm" or "tconv": the family of a model name (raises ValueError if
    unknown)."""
    if name in ("average", "tconv"):
        return name
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    return ARCHITECTURES[name][0].cell


def default_options(name):
    """The options model ``name`` accepts, with their defaults."""
    return dict(OPTIONS[cell_of(name)])


def resolve_options(name, options):
    """Defaults updated by ``options``; a clear TypeError for an option the model does not take."""
    resolved = default_options(name)
    unknown = sorted(set(options) - set(resolved))
    if unknown:
        allowed = ", ".join(resolved) or "none"
        raise TypeError(f"model {name!r} takes no option {', '.join(unknown)} (it takes: {allowed})")
    resolved.update(options)
    if resolved.get("relu_grad_at_zero", 0.0) not in (0.0, 0.5):
        raise ValueError("relu_grad_at_zero must be 0.0 (the usual convention) "
                         "or 0.5 (Lasagne's rectify = (x + |x|) / 2)")
    if resolved.get("rnn_step", "equation") not in RNN_STEPS:
        raise ValueError(f"rnn_step must be one of {', '.join(RNN_STEPS)}, "
                         f"got {resolved['rnn_step']!r}")
    for flag in ("learn_init", "peepholes", "lasagne_output_gate"):
        if flag in resolved and not isinstance(resolved[flag], bool):
            raise ValueError(f"{flag} must be True or False, got {resolved[flag]!r}")
    if "width" in resolved:
        width = resolved["width"]
        if isinstance(width, bool) or not isinstance(width, int) or width < 1 or width % 2 == 0:
            raise ValueError(f"width must be an odd integer >= 1 (the kernel reaches (width - 1) "
                             f"/ 2 frames either side of t), got {width!r}")
    return resolved


def learns_initial_state(branch, learn_init=True):
    """True when the layers of ``branch`` learn their initial state ``h_init``: RNN layers that
    run backward in time, under ``learn_init`` (fce361f's ``learn_init=backwards``)."""
    return bool(learn_init) and branch.cell == "rnn" and branch.reverse


def layer_param_names(cell, peepholes=True, h_init=False):
    """The unsuffixed parameter names of one recurrent layer, in gate order for the LSTM.

    ``h_init``: the layer learns its initial state (RNN only; see ``learns_initial_state``)."""
    if cell == "rnn":
        return ("W_ih", "W_hh", "b_h") + (("h_init",) if h_init else ())
    return tuple(pname for gate in GATES for pname in LSTM_GATE_PARAMS[gate]
                 if pname is not None and (peepholes or not pname.startswith("w_c")))


def layer_shapes(cell, suffix, input_dim, hidden_dim, peepholes=True, h_init=False):
    """Parameter name (with ``suffix``) -> shape, for one recurrent layer. ``h_init`` is (H,):
    one initial state shared by every video of a batch."""
    def shape(pname):
        if pname.startswith(("b_", "w_c", "h_init")):
            return (hidden_dim,)
        return (hidden_dim, hidden_dim) if pname in HIDDEN_WEIGHTS else (hidden_dim, input_dim)
    return {pname + suffix: shape(pname) for pname in layer_param_names(cell, peepholes, h_init)}


def param_shapes(name, input_dim, hidden_dim, n_classes, output_dim=None, peepholes=True,
                 learn_init=True, width=TCONV_OPTIONS["width"], **options):
    """Every parameter of model ``name``: an ordered dict name -> shape.

    The keys are those of the PyTorch module's ``state_dict()`` and of the reference's
    ``params``/``grads`` dicts. ``output_dim`` (O, the size of y_t) defaults to ``hidden_dim``
    ("average" and "tconv" ignore it: their W_s reads h, O = H). The options that change the
    parameter set: ``peepholes`` (w_c*), ``learn_init`` (h_init) and ``width`` (K of W_conv);
    a model ignores the options it does not take, so its whole option dict may be passed.
    """
    unknown = sorted(set(options).difference(*OPTIONS.values()))
    if unknown:
        raise TypeError(f"param_shapes takes no option {', '.join(unknown)}")
    D, H, C = input_dim, hidden_dim, n_classes
    if cell_of(name) == "average":
        return {"W_ih": (H, D), "b_h": (H,), "W_s": (C, H), "b_s": (C,)}
    if cell_of(name) == "tconv":
        return {"W_conv": (H, D, width), "b_conv": (H,), "W_s": (C, H), "b_s": (C,)}
    O = hidden_dim if output_dim is None else output_dim
    shapes = {}
    for branch in ARCHITECTURES[name]:
        layer_input = D
        h_init = learns_initial_state(branch, learn_init)
        for suffix in branch.layers:
            shapes.update(layer_shapes(branch.cell, suffix, layer_input, H, peepholes, h_init))
            layer_input = H
        shapes[f"W_ho{branch.out}"] = (O, H)
        shapes[f"b_o{branch.out}"] = (O,)
    shapes["W_s"] = (C, O)
    shapes["b_s"] = (C,)
    return shapes


def infer_dims(name, params):
    """(D, H, C, O) read off a parameter dict of model ``name`` (KeyError if a key is missing)."""
    C, O = params["W_s"].shape
    if cell_of(name) == "average":
        H, D = params["W_ih"].shape
    elif cell_of(name) == "tconv":
        H, D, _ = params["W_conv"].shape
    else:
        first = ARCHITECTURES[name][0]
        H, D = params[("W_ih" if first.cell == "rnn" else "W_xi") + first.layers[0]].shape
    return D, H, C, O


def check_params(name, params, peepholes=True, learn_init=True, **options):
    """(D, H, C, O) of ``params``; a clear ValueError unless they are exactly the parameter set
    of model ``name`` (with ``peepholes``/``learn_init``/``width`` as in ``param_shapes``), every
    key present and every shape consistent."""
    try:
        D, H, C, O = infer_dims(name, params)
    except KeyError as missing:
        raise ValueError(f"parameters of model {name!r} lack {missing}") from None
    check_shapes(params, param_shapes(name, D, H, C, O, peepholes, learn_init, **options),
                 f"model {name!r} (D={D}, H={H}, C={C})")
    return D, H, C, O


def check_shapes(params, expected, what):
    """A ValueError naming ``what`` unless ``params`` hold exactly the ``expected`` shapes."""
    got = {key: tuple(value.shape) for key, value in params.items()}
    if got != expected:
        wrong = {k: got.get(k, "missing") for k in expected if got.get(k) != expected[k]}
        raise ValueError(f"parameters do not fit {what}: expected shapes {expected}; wrong or "
                         f"missing: {wrong}; unexpected: {sorted(set(got) - set(expected))}")
