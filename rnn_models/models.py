"""The paper's models as PyTorch modules: Average, the recurrent family (RNN, LSTM, BiRNN, plus
the future-work BiLSTM and 2-layer RNN) and the temporal convolution of the "other models" it
tried, built from ``reference.architecture`` (its parameter names are the ``state_dict()`` keys).

Every model maps codes x (N, T, D) to P (N, T, C), P_t = softmax(W_s y_t + b_s)
(``step_probabilities``), and to p (N, C) = (1/T) sum_t P_t (``model(x)``, the paper's averaged
prediction); ``log_probabilities`` and ``step_log_probabilities`` give log p and log P, computed
stably, for the two losses (docs/models.md, "API"):

- "averaged": L = -(1/N) sum_n log p_n[label_n]
- "per-step": L = -(1/(N T)) sum_n sum_t log P_t[n, label_n] (Average repeats its one prediction)
"""
import math

import torch
from torch import nn

from reference.architecture import (ARCHITECTURES, AVERAGE_DROPOUT, cell_of, layer_param_names,
                                    learns_initial_state, param_shapes, resolve_options)

from .init import DEFAULT_SCHEME, initial_value
from .layers import lstm_layer, relu, rnn_layer, tconv_layer


def time_averaged_log(log_P):
    """log p = log (1/T) sum_t P_t from per-step log-probabilities log P (N, T, C): a logsumexp
    over time, so that no probability is rounded to 0 before its log is taken. -> (N, C)"""
    return torch.logsumexp(log_P, dim=1) - math.log(log_P.shape[1])


class _Classifier(nn.Module):
    """Shared by all models: the config (``extra``: a model's own settings, its dropout or
    output_dim), parameters by name, and the probability API."""

    def __init__(self, name, input_dim, hidden_dim, n_classes, init, options, **extra):
        super().__init__()
        self.name = name
        self.options = options
        # everything needed to build the model again: saved with the weights
        self.config = dict(name=name, input_dim=input_dim, hidden_dim=hidden_dim,
                           n_classes=n_classes, **extra, init=init, **options)
        shapes = param_shapes(name, input_dim, hidden_dim, n_classes, extra.get("output_dim"),
                              **options)
        for pname, shape in shapes.items():
            self.register_parameter(pname, nn.Parameter(initial_value(name, pname, shape, init)))

    def forward(self, x):
        return self.step_probabilities(x).mean(dim=1)                     # (N, C)


class Average(_Classifier):
    """The paper's baseline: averaged codes into a 2-layer fully connected net.

        x_bar = (1/T) sum_t x_t
        h     = dropout(ReLU(W_ih x_bar + b_h))     inverted dropout, rate ``dropout``
        p     = softmax(W_s h + b_s)

    ``step_probabilities`` repeats p over time (the model makes one prediction per video), so
    that ``model(x) == model.step_probabilities(x).mean(1)`` holds for every model in eval mode
    (in training, each call draws its own dropout mask).
    """

    def __init__(self, input_dim, hidden_dim, n_classes, dropout=AVERAGE_DROPOUT,
                 init=DEFAULT_SCHEME, **options):
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        super().__init__("average", input_dim, hidden_dim, n_classes, init,
                         resolve_options("average", options), dropout=dropout)
        self.dropout = dropout

    def scores(self, x, dropout_mask=None):
        """x (N, T, D) -> class scores W_s h + b_s (N, C). ``dropout_mask`` (N, H): use this mask
        (entries 0 or 1/(1-p)) instead of drawing one; without it, dropout acts in training mode."""
        x_bar = x.mean(dim=1)                                                # (N, D)
        h = relu(x_bar @ self.W_ih.T + self.b_h, self.options["relu_grad_at_zero"])  # (N, H)
        if dropout_mask is not None:
            h = h * dropout_mask
        elif self.training and self.dropout > 0:
            h = nn.functional.dropout(h, self.dropout, training=True)
        return h @ self.W_s.T + self.b_s                                     # (N, C)

    def forward(self, x, dropout_mask=None):
        return torch.softmax(self.scores(x, dropout_mask), dim=-1)          # (N, C)

    def step_probabilities(self, x):
        return self(x).unsqueeze(1).expand(-1, x.shape[1], -1)              # (N, T, C)

    def log_probabilities(self, x, dropout_mask=None):
        return torch.log_softmax(self.scores(x, dropout_mask), dim=-1)      # (N, C)

    def step_log_probabilities(self, x, dropout_mask=None):
        """log P_t = log p for every t: (N, T, C)."""
        return self.log_probabilities(x, dropout_mask).unsqueeze(1).expand(-1, x.shape[1], -1)


