"""The paper's models in PyTorch, hand-written from its equations.

    model = rnn_models.build("rnn", input_dim=4096, hidden_dim=512, n_classes=101)
    p = model(x)                          # x (N, T, D) -> time-averaged probabilities (N, C)
    P = model.step_probabilities(x)       # (N, T, C)
"""
from reference.architecture import MODELS

from .models import Average, Recurrent, build

__all__ = ["MODELS", "Average", "Recurrent", "build"]
