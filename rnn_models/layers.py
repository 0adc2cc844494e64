"""The paper's recurrent layers in PyTorch, written from the equations (autograd does the backward).

No ``torch.nn.RNN``/``LSTM``/``Conv1d``: each equation is a line below. As in Lasagne's
``recurrent.py``, the input projection of all T steps is one matrix product before the time
loop; the loop then only adds the recurrent term. Letters: N batch, T time, D input, H hidden,
K kernel width.
"""
import torch

from reference.architecture import GATES, LSTM_GATE_PARAMS, time_steps


def relu(a, grad_at_zero=0.0):
    """max(a, 0). ``grad_at_zero=0.5`` computes it as Lasagne's rectify, (a + |a|) / 2, whose
    gradient at exactly 0 is 0.5 (same values, different derivative at one point)."""
    return torch.relu(a) if grad_at_zero == 0.0 else 0.5 * (a + a.abs())


def rnn_layer(x, W_ih, W_hh, b_h, reverse=False, relu_grad_at_zero=0.0, step="equation",
              h_init=None):
    """The paper's vanilla recurrent layer (section "Models", eq. for h_t).

    step="equation" (the paper's):
        h_t = ReLU(W_ih x_t + W_hh h_{t-1} + b_h),   h_0 = h_init (0 when None)
    step="nntools" (craffel's RecurrentLayer at Lasagne fce361f: rectifying input-to-hidden and
    hidden-to-hidden DenseLayers, and the step's own rectify on their sum):
        h_t = ReLU(ReLU(W_ih x_t + b_h) + ReLU(W_hh h_{t-1}))
    written nested, so that autograd gives the nested form's gradient (the outer ReLU is the
    identity in value, but its derivative at 0 is ``relu_grad_at_zero``).

    ``reverse=True`` is the backward layer of the bidirectional model: h_t depends on h_{t+1},
    h_{T+1} = h_init; outputs stay aligned to input time. h_init (H,): a learnt initial state,
    broadcast over the batch (every video starts from the same state).
    x (N, T, D), W_ih (H, D), W_hh (H, H), b_h (H,) -> h (N, T, H).

    Speed: the input term of all T steps is one GEMM (``torch.addmm``); the steps read it
    through ``unbind`` (one gradient tensor for all steps, not T zero-filled copies).
    """
    if step not in ("equation", "nntools"):
        raise ValueError(f"rnn step must be 'equation' or 'nntools', got {step!r}")
    N, T, D = x.shape
    H = W_hh.shape[0]
    a_x = torch.addmm(b_h, x.reshape(N * T, D), W_ih.T).view(N, T, H)   # (N, T, H), one GEMM
    if step == "nntools":
        a_x = relu(a_x, relu_grad_at_zero)                   # ReLU(W_ih x_t + b_h)
    a_steps = a_x.unbind(1)                                  # T views (N, H)
    h = x.new_zeros(N, H) if h_init is None else h_init.expand(N, H)   # (N, H)
    hs = [None] * T
    for t in time_steps(T, reverse):
        if step == "equation":
            h = relu(torch.addmm(a_steps[t], h, W_hh.T), relu_grad_at_zero)
        else:
            h = relu(a_steps[t] + relu(h @ W_hh.T, relu_grad_at_zero), relu_grad_at_zero)
        hs[t] = h
    return torch.stack(hs, dim=1)                            # (N, T, H)


