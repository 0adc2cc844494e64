"""The paper's equations in NumPy float64: forward/backward pairs with caches.

In the style of CS231n's ``layers.py``/``rnn_layers.py``: each ``*_forward`` returns
``(out, cache)`` and the matching ``*_backward(dout, cache)`` returns the gradients, named
``d<name>``. Backward passes are derived by hand (backpropagation through time for the
recurrent layers) and checked against central finite differences in ``parity_tests``.

Letters: N batch, T time, D input, H hidden, M output of an affine map, C classes, K kernel
width. ``relu_grad_at_zero``: ReLU's derivative at exactly 0, 0 as ``torch.relu`` or 0.5 as
Lasagne's rectify (it matters: a zero state, bias and input give a pre-activation of exactly 0).
"""
import numpy as np

from .architecture import GATES, LSTM_GATE_PARAMS, RNN_STEPS, time_steps


# ---------------------------------------------------------------- feed-forward pieces

def affine_forward(x, W, b):
    """out = W x + b over the last axis. x (..., D), W (M, D), b (M,) -> out (..., M)."""
    return x @ W.T + b, (x, W)


def affine_backward(dout, cache):
    """dout (..., M) -> dx (..., D), dW (M, D), db (M,)."""
    x, W = cache
    dx = dout @ W
    dout2, x2 = dout.reshape(-1, dout.shape[-1]), x.reshape(-1, x.shape[-1])
    return dx, dout2.T @ x2, dout2.sum(axis=0)


def relu_forward(a, relu_grad_at_zero=0.0):
    """max(a, 0), elementwise."""
    return np.maximum(a, 0.0), (a, relu_grad_at_zero)


def relu_backward(dout, cache):
    a, grad_at_zero = cache
    slope = np.where(a > 0, 1.0, np.where(a == 0, grad_at_zero, 0.0))
    return dout * slope


def dropout_forward(x, mask):
    """Inverted dropout with an explicit mask (entries 0 or 1/(1-p), as Lasagne's rescale=True);
    ``mask=None`` is the deterministic (test-time) pass: out = x."""
    return (x if mask is None else x * mask), mask


def dropout_backward(dout, mask):
    return dout if mask is None else dout * mask


def softmax_forward(s):
    """P = softmax(s) over the last axis (max-shifted for stability)."""
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    P = e / e.sum(axis=-1, keepdims=True)
    return P, P


def softmax_backward(dP, P):
    """ds_k = P_k (dP_k - sum_j dP_j P_j)."""
    return P * (dP - (dP * P).sum(axis=-1, keepdims=True))


def time_average_forward(P):
    """p = (1/T) sum_t P_t. P (N, T, C) -> p (N, C)."""
    return P.mean(axis=1), P.shape[1]


def time_average_backward(dp, T):
    return np.repeat(dp[:, None, :] / T, T, axis=1)


def nll_loss(p, labels):
    """L = -(1/N) sum_n log p_n[label_n] and dL/dp. p (N, C), labels (N,) ints: the per-step
    loss of a single step."""
    loss, dP = per_step_nll_loss(p[:, None], labels)
    return loss, dP[:, 0]


def sigmoid(a):
    """1 / (1 + exp(-a)), without overflow for large |a|."""
    z = np.exp(-np.abs(a))
    return np.where(a >= 0, 1.0 / (1.0 + z), z / (1.0 + z))


def per_step_nll_loss(P, labels):
    """The mean of per-step cross-entropies and dL/dP. P (N, T, C), labels (N,) ints.

        L = -(1/(N T)) sum_n sum_t log P_t[n, label_n]
        dL/dP_t[n, k] = -1 / (N T P_t[n, label_n])  if k = label_n, else 0
    """
    N, T, _ = P.shape
    rows = np.arange(N)[:, None]
    steps = np.arange(T)[None, :]
    picked = P[rows, steps, labels[:, None]]                                  # (N, T)
    loss = -np.log(picked).mean()
    dP = np.zeros_like(P)
    dP[rows, steps, labels[:, None]] = -1.0 / (N * T * picked)
    return loss, dP


# ---------------------------------------------------------------- vanilla RNN (paper eq. 1)