class _PerStep(_Classifier):
    """A model that predicts at every step from its per-step ``outputs(x)`` y_t (N, T, O):
    P_t = softmax(W_s y_t + b_s), p = (1/T) sum_t P_t."""

    def step_scores(self, x):
        """W_s y_t + b_s: (N, T, C)."""
        return self.outputs(x) @ self.W_s.T + self.b_s                       # (N, T, C)

    def step_probabilities(self, x):
        return torch.softmax(self.step_scores(x), dim=-1)                    # (N, T, C)

    def step_log_probabilities(self, x):
        """log P_t = log_softmax(scores_t): (N, T, C)."""
        return torch.log_softmax(self.step_scores(x), dim=-1)               # (N, T, C)

    def log_probabilities(self, x):
        """log p = log (1/T) sum_t P_t, as a logsumexp over time of log-softmaxes (no log 0)."""
        return time_averaged_log(self.step_log_probabilities(x))             # (N, C)


class Recurrent(_PerStep):
    """A recurrent model of ``reference.architecture.ARCHITECTURES``: its branches' outputs summed,
    then the paper's averaged softmax readout.

        y_t = sum over branches of (W_ho h_t + b_o)        (BiRNN: y_t = y_t^f + y_t^b)
        P_t = softmax(W_s y_t + b_s),    p = (1/T) sum_t P_t

    options: ``output_dim`` (size of y_t, default ``hidden_dim``) and those of
    ``reference.architecture.default_options(name)`` (docs/models.md says what each means).
    """

    def __init__(self, name, input_dim, hidden_dim, n_classes, output_dim=None,
                 init=DEFAULT_SCHEME, **options):
        super().__init__(name, input_dim, hidden_dim, n_classes, init,
                         resolve_options(name, options), output_dim=output_dim or hidden_dim)
        self.branches = ARCHITECTURES[name]

    def _layer(self, branch, suffix, x):
        """Run one recurrent layer (its parameters: the names ending in ``suffix``) over x."""
        h_init = learns_initial_state(branch, self.options.get("learn_init", False))
        names = layer_param_names(branch.cell, self.options.get("peepholes", True), h_init)
        p = {pname: getattr(self, pname + suffix) for pname in names}
        if branch.cell == "rnn":
            return rnn_layer(x, p["W_ih"], p["W_hh"], p["b_h"], branch.reverse,
                             self.options["relu_grad_at_zero"], self.options["rnn_step"],
                             p.get("h_init"))
        return lstm_layer(x, p, branch.reverse, self.options["peepholes"],
                          self.options["lasagne_output_gate"])

    def outputs(self, x):
        """y (N, T, O): the recurrent layers' output, summed over branches."""
        y = 0.0
        for branch in self.branches:
            h = x
            for suffix in branch.layers:
                h = self._layer(branch, suffix, h)                           # (N, T, H)
            y = y + h @ getattr(self, "W_ho" + branch.out).T + getattr(self, "b_o" + branch.out)
        return y                                                             # (N, T, O)


class TemporalConvolution(_PerStep):
    """The paper's 1-D convolution over the codes (section "Models", last paragraph: "this
    model was extremely unstable in training"), with the recurrent models' averaged softmax.

        h_t = ReLU(sum_{k=0}^{K-1} W_conv[:, :, k] x_{t+k-(K-1)/2} + b_conv)   (zero padding)
        P_t = softmax(W_s h_t + b_s),    p = (1/T) sum_t P_t

    Parameters: ``W_conv`` (H, D, K), ``b_conv`` (H,), ``W_s`` (C, H), ``b_s`` (C,).
    options: ``width`` K (odd, default 3; 1: a per-frame classifier), ``relu_grad_at_zero``.
    """

    def __init__(self, input_dim, hidden_dim, n_classes, init=DEFAULT_SCHEME, **options):
        super().__init__("tconv", input_dim, hidden_dim, n_classes, init,
                         resolve_options("tconv", options))

    def outputs(self, x):
        """h (N, T, H): the convolution's rectified output, which the readout reads."""
        return tconv_layer(x, self.W_conv, self.b_conv, self.options["relu_grad_at_zero"])


def build(name, input_dim, hidden_dim, n_classes, init=DEFAULT_SCHEME, **options):
    """One of the paper's models, with the ``paper`` configuration's options by default.

    name: "average", "rnn", "lstm", "birnn" (the paper's four), "bilstm", "rnn2" (the two it
    could not build in its time), "tconv" (the 1-D convolution among its "other models").
    init: "nntools-2015" (default: craffel's code of the paper's weeks) or "lasagne-0.1"
    (``reference.init``). options: ``reference.architecture.default_options(name)``, the
    Average's ``dropout`` (0.5) and the recurrent models' ``output_dim``; an option a model does
    not take is a TypeError.
    """
    if cell_of(name) == "average":
        return Average(input_dim, hidden_dim, n_classes, init=init, **options)
    if cell_of(name) == "tconv":
        return TemporalConvolution(input_dim, hidden_dim, n_classes, init=init, **options)
    return Recurrent(name, input_dim, hidden_dim, n_classes, init=init, **options)