def lstm_layer(x, p, reverse=False, peepholes=True, lasagne_output_gate=False, state=None,
               return_state=False):
    """An LSTM layer in Graves' form (Graves 2013, eq. 7-11), gates ordered i, f, c, o.

        i_t = sigmoid(W_xi x_t + W_hi h_{t-1} + w_ci * c_{t-1} + b_i)
        f_t = sigmoid(W_xf x_t + W_hf h_{t-1} + w_cf * c_{t-1} + b_f)
        c_t = f_t * c_{t-1} + i_t * tanh(W_xc x_t + W_hc h_{t-1} + b_c)
        o_t = sigmoid(W_xo x_t + W_ho_gate h_{t-1} + w_co * c_t + b_o_gate)
        h_t = o_t * tanh(c_t),          (h_0, c_0) = state, zeros when None

    p: the layer's parameters by their unsuffixed names (``LSTM_GATE_PARAMS``).
    ``peepholes=False`` drops the w_c* terms; ``lasagne_output_gate=True`` reproduces Lasagne
    0.1's o_t = sigmoid(W_xo x_t + W_ho_gate h_{t-1} + b_o_gate) + w_co * c_t.
    x (N, T, D) -> h (N, T, H); with ``return_state`` also the last (h, c), each (N, H) (an
    autoencoder's decoders start from its encoder's: ``rnn_models.autoencoder``).
    """
    N, T, D = x.shape
    x2 = x.reshape(N * T, D)                                      # (N T, D)
    # The input term of all T steps, one GEMM per gate (no (4H, D) copy of the weights, so no
    # copy of their gradient either): a_x[g] (N, T, H)
    a_x = [torch.addmm(p[LSTM_GATE_PARAMS[g][3]], x2, p[LSTM_GATE_PARAMS[g][0]].T).view(N, T, -1)
           for g in GATES]
    a_steps = list(zip(*(a.unbind(1) for a in a_x)))              # T tuples (a_xi, a_xf, a_xc, a_xo)
    W_h = torch.cat([p[LSTM_GATE_PARAMS[g][1]] for g in GATES])   # (4H, H), rows i, f, c, o
    H = W_h.shape[1]
    h, c = (x.new_zeros(N, H), x.new_zeros(N, H)) if state is None else state
    hs = [None] * T
    for t in time_steps(T, reverse):
        r_i, r_f, r_c, r_o = (h @ W_h.T).chunk(4, dim=1)          # each (N, H)
        x_i, x_f, x_c, x_o = a_steps[t]
        a_i, a_f, a_c, a_o = x_i + r_i, x_f + r_f, x_c + r_c, x_o + r_o
        if peepholes:
            a_i = torch.addcmul(a_i, p["w_ci"], c)
            a_f = torch.addcmul(a_f, p["w_cf"], c)
        c = torch.sigmoid(a_f) * c + torch.sigmoid(a_i) * torch.tanh(a_c)
        if peepholes and lasagne_output_gate:
            o = torch.addcmul(torch.sigmoid(a_o), p["w_co"], c)
        elif peepholes:
            o = torch.sigmoid(torch.addcmul(a_o, p["w_co"], c))
        else:
            o = torch.sigmoid(a_o)
        h = o * torch.tanh(c)
        hs[t] = h
    hs = torch.stack(hs, dim=1)                                   # (N, T, H)
    return (hs, (h, c)) if return_state else hs


def tconv_layer(x, W_conv, b_conv, relu_grad_at_zero=0.0):
    """A 1-D convolution over time of the T codes, "same" length, then ReLU (the paper's section
    "Models", last paragraph).

        z_t = sum_{k=0}^{K-1} W_conv[:, :, k] x_{t+k-(K-1)/2} + b_conv,   x_s = 0 outside 0..T-1
        h_t = ReLU(z_t)

    K (odd) is the kernel width; tap k reads the frame k - (K-1)/2 steps from t. Written as
    im2col: the zero-padded sequence's K-frame windows, flattened (d major, k minor, as
    ``W_conv.reshape(H, D K)``), times W_conv in one matrix product.
    x (N, T, D), W_conv (H, D, K), b_conv (H,) -> h (N, T, H).
    """
    N, T, D = x.shape
    H, _, K = W_conv.shape
    zeros = x.new_zeros(N, (K - 1) // 2, D)                           # (N, (K-1)/2, D)
    xp = torch.cat([zeros, x, zeros], dim=1)                          # (N, T + K - 1, D)
    windows = xp.unfold(1, K, 1)                                      # (N, T, D, K): xp[:, t+k, d]
    z = torch.addmm(b_conv, windows.reshape(N * T, D * K), W_conv.reshape(H, D * K).T)
    return relu(z, relu_grad_at_zero).view(N, T, H)                   # (N, T, H)