def rnn_step_forward(x, h_prev, W_ih, W_hh, b_h, relu_grad_at_zero=0.0, step="equation"):
    """One step of the vanilla recurrent layer.

    step="equation" (the paper's, section "Models"):
        h_t = ReLU(W_ih x_t + W_hh h_{t-1} + b_h)
    step="nntools" (craffel's RecurrentLayer at Lasagne commit fce361f, 2015-03-18: its
    input-to-hidden and hidden-to-hidden DenseLayers each apply the layer's rectify, and the
    step applies it again):
        u_t = W_ih x_t + b_h,   v_t = W_hh h_{t-1}
        h_t = ReLU(ReLU(u_t) + ReLU(v_t))          (= ReLU(u_t) + ReLU(v_t) in value)
    The outer ReLU only matters for the gradient: where u_t <= 0 and v_t <= 0 its argument is
    exactly 0, and with ``relu_grad_at_zero=0.5`` (rectify) it halves what passes through.

    x (N, D), h_prev (N, H), W_ih (H, D), W_hh (H, H), b_h (H,) -> h (N, H).
    """
    if step == "equation":
        a = x @ W_ih.T + h_prev @ W_hh.T + b_h                               # (N, H)
        h, relu_cache = relu_forward(a, relu_grad_at_zero)
        return h, (x, h_prev, W_ih, W_hh, step, relu_cache)
    if step != "nntools":
        raise ValueError(f"rnn step must be one of {', '.join(RNN_STEPS)}, got {step!r}")
    u, u_cache = relu_forward(x @ W_ih.T + b_h, relu_grad_at_zero)           # (N, H)
    v, v_cache = relu_forward(h_prev @ W_hh.T, relu_grad_at_zero)            # (N, H)
    h, z_cache = relu_forward(u + v, relu_grad_at_zero)
    return h, (x, h_prev, W_ih, W_hh, step, (u_cache, v_cache, z_cache))


def rnn_step_backward(dh, cache):
    """dh (N, H) -> dx, dh_prev, dW_ih, dW_hh, db_h.

    equation: da = dh * ReLU'(a); dx = da W_ih, dh_prev = da W_hh, dW_ih = da^T x,
              dW_hh = da^T h_prev, db_h = sum_n da.
    nntools:  dz = dh * ReLU'(z) with z = ReLU(u) + ReLU(v); du = dz * ReLU'(u),
              dv = dz * ReLU'(v); dx = du W_ih, db_h = sum_n du, dW_ih = du^T x,
              dh_prev = dv W_hh, dW_hh = dv^T h_prev.
    """
    x, h_prev, W_ih, W_hh, step, relu_cache = cache
    if step == "equation":
        du = dv = relu_backward(dh, relu_cache)
    else:
        u_cache, v_cache, z_cache = relu_cache
        dz = relu_backward(dh, z_cache)
        du, dv = relu_backward(dz, u_cache), relu_backward(dz, v_cache)
    return du @ W_ih, dv @ W_hh, du.T @ x, dv.T @ h_prev, du.sum(axis=0)


def rnn_forward(x, W_ih, W_hh, b_h, reverse=False, relu_grad_at_zero=0.0, step="equation",
                h_init=None):
    """Run the recurrence over a sequence from h_0 = h_init (h_{T+1} = h_init when ``reverse``).

    h_init (H,): the learnt initial state, the same for every video of the batch; None: 0.
    x (N, T, D) -> h (N, T, H); h[:, t] is always the state at input time t.
    """
    N, T, _ = x.shape
    H = W_hh.shape[0]
    h = np.zeros((N, T, H))
    h_prev = np.zeros((N, H)) if h_init is None else np.broadcast_to(h_init, (N, H)).copy()
    caches = [None] * T
    for t in time_steps(T, reverse):
        h_prev, caches[t] = rnn_step_forward(x[:, t], h_prev, W_ih, W_hh, b_h,
                                             relu_grad_at_zero, step)
        h[:, t] = h_prev
    return h, (caches, reverse)


def rnn_backward(dh, cache):
    """Backpropagation through time. dh (N, T, H) -> dx (N, T, D), dW_ih, dW_hh, db_h, dh_init.

    dh_init (H,) = sum_n dL/dh_0[n] (dL/dh_{T+1} when reversed): the initial state is shared
    by the batch, so its gradient sums over it.
    """
    caches, reverse = cache
    N, T, H = dh.shape
    W_ih, W_hh = caches[0][2], caches[0][3]
    dx = np.zeros((N, T, W_ih.shape[1]))
    dW_ih, dW_hh, db_h = np.zeros_like(W_ih), np.zeros_like(W_hh), np.zeros(H)
    dh_later = np.zeros((N, H))  # gradient arriving from the step computed after this one
    for t in reversed(time_steps(T, reverse)):
        dx[:, t], dh_later, dW_ih_t, dW_hh_t, db_h_t = rnn_step_backward(dh[:, t] + dh_later, caches[t])
        dW_ih += dW_ih_t
        dW_hh += dW_hh_t
        db_h += db_h_t
    return dx, dW_ih, dW_hh, db_h, np.sum(dh_later, axis=0)


