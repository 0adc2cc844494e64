"""The paper's models in NumPy float64: ``forward`` and hand-derived ``backward``.

    p, cache = forward(name, params, x, **options)
    loss, grads = backward(cache, labels, loss="averaged")

``params`` and ``grads`` are dicts of float64 arrays keyed like the PyTorch module's
``state_dict()`` (see ``reference.architecture.param_shapes``). x is (N, T, D); p (N, C) is
the time-averaged class probability. The paper gives only its prediction rule (argmax of p),
not its training loss; ``backward`` computes either form:

    loss="averaged":  L = -(1/N) sum_n log p_n[label_n]      (cross-entropy of p; Lasagne's
                      ``categorical_crossentropy`` on the averaged softmax)
    loss="per-step":  L = -(1/(N T)) sum_n sum_t log P_t[n, label_n]   (mean of the per-step
                      cross-entropies; for the Average model, whose P_t = p, the two agree)

Average model (section "Models", first paragraph)::

    x_bar = (1/T) sum_t x_t
    h     = ReLU(W_ih x_bar + b_h),   then dropout (explicit mask)
    p     = softmax(W_s h + b_s)

Recurrent models: ``reference.architecture`` for the branch/readout structure and
``reference.layers`` for the cell equations. Temporal convolution ("tconv"): the recurrent
models' readout P_t = softmax(W_s h_t + b_s) on ``reference.layers.tconv_forward``'s h_t.
"""
import numpy as np

from . import layers as L
from .architecture import (ARCHITECTURES, cell_of, check_params, layer_param_names,
                           learns_initial_state, resolve_options)

LOSSES = ("averaged", "per-step")


def forward(name, params, x, dropout_mask=None, **options):
    """Forward pass of model ``name``. x (N, T, D) -> p (N, C), cache.

    dropout_mask: (N, H) mask for the Average model (None: no dropout, as at test time).
    options: as ``reference.architecture.default_options(name)``.
    """
    options = resolve_options(name, options)
    x = np.asarray(x, dtype=np.float64)
    D = check_params(name, params, **options)[0]
    if x.ndim != 3 or x.shape[-1] != D:
        raise ValueError(f"x must be (N, T, D) with input dim D = {D}, got shape {x.shape}")
    if cell_of(name) == "average":
        return _average_forward(params, x, dropout_mask, options["relu_grad_at_zero"])
    if dropout_mask is not None:
        raise TypeError(f"model {name!r} has no dropout; dropout_mask is for 'average'")
    if cell_of(name) == "tconv":
        y, hidden_cache = L.tconv_forward(x, params["W_conv"], params["b_conv"],
                                          options["relu_grad_at_zero"])         # (N, T, H)
    else:
        y, hidden_cache = _recurrent_forward(name, params, x, options)          # (N, T, O)
    s, s_cache = L.affine_forward(y, params["W_s"], params["b_s"])             # (N, T, C)
    P, P_cache = L.softmax_forward(s)                                           # (N, T, C)
    p, p_cache = L.time_average_forward(P)                                      # (N, C)
    return p, (name, options, hidden_cache, s_cache, P_cache, p_cache, p)


def _recurrent_forward(name, params, x, options):
    """y (N, T, O): the branches' outputs summed, and their caches."""
    y = 0.0
    branch_caches = []
    for branch in ARCHITECTURES[name]:
        h, layer_caches = x, []
        for suffix in branch.layers:
            h, layer_cache = _layer_forward(params, branch, suffix, h, options)
            layer_caches.append(layer_cache)
        y_branch, out_cache = L.affine_forward(h, params["W_ho" + branch.out], params["b_o" + branch.out])
        y = y + y_branch                                                        # (N, T, O)
        branch_caches.append((layer_caches, out_cache))
    return y, branch_caches


def _layer_forward(params, branch, suffix, x, options):
    """One recurrent layer (its parameters: the names ending in ``suffix``) over x."""
    h_init = learns_initial_state(branch, options.get("learn_init", False))
    names = layer_param_names(branch.cell, options.get("peepholes", True), h_init)
    p = {pname: params[pname + suffix] for pname in names}
    if branch.cell == "rnn":
        return L.rnn_forward(x, p["W_ih"], p["W_hh"], p["b_h"], branch.reverse,
                             options["relu_grad_at_zero"], options["rnn_step"], p.get("h_init"))
    return L.lstm_forward(x, p, branch.reverse, options["peepholes"], options["lasagne_output_gate"])


