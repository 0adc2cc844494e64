"""The fine-tuned path in NumPy float64: CaffeNet's fc6 and fc7 on each frame's pool5 code, then
one of the paper's models (``reference.models``), forward and hand-derived backward.

    p, cache = forward(name, params, x, masks=(m6, m7), **options)    # x (N, T, D) -> p (N, C)
    loss, grads = backward(cache, labels, loss="averaged")

Per frame t (x_t: the pool5 code; ``rnn_models.finetune`` states the same equations):

    a6_t = W6 x_t + b6,     h6_t = ReLU(a6_t),     d6_t = m6_t * h6_t        fc6, relu6, drop6
    a7_t = W7 d6_t + b7,    h7_t = ReLU(a7_t),     z_t  = m7_t * h7_t        fc7, relu7, drop7
    p    = model ``name``'s forward on z (N, T, H7)

and backward, from the head's dL/dz (``reference.models.backward(..., input_grad=True)``):

    dh7 = m7 * dz,    da7 = dh7 * [a7 > 0],    dW7 = sum_{n,t} da7 d6^T,   db7 = sum_{n,t} da7
    dd6 = W7^T da7,   dh6 = m6 * dd6,    da6 = dh6 * [a6 > 0],
    dW6 = sum_{n,t} da6 x^T,   db6 = sum_{n,t} da6

masks: (m6, m7), each None (no dropout, as at test time) or an (N, T, H) array of 0 and
1/(1-r); None is (None, None), as in the torch twin. ReLU'(0) = 0, as Caffe's ReLU layer. ``params``: W6 (H6, D), b6 (H6,), W7 (H7, H6), b7 (H7,), and the
head's parameters as ``head.<name>`` (the keys of the torch module's ``state_dict``).
"""
from . import layers as L
from . import models

FC_PARAMS = ("W6", "b6", "W7", "b7")
#: CaffeNet's drop6 and drop7 rate r (train_val.prototxt); ``configurations.FUTURE`` reads it
DROPOUT = 0.5
HEAD = "head."


def fc_forward(x, W6, b6, W7, b7, masks=(None, None)):
    """x (N, T, D) -> z (N, T, H7), cache."""
    m6, m7 = masks or (None, None)
    a6, a6_cache = L.affine_forward(x, W6, b6)                    # (N, T, H6)
    h6, h6_cache = L.relu_forward(a6)
    d6, _ = L.dropout_forward(h6, m6)
    a7, a7_cache = L.affine_forward(d6, W7, b7)                   # (N, T, H7)
    h7, h7_cache = L.relu_forward(a7)
    z, _ = L.dropout_forward(h7, m7)
    return z, (a6_cache, h6_cache, m6, a7_cache, h7_cache, m7)


def fc_backward(dz, cache):
    """dz (N, T, H7) -> dx (N, T, D), dW6, db6, dW7, db7."""
    a6_cache, h6_cache, m6, a7_cache, h7_cache, m7 = cache
    da7 = L.relu_backward(L.dropout_backward(dz, m7), h7_cache)
    dd6, dW7, db7 = L.affine_backward(da7, a7_cache)
    da6 = L.relu_backward(L.dropout_backward(dd6, m6), h6_cache)
    dx, dW6, db6 = L.affine_backward(da6, a6_cache)
    return dx, dW6, db6, dW7, db7


def forward(name, params, x, masks=(None, None), **options):
    """Forward pass of fc6/fc7 then model ``name``. x (N, T, D) -> p (N, C), cache."""
    z, fc_cache = fc_forward(x, *(params[k] for k in FC_PARAMS), masks)
    head = {k[len(HEAD):]: v for k, v in params.items() if k.startswith(HEAD)}
    p, head_cache = models.forward(name, head, z, **options)
    return p, (fc_cache, head_cache)


def backward(cache, labels, loss="averaged"):
    """Loss and the gradient of the loss for every parameter, fc6 and fc7 included."""
    fc_cache, head_cache = cache
    value, head_grads, dz = models.backward(head_cache, labels, loss, input_grad=True)
    grads = dict(zip(FC_PARAMS, fc_backward(dz, fc_cache)[1:]))
    grads.update({HEAD + k: v for k, v in head_grads.items()})
    return value, grads
