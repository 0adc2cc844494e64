"""Weights from Lasagne 0.1, which the Theano oracle runs, to ours: the one place the layouts
are mapped (the paper ran craffel's nntools of March 2015; the nntools row below is its RNN
step built from 0.1's layers).

Lasagne stores a layer's weights as (inputs, units) and computes ``x W``; we store them as the
paper multiplies them, (units, inputs), and compute ``W x``: every matrix is transposed.
The Lasagne side is named ``<layer>.<attribute>``, with Lasagne's own attribute names (the
nntools row's sub-layers with the names ``parity_tests/lasagne_oracle.py`` gives them):

    layer      attributes (Lasagne 0.1)                              ours
    rec        W_in_to_hid (D,H), W_hid_to_hid (H,H), b (H,)          W_ih, W_hh, b_h
               hid_init (1,H), trainable when learn_init=True         h_init (H,)
    rec        (rnn_step="nntools": craffel's fce361f step, in Lasagne 0.1 a
               CustomRecurrentLayer(input_to_hidden=DenseLayer(D->H, rectify),
               hidden_to_hidden=DenseLayer(H->H, b=None, rectify), nonlinearity=rectify),
               h_t = rectify(rectify(x_t W + b) + rectify(h_{t-1} U)))
               in_to_hid.W (D,H), in_to_hid.b (H,), hid_to_hid.W (H,H)  W_ih, b_h, W_hh
    lstm       W_in_to_<gate>, W_hid_to_<gate>, b_<gate>              W_x*, W_h*, b_*
               W_cell_to_<gate> (peepholes, vectors)                  w_c*
               gate: ingate, forgetgate, cell, outgate                i, f, c, o
    out        W (H,O), b  (the DenseLayer after the recurrent one)   W_ho, b_o
    softmax    W (O,C), b                                             W_s, b_s
    hidden     W (D,H), b  (Average model's first DenseLayer)         W_ih, b_h

Layers carry the suffix of their branch or stack position, as our names do: ``rec_f``/``rec_b``
and ``out_f``/``out_b`` (BiRNN), ``lstm_f``/``lstm_b`` (BiLSTM), ``rec_1``/``rec_2`` (RNN2).
``rec_b.hid_init`` is our ``h_init_b`` when the model learns its backward layer's initial state
(``learn_init``); otherwise ``hid_init``/``cell_init`` may be given but must be 0.
"""
import numpy as np

from reference.architecture import (ARCHITECTURES, LSTM_GATE_PARAMS, cell_of, check_params,
                                    layer_param_names, learns_initial_state)

LASAGNE_GATES = {"i": "ingate", "f": "forgetgate", "c": "cell", "o": "outgate"}
RNN_NAMES = {"W_ih": "W_in_to_hid", "W_hh": "W_hid_to_hid", "b_h": "b", "h_init": "hid_init"}
NNTOOLS_RNN_NAMES = {"W_ih": "in_to_hid.W", "W_hh": "hid_to_hid.W", "b_h": "in_to_hid.b",
                     "h_init": "hid_init"}
#: W_xi -> W_in_to_ingate, W_hi -> W_hid_to_ingate, w_ci -> W_cell_to_ingate, b_i -> b_ingate, ...
LSTM_NAMES = {ours: f"{prefix}_{LASAGNE_GATES[gate]}" for gate, params in LSTM_GATE_PARAMS.items()
              for ours, prefix in zip(params, ("W_in_to", "W_hid_to", "W_cell_to", "b")) if ours}


def lasagne_names(name, peepholes=True, learn_init=True, rnn_step="equation"):
    """Our parameter name -> Lasagne '<layer>.<attribute>' name, for model ``name`` with these
    options (``peepholes``: LSTM family; ``learn_init``, ``rnn_step``: RNN family)."""
    if cell_of(name) == "average":
        return {"W_ih": "hidden.W", "b_h": "hidden.b", "W_s": "softmax.W", "b_s": "softmax.b"}
    names = {}
    for branch in ARCHITECTURES[name]:
        layer = "rec" if branch.cell == "rnn" else "lstm"
        h_init = learns_initial_state(branch, learn_init)
        attributes = (LSTM_NAMES if branch.cell == "lstm"
                      else NNTOOLS_RNN_NAMES if rnn_step == "nntools" else RNN_NAMES)
        for suffix in branch.layers:
            for ours in layer_param_names(branch.cell, peepholes, h_init):
                names[ours + suffix] = f"{layer}{suffix}.{attributes[ours]}"
        names["W_ho" + branch.out] = f"out{branch.out}.W"
        names["b_o" + branch.out] = f"out{branch.out}.b"
    names.update({"W_s": "softmax.W", "b_s": "softmax.b"})
    return names


def from_lasagne(name, values, peepholes=True, learn_init=True, rnn_step="equation"):
    """Our parameters (dict of arrays, keys as ``state_dict()``) from Lasagne 0.1 weights.

    name: one of our model names; values: '<layer>.<attribute>' -> array (see module docstring);
    options as ``lasagne_names``. Works for gradients too (they have the weights' layout).
    Strict: a ValueError on a missing or unused key, a wrong shape, or a non-zero initial state
    that the model does not learn, never a partial load.
    """
    names = lasagne_names(name, peepholes, learn_init, rnn_step)
    unused = set(values) - set(names.values())
    for key in sorted(k for k in unused if k.endswith(("hid_init", "cell_init"))):
        if np.any(np.asarray(values[key]) != 0):
            raise ValueError(f"{key} is not zero: our models start from h_0 = c_0 = 0")
        unused.discard(key)
    missing = sorted(v for v in names.values() if v not in values)
    if missing or unused:
        raise ValueError(f"Lasagne weights do not fit model {name!r}: "
                         f"missing {missing or 'nothing'}, unused {sorted(unused) or 'nothing'}")
    ours = {}
    for k, v in names.items():
        value = np.asarray(values[v])
        if v.endswith(".hid_init"):   # (1, H), one state for the whole batch -> (H,)
            if value.ndim != 2 or value.shape[0] != 1:
                raise ValueError(f"{v} must have shape (1, H), got {value.shape}")
            ours[k] = value[0].copy()
        else:
            ours[k] = value.T.copy()   # (in, out) -> (out, in)
    check_params(name, ours, peepholes, learn_init)
    return ours


def to_lasagne(name, params, peepholes=True, learn_init=True, rnn_step="equation"):
    """The inverse of ``from_lasagne``: our parameters under Lasagne names and layouts."""
    return {v: (np.asarray(params[k])[None, :].copy() if v.endswith(".hid_init")
                else np.asarray(params[k]).T.copy())
            for k, v in lasagne_names(name, peepholes, learn_init, rnn_step).items()}