def _average_forward(params, x, dropout_mask, relu_grad_at_zero):
    x_bar, T = L.time_average_forward(x)                                        # (N, D)
    a, a_cache = L.affine_forward(x_bar, params["W_ih"], params["b_h"])         # (N, H)
    h, h_cache = L.relu_forward(a, relu_grad_at_zero)
    h_drop, drop_cache = L.dropout_forward(h, dropout_mask)
    s, s_cache = L.affine_forward(h_drop, params["W_s"], params["b_s"])         # (N, C)
    p, P_cache = L.softmax_forward(s)
    return p, ("average", T, a_cache, h_cache, drop_cache, s_cache, P_cache, p)


def backward(cache, labels, loss="averaged", input_grad=False):
    """Loss and the gradient of the loss for every parameter. labels (N,) ints in [0, C).

    loss: "averaged" (cross-entropy of the time-averaged p) or "per-step" (mean over t of the
    cross-entropies of P_t); see the module docstring. ``input_grad=True``: also dL/dx
    (N, T, D), returned third (``reference.finetune`` backpropagates it into fc7).
    """
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {', '.join(LOSSES)}, got {loss!r}")
    labels = np.asarray(labels)
    p = cache[-1]
    if cache[0] == "average":  # one prediction per video: P_t = p, both forms are one loss
        value, dp = L.nll_loss(p, labels)
        grads, dx = _average_backward(dp, cache)
        return (value, grads, dx) if input_grad else (value, grads)
    name, options, hidden_cache, s_cache, P_cache, p_cache, _ = cache
    grads = {}
    if loss == "averaged":
        value, dp = L.nll_loss(p, labels)
        dP = L.time_average_backward(dp, p_cache)                               # (N, T, C)
    else:
        value, dP = L.per_step_nll_loss(P_cache, labels)                        # (N, T, C)
    ds = L.softmax_backward(dP, P_cache)
    dy, grads["W_s"], grads["b_s"] = L.affine_backward(ds, s_cache)
    if cell_of(name) == "tconv":
        dx, grads["W_conv"], grads["b_conv"] = L.tconv_backward(dy, hidden_cache)
    else:
        dx, recurrent_grads = _recurrent_backward(dy, name, options, hidden_cache)
        grads.update(recurrent_grads)
    return (value, grads, dx) if input_grad else (value, grads)


def _recurrent_backward(dy, name, options, branch_caches):
    """Backpropagation through the branches from dy (N, T, O): dx (N, T, D), summed over the
    branches, and their parameters' gradients."""
    grads, dx = {}, 0.0
    for branch, (layer_caches, out_cache) in zip(ARCHITECTURES[name], branch_caches):
        dh, grads["W_ho" + branch.out], grads["b_o" + branch.out] = L.affine_backward(dy, out_cache)
        for suffix, layer_cache in reversed(list(zip(branch.layers, layer_caches))):
            if branch.cell == "rnn":
                dh, *dlayer = L.rnn_backward(dh, layer_cache)
                dlayer = dict(zip(("W_ih", "W_hh", "b_h", "h_init"), dlayer))
                if not learns_initial_state(branch, options["learn_init"]):
                    del dlayer["h_init"]
            else:
                dh, dlayer = L.lstm_backward(dh, layer_cache)
            grads.update({k + suffix: v for k, v in dlayer.items()})
        dx = dx + dh
    return dx, grads


def _average_backward(dp, cache):
    _, T, a_cache, h_cache, drop_cache, s_cache, P_cache, _ = cache
    grads = {}
    ds = L.softmax_backward(dp, P_cache)
    dh_drop, grads["W_s"], grads["b_s"] = L.affine_backward(ds, s_cache)
    da = L.relu_backward(L.dropout_backward(dh_drop, drop_cache), h_cache)
    dx_bar, grads["W_ih"], grads["b_h"] = L.affine_backward(da, a_cache)
    return grads, L.time_average_backward(dx_bar, T)