# ---------------------------------------------------------------- LSTM (Graves 2013, eq. 7-11)

def lstm_step_forward(x, h_prev, c_prev, p, peepholes=True, lasagne_output_gate=False):
    """One LSTM step in Graves' form; ``p`` maps the gate parameter names to arrays.

        i_t = sigmoid(W_xi x_t + W_hi h_{t-1} + w_ci * c_{t-1} + b_i)
        f_t = sigmoid(W_xf x_t + W_hf h_{t-1} + w_cf * c_{t-1} + b_f)
        g_t = tanh(W_xc x_t + W_hc h_{t-1} + b_c)
        c_t = f_t * c_{t-1} + i_t * g_t
        o_t = sigmoid(W_xo x_t + W_ho_gate h_{t-1} + w_co * c_t + b_o_gate)
        h_t = o_t * tanh(c_t)

    ``peepholes=False`` drops the w_c* terms. ``lasagne_output_gate=True`` reproduces Lasagne
    0.1's bug o_t = sigmoid(W_xo x_t + W_ho_gate h_{t-1} + b_o_gate) + w_co * c_t.
    x (N, D), h_prev (N, H), c_prev (N, H) -> h (N, H), c (N, H).
    """
    def preactivation(gate, c):
        W_x, W_h, w_c, b = LSTM_GATE_PARAMS[gate]
        a = x @ p[W_x].T + h_prev @ p[W_h].T + p[b]
        if peepholes and w_c is not None and c is not None:
            a = a + p[w_c] * c
        return a

    i = sigmoid(preactivation("i", c_prev))
    f = sigmoid(preactivation("f", c_prev))
    g = np.tanh(preactivation("c", None))
    c = f * c_prev + i * g
    tanh_c = np.tanh(c)
    if lasagne_output_gate and peepholes:
        s = sigmoid(preactivation("o", None))
        o = s + p["w_co"] * c
    else:
        s = o = sigmoid(preactivation("o", c))
    h = o * tanh_c
    return h, c, (x, h_prev, c_prev, p, peepholes, lasagne_output_gate, i, f, g, c, s, o, tanh_c)


def lstm_step_backward(dh, dc, cache):
    """dh, dc (N, H): gradients reaching h_t and c_t -> dx, dh_prev, dc_prev, dp (dict)."""
    x, h_prev, c_prev, p, peepholes, buggy, i, f, g, c, s, o, tanh_c = cache
    do = dh * tanh_c
    dc = dc + dh * o * (1.0 - tanh_c ** 2)
    dp = {}
    if buggy and peepholes:  # o = s + w_co * c, s = sigmoid(a_o)
        da_o = do * s * (1.0 - s)
        dc = dc + do * p["w_co"]
        dp["w_co"] = (do * c).sum(axis=0)
    else:                    # o = sigmoid(a_o), a_o holds w_co * c
        da_o = do * o * (1.0 - o)
        if peepholes:
            dc = dc + da_o * p["w_co"]
            dp["w_co"] = (da_o * c).sum(axis=0)
    da = {
        "i": dc * g * i * (1.0 - i),
        "f": dc * c_prev * f * (1.0 - f),
        "c": dc * i * (1.0 - g ** 2),
        "o": da_o,
    }
    dc_prev = dc * f
    if peepholes:
        dc_prev = dc_prev + da["i"] * p["w_ci"] + da["f"] * p["w_cf"]
        dp["w_ci"] = (da["i"] * c_prev).sum(axis=0)
        dp["w_cf"] = (da["f"] * c_prev).sum(axis=0)
    dx, dh_prev = 0.0, 0.0
    for gate in GATES:
        W_x, W_h, _, b = LSTM_GATE_PARAMS[gate]
        dx = dx + da[gate] @ p[W_x]
        dh_prev = dh_prev + da[gate] @ p[W_h]
        dp[W_x] = da[gate].T @ x
        dp[W_h] = da[gate].T @ h_prev
        dp[b] = da[gate].sum(axis=0)
    return dx, dh_prev, dc_prev, dp


