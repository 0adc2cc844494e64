"""Srivastava et al. (2015)'s composite LSTM model in NumPy float64: forward and hand-derived
backward (backpropagation through time), built from ``reference.layers``' LSTM functions.

    (x_hat_rec, x_hat_fut), cache = forward(params, x, split=None, **options)
    loss, grads = backward(cache)

Srivastava, Mansimov & Salakhutdinov, "Unsupervised Learning of Video Representations using
LSTMs" (2015), section 2: an *encoder* LSTM reads the first k codes x_1..x_k of a video; its last
state (h_k, c_k) is the representation, and it starts two *decoder* LSTMs:

- the reconstruction decoder ("LSTM Autoencoder Model") outputs the input in reverse order,
  x_hat_k, x_hat_{k-1}, ..., x_hat_1 (its step s = 1..k predicts x_{k+1-s});
- the future predictor ("LSTM Future Predictor Model") outputs x_hat_{k+1}..x_hat_T.

Both decoders are *unconditioned* (Srivastava found conditioned and unconditioned decoders
about equal): they read no input, that is an LSTM layer whose input has dimension 0, so each
gate's pre-activation is W_h* h_{s-1} (+ w_c* c) + b_*. Their readout is linear,
x_hat_s = W_r h_s + b_r (the codes are real, not binary: no sigmoid). The loss is the squared
error per code, averaged over the videos and the T predicted codes (Srivastava: "squared loss"):

    L = (1 / (N T)) sum_n [ sum_{s=1..k} ||x_hat_rec_s - x_{k+1-s}||^2
                            + sum_{s=k+1..T} ||x_hat_fut_s - x_s||^2 ]

Every LSTM is Graves' cell of the classifier (``reference.layers.lstm_step_forward``, Graves 2013
eq. 7-11, with the same ``peepholes``/``lasagne_output_gate`` options), from h_0 = c_0 = 0 for
the encoder, from (h_k, c_k) with x = 0 for a decoder.

Parameter names: the encoder's are EXACTLY the ``lstm`` classifier's (``W_xi, W_hi, w_ci, b_i,
..., W_ho_gate, w_co, b_o_gate``), so that they load one to one into it as its initial values
(Srivastava's fine-tuning); the decoders' gates (no W_x*) are suffixed ``_rec`` or ``_fut``, their
readouts are ``W_r_rec``/``b_r_rec`` and ``W_r_fut``/``b_r_fut``, W_r (D, H).

Letters: N batch, T time, D input (the code), H hidden, k the split point.
"""
import numpy as np

from . import layers as L
from .architecture import (GATES, LSTM_GATE_PARAMS, check_shapes, layer_param_names, layer_shapes,
                           resolve_options)

#: The decoders' suffixes: the reconstruction of x_k..x_1, the prediction of x_{k+1}..x_T.
DECODERS = ("_rec", "_fut")
#: The weights that multiply an LSTM's input x_t (none in an unconditioned decoder).
INPUT_WEIGHTS = tuple(LSTM_GATE_PARAMS[gate][0] for gate in GATES)


def split_point(T, split=None):
    """k: the encoder reads x_1..x_k, the future predictor outputs x_{k+1}..x_T. ``split=None``
    is T // 2 (5 of the paper's 10 codes); a ValueError unless 1 <= k <= T - 1."""
    k = T // 2 if split is None else split
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= T - 1:
        raise ValueError(f"the autoencoder's split point must be an integer from 1 to T - 1 = "
                         f"{T - 1} (the encoder reads x_1..x_k, the future predictor outputs "
                         f"x_(k+1)..x_T), got {split!r}")
    return int(k)


def encoder_names(peepholes=True):
    """The encoder's parameter names: those of the ``lstm`` classifier's LSTM layer."""
    return layer_param_names("lstm", peepholes)


def decoder_names(peepholes=True):
    """A decoder's unsuffixed gate parameter names: the LSTM's without the input weights."""
    return tuple(name for name in layer_param_names("lstm", peepholes) if name not in INPUT_WEIGHTS)


def autoencoder_shapes(input_dim, hidden_dim, peepholes=True):
    """Every parameter of the composite model: an ordered dict name -> shape (the PyTorch
    module's ``state_dict()`` keys). The encoder's entries equal the ``lstm`` classifier's."""
    D, H = input_dim, hidden_dim
    shapes = layer_shapes("lstm", "", D, H, peepholes)
    for suffix in DECODERS:
        gates = layer_shapes("lstm", suffix, D, H, peepholes)
        shapes.update({name + suffix: gates[name + suffix] for name in decoder_names(peepholes)})
        shapes["W_r" + suffix] = (D, H)
        shapes["b_r" + suffix] = (D,)
    return shapes


