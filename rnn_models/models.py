"""The paper's models as PyTorch modules: Average, and the recurrent family (RNN, LSTM, BiRNN,
plus the future-work BiLSTM and 2-layer RNN), built from ``reference.architecture``.

Every model maps codes x (N, T, D) to class probabilities:

- ``model.step_probabilities(x)`` -> P (N, T, C), P_t = softmax(W_s y_t + b_s)
- ``model(x)`` -> p (N, C) = (1/T) sum_t P_t  (the paper's averaged prediction)
- ``model.log_probabilities(x)`` -> log p, computed stably (for the training loss)

Parameters are registered under the paper's names (``state_dict()`` keys, see
``reference.architecture``), stored as the equations multiply them (``W_ih`` is (H, D)).
"""
import math

import torch
from torch import nn

from reference.architecture import (ARCHITECTURES, cell_of, layer_param_names, param_shapes,
                                    resolve_options)

from .init import lasagne_default
from .layers import lstm_layer, relu, rnn_layer


class _Classifier(nn.Module):
    """Shared by all models: parameters by name, and the probability API."""

    def __init__(self, name, shapes, config):
        super().__init__()
        self.name = name
        self.config = config  # everything needed to build the model again: saved with weights
        for pname, shape in shapes.items():
            self.register_parameter(pname, nn.Parameter(lasagne_default(name, pname, shape)))

    def forward(self, x):
        return self.step_probabilities(x).mean(dim=1)                     # (N, C)


class Average(_Classifier):
    """The paper's baseline: averaged codes into a 2-layer fully connected net.

        x_bar = (1/T) sum_t x_t
        h     = dropout(ReLU(W_ih x_bar + b_h))     inverted dropout, rate ``dropout``
        p     = softmax(W_s h + b_s)

    ``step_probabilities`` repeats p over time (the model makes one prediction per video), so
    that ``model(x) == model.step_probabilities(x).mean(1)`` holds for every model.
    """

    def __init__(self, input_dim, hidden_dim, n_classes, dropout=0.5, **options):
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        options = resolve_options("average", options)
        config = dict(name="average", input_dim=input_dim, hidden_dim=hidden_dim,
                      n_classes=n_classes, dropout=dropout, **options)
        super().__init__("average", param_shapes("average", input_dim, hidden_dim, n_classes), config)
        self.dropout = dropout
        self.relu_grad_at_zero = options["relu_grad_at_zero"]

    def scores(self, x, dropout_mask=None):
        """x (N, T, D) -> class scores W_s h + b_s (N, C). ``dropout_mask`` (N, H): use this mask
        (entries 0 or 1/(1-p)) instead of drawing one; without it, dropout acts in training mode."""
        x_bar = x.mean(dim=1)                                                # (N, D)
        h = relu(x_bar @ self.W_ih.T + self.b_h, self.relu_grad_at_zero)     # (N, H)
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


class Recurrent(_Classifier):
    """A recurrent model of ``reference.architecture.ARCHITECTURES``: its branches' outputs summed,
    then the paper's averaged softmax readout.

        y_t = sum over branches of (W_ho h_t + b_o)        (BiRNN: y_t = y_t^f + y_t^b)
        P_t = softmax(W_s y_t + b_s),    p = (1/T) sum_t P_t

    options: ``output_dim`` (size of y_t, default ``hidden_dim``); RNN family:
    ``relu_grad_at_zero``; LSTM family: ``peepholes``, ``lasagne_output_gate``.
    """

    def __init__(self, name, input_dim, hidden_dim, n_classes, output_dim=None, **options):
        options = resolve_options(name, options)
        peepholes = options.get("peepholes", True)
        shapes = param_shapes(name, input_dim, hidden_dim, n_classes, output_dim, peepholes)
        config = dict(name=name, input_dim=input_dim, hidden_dim=hidden_dim, n_classes=n_classes,
                      output_dim=output_dim or hidden_dim, **options)
        super().__init__(name, shapes, config)
        self.branches = ARCHITECTURES[name]
        self.options = options

    def _layer(self, cell, suffix, x, reverse):
        """Run one recurrent layer (its parameters: the names ending in ``suffix``) over x."""
        names = layer_param_names(cell, self.options.get("peepholes", True))
        p = {pname: getattr(self, pname + suffix) for pname in names}
        if cell == "rnn":
            return rnn_layer(x, p["W_ih"], p["W_hh"], p["b_h"], reverse,
                             self.options["relu_grad_at_zero"])
        return lstm_layer(x, p, reverse, self.options["peepholes"],
                          self.options["lasagne_output_gate"])

    def outputs(self, x):
        """y (N, T, O): the recurrent layers' output, summed over branches."""
        y = 0.0
        for branch in self.branches:
            h = x
            for suffix in branch.layers:
                h = self._layer(branch.cell, suffix, h, branch.reverse)     # (N, T, H)
            y = y + h @ getattr(self, "W_ho" + branch.out).T + getattr(self, "b_o" + branch.out)
        return y                                                             # (N, T, O)

    def step_scores(self, x):
        return self.outputs(x) @ self.W_s.T + self.b_s                       # (N, T, C)

    def step_probabilities(self, x):
        return torch.softmax(self.step_scores(x), dim=-1)                    # (N, T, C)

    def log_probabilities(self, x):
        """log p = log (1/T) sum_t P_t, as a logsumexp over time of log-softmaxes (no log 0)."""
        log_P = torch.log_softmax(self.step_scores(x), dim=-1)               # (N, T, C)
        return torch.logsumexp(log_P, dim=1) - math.log(x.shape[1])          # (N, C)


def build(name, input_dim, hidden_dim, n_classes, **options):
    """One of the paper's models, initialised as Lasagne 0.1 would.

    name: "average", "rnn", "lstm", "birnn" (the paper's four), "bilstm", "rnn2" (its future work).
    options: Average: ``dropout`` (0.5), ``relu_grad_at_zero`` (0.0); recurrent models: see
    ``Recurrent``. An option a model does not take is a TypeError.
    """
    if cell_of(name) == "average":
        return Average(input_dim, hidden_dim, n_classes, **options)
    return Recurrent(name, input_dim, hidden_dim, n_classes, **options)