def lstm_forward(x, p, reverse=False, peepholes=True, lasagne_output_gate=False, state=None,
                 return_state=False):
    """Run the LSTM over a sequence from (h_0, c_0) = ``state``, zeros when None.

    x (N, T, D) -> h (N, T, H), cache; with ``return_state``, the last (h, c), each (N, H), in
    between (an autoencoder's decoders start from its encoder's: ``reference.autoencoder``).
    """
    N, T, _ = x.shape
    H = p["b_i"].shape[0]
    h = np.zeros((N, T, H))
    h_prev, c_prev = (np.zeros((N, H)), np.zeros((N, H))) if state is None else state
    caches = [None] * T
    for t in time_steps(T, reverse):
        h_prev, c_prev, caches[t] = lstm_step_forward(x[:, t], h_prev, c_prev, p,
                                                      peepholes, lasagne_output_gate)
        h[:, t] = h_prev
    return (h, (h_prev, c_prev), (caches, reverse)) if return_state else (h, (caches, reverse))


def lstm_backward(dh, cache, dc_last=None):
    """Backpropagation through time. dh (N, T, H) -> dx (N, T, D), dp (dict of parameter grads).

    ``dc_last`` (N, H): a gradient reaching the last c_t from outside; given, the gradients of
    the initial state, dh_0 and dc_0 (N, H), are returned too.
    """
    caches, reverse = cache
    N, T, H = dh.shape
    p = caches[0][3]
    dx = np.zeros((N, T, caches[0][0].shape[1]))
    dp = {name: np.zeros_like(value) for name, value in p.items()}
    dh_later, dc_later = np.zeros((N, H)), np.zeros((N, H)) if dc_last is None else dc_last
    for t in reversed(time_steps(T, reverse)):
        dx[:, t], dh_later, dc_later, dp_t = lstm_step_backward(dh[:, t] + dh_later, dc_later, caches[t])
        for name, value in dp_t.items():
            dp[name] += value
    return (dx, dp) if dc_last is None else (dx, dp, dh_later, dc_later)


# ---------------------------------------------------------------- 1-D convolution over time

def tconv_forward(x, W_conv, b_conv, relu_grad_at_zero=0.0):
    """A 1-D convolution over time of the T codes, "same" length, then ReLU.

        z_t = sum_{k=0}^{K-1} W_conv[:, :, k] x_{t+k-(K-1)/2} + b_conv,   x_s = 0 outside 0..T-1
        h_t = ReLU(z_t)

    K (odd) is the kernel width: tap k reads the frame k - (K-1)/2 steps from t (a cross-
    correlation, as torch's conv1d; docs/models.md on Theano's flipped kernel). One matrix
    product per tap, over the zero-padded sequence xp (N, T + K - 1, D), xp[:, s] = x_{s-(K-1)/2}.

    x (N, T, D), W_conv (H, D, K), b_conv (H,) -> h (N, T, H).
    """
    N, T, D = x.shape
    K = W_conv.shape[2]
    pad = (K - 1) // 2
    xp = np.concatenate([np.zeros((N, pad, D)), x, np.zeros((N, pad, D))], axis=1)
    z = b_conv + sum(xp[:, k:k + T] @ W_conv[:, :, k].T for k in range(K))   # (N, T, H)
    h, relu_cache = relu_forward(z, relu_grad_at_zero)
    return h, (xp, W_conv, relu_cache)


def tconv_backward(dh, cache):
    """dh (N, T, H) -> dx (N, T, D), dW_conv (H, D, K), db_conv (H,).

    dz = dh * ReLU'(z); for each tap k:
        dW_conv[:, :, k] = sum_{n,t} dz_t x_{t+k-(K-1)/2}^T,   dxp[:, t+k] += dz_t W_conv[:, :, k]
    dx drops the padding's rows of dxp; db_conv = sum_{n,t} dz_t.
    """
    xp, W_conv, relu_cache = cache
    N, T, H = dh.shape
    D, K = W_conv.shape[1], W_conv.shape[2]
    pad = (K - 1) // 2
    dz = relu_backward(dh, relu_cache).reshape(N * T, H)                      # (N T, H)
    dW_conv = np.stack([dz.T @ xp[:, k:k + T].reshape(N * T, D) for k in range(K)], axis=2)
    dxp = np.zeros_like(xp)
    for k in range(K):
        dxp[:, k:k + T] += (dz @ W_conv[:, :, k]).reshape(N, T, D)
    return dxp[:, pad:pad + T], dW_conv, dz.sum(axis=0)
