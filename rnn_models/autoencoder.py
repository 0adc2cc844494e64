"""Srivastava et al. (2015)'s composite LSTM model in PyTorch, hand-written (``lstm_layer``, no
``torch.nn.LSTM``): the unsupervised pretraining of the classifier LSTM's weights.

    model = CompositeAutoencoder(input_dim=4096, hidden_dim=512)
    x_hat_rec, x_hat_fut = model(x)        # x (N, T, D) -> (N, k, D), (N, T - k, D)
    loss = model.loss(x)
    classifier.load_state_dict({**classifier.state_dict(), **model.encoder_weights()})

The equations, parameter names and loss are ``reference.autoencoder``'s (its docstring states
them): an encoder LSTM reads x_1..x_k; from its (h_k, c_k) two unconditioned decoders output
x_hat_k..x_hat_1 and x_hat_{k+1}..x_hat_T through linear readouts x_hat_s = W_r h_s + b_r;

    L = (1 / (N T)) [ sum_{n,s} ||x_hat_rec_s - x_{k+1-s}||^2 + sum_{n,s} ||x_hat_fut_s - x_s||^2 ]
"""
from torch import nn

from reference.architecture import resolve_options
from reference.autoencoder import (DECODERS, INPUT_WEIGHTS, autoencoder_shapes, decoder_names,
                                   encoder_names, split_point)

from .init import DEFAULT_SCHEME, base_name, initial_value
from .layers import lstm_layer


def init_name(name):
    """The classifier parameter whose distribution ``name`` is drawn from: the encoder's and the
    decoders' gates as the ``lstm`` classifier's gates (suffix dropped), the readouts W_r, b_r as
    its dense readout W_ho, b_o (Glorot, 0)."""
    for suffix in DECODERS:
        if name.endswith(suffix):
            name = name[:-len(suffix)]
    return {"W_r": "W_ho", "b_r": "b_o"}.get(base_name(name), name)


class CompositeAutoencoder(nn.Module):
    """Encoder LSTM, reconstruction decoder and future predictor (``reference.autoencoder``).

    split: k, the number of codes the encoder reads (None: T // 2; 1 <= k <= T - 1).
    init: the scheme of ``rnn_models.init`` (``init_name`` says which parameter's distribution).
    options: the LSTM's ``peepholes`` and ``lasagne_output_gate``, shared with the classifier
    the encoder initialises.
    """

    def __init__(self, input_dim, hidden_dim, split=None, init=DEFAULT_SCHEME, **options):
        super().__init__()
        self.options = resolve_options("lstm", options)
        self.split = split
        self.config = dict(name="autoencoder", input_dim=input_dim, hidden_dim=hidden_dim,
                           split=split, init=init, **self.options)
        for name, shape in autoencoder_shapes(input_dim, hidden_dim,
                                              self.options["peepholes"]).items():
            self.register_parameter(name, nn.Parameter(
                initial_value("lstm", init_name(name), shape, init)))

    def _lstm(self, x, p, state=None):
        return lstm_layer(x, p, False, self.options["peepholes"],
                          self.options["lasagne_output_gate"], state=state, return_state=True)

    def forward(self, x):
        """x (N, T, D) -> (x_hat_rec (N, k, D): x_hat_k..x_hat_1, x_hat_fut (N, T - k, D))."""
        N, T, _ = x.shape
        k = split_point(T, self.split)
        peepholes = self.options["peepholes"]
        encoder = {name: getattr(self, name) for name in encoder_names(peepholes)}
        _, state = self._lstm(x[:, :k], encoder)                 # (h_k, c_k), each (N, H)
        H = state[0].shape[1]
        outputs = []
        for suffix, steps in zip(DECODERS, (k, T - k)):
            p = {name: getattr(self, name + suffix) for name in decoder_names(peepholes)}
            p.update({name: x.new_zeros(H, 0) for name in INPUT_WEIGHTS})   # unconditioned
            h, _ = self._lstm(x.new_zeros(N, steps, 0), p, state)           # (N, steps, H)
            outputs.append(h @ getattr(self, "W_r" + suffix).T + getattr(self, "b_r" + suffix))
        return tuple(outputs)                                               # (N, k, D), (N, T-k, D)

    def loss(self, x):
        """L = (1 / (N T)) sum of the squared errors of both decoders' codes (a scalar)."""
        N, T, _ = x.shape
        k = split_point(T, self.split)
        x_hat_rec, x_hat_fut = self(x)
        return (((x_hat_rec - x[:, :k].flip(1)) ** 2).sum()                  # x_k..x_1
                + ((x_hat_fut - x[:, k:]) ** 2).sum()) / (N * T)

    def encoder_weights(self):
        """{name: tensor}: the encoder's weights under the ``lstm`` classifier's parameter names
        (detached copies), ready for ``load_state_dict`` into it."""
        return {name: getattr(self, name).detach().clone()
                for name in encoder_names(self.options["peepholes"])}