def targets(x, k):
    """What the decoders should output: {"_rec": x_k..x_1 (N, k, D), "_fut": x_{k+1}..x_T
    (N, T - k, D)}."""
    return {"_rec": np.flip(x[:, :k], axis=1), "_fut": x[:, k:]}


def check_params(params, input_dim, peepholes=True):
    """H of ``params``; a ValueError unless they are exactly the composite model's parameters
    for codes of dimension ``input_dim``."""
    if "b_i" not in params:
        raise ValueError("autoencoder parameters lack the encoder's b_i")
    H = params["b_i"].shape[0]
    check_shapes(params, autoencoder_shapes(input_dim, H, peepholes),
                 f"the composite autoencoder (D={input_dim}, H={H})")
    return H


def forward(params, x, split=None, **options):
    """The composite model. x (N, T, D) -> (x_hat_rec (N, k, D), x_hat_fut (N, T - k, D)), cache.

    options: the LSTM's, ``peepholes`` and ``lasagne_output_gate`` (defaults: the ``paper``
    configuration's, as ``reference.architecture.LSTM_OPTIONS``).
    """
    options = resolve_options("lstm", options)
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 3:
        raise ValueError(f"x must be (N, T, D), got shape {x.shape}")
    N, T, D = x.shape
    k = split_point(T, split)
    peepholes, gate = options["peepholes"], options["lasagne_output_gate"]
    H = check_params(params, D, peepholes)
    encoder = {name: params[name] for name in encoder_names(peepholes)}
    _, state, enc_cache = L.lstm_forward(x[:, :k], encoder, False, peepholes, gate,
                                         return_state=True)                    # (h_k, c_k)
    outputs, dec_caches = {}, {}
    for suffix, steps in zip(DECODERS, (k, T - k)):
        p = {name: params[name + suffix] for name in decoder_names(peepholes)}
        p.update({name: np.zeros((H, 0)) for name in INPUT_WEIGHTS})            # no input
        h_dec, run_cache = L.lstm_forward(np.zeros((N, steps, 0)), p, False, peepholes, gate,
                                          state)                                # (N, steps, H)
        outputs[suffix], out_cache = L.affine_forward(h_dec, params["W_r" + suffix],
                                                      params["b_r" + suffix])   # (N, steps, D)
        dec_caches[suffix] = (run_cache, out_cache)
    cache = (targets(x, k), outputs, enc_cache, dec_caches, (N, T, H, k), peepholes)
    return (outputs["_rec"], outputs["_fut"]), cache


def backward(cache):
    """The loss L (module docstring) and its gradient for every parameter (dict, keyed as
    ``autoencoder_shapes``).

        dL/dx_hat_s = 2 (x_hat_s - target_s) / (N T)
        readout:  dW_r = sum_{n,s} dx_hat_s h_s^T,  db_r = sum_{n,s} dx_hat_s,  dh_s = W_r^T dx_hat_s
        decoders: BPTT from their last step to (h_0, c_0) = (h_k, c_k); both decoders' dh_0, dc_0
                  add up at the encoder's last state
        encoder:  BPTT from dh_k, dc_k (no other gradient reaches h_1..h_{k-1} from outside)
    """
    target, outputs, enc_cache, dec_caches, (N, T, H, k), peepholes = cache
    loss, grads = 0.0, {}
    dh_k, dc_k = np.zeros((N, H)), np.zeros((N, H))
    for suffix in DECODERS:
        error = outputs[suffix] - target[suffix]                                # (N, steps, D)
        loss += float(np.sum(error ** 2)) / (N * T)
        run_cache, out_cache = dec_caches[suffix]
        dh_dec, grads["W_r" + suffix], grads["b_r" + suffix] = L.affine_backward(
            2.0 * error / (N * T), out_cache)                                  # (N, steps, H)
        _, dp, dh0, dc0 = L.lstm_backward(dh_dec, run_cache, np.zeros((N, H)))
        dh_k += dh0
        dc_k += dc0
        grads.update({name + suffix: dp[name] for name in decoder_names(peepholes)})
    dh_enc = np.zeros((N, k, H))
    dh_enc[:, -1] = dh_k
    _, dp, _, _ = L.lstm_backward(dh_enc, enc_cache, dc_k)
    grads.update(dp)
    return loss, grads
