"""The paper's models in PyTorch, hand-written from its equations.

    model = rnn_models.build("rnn", input_dim=4096, hidden_dim=512, n_classes=101)
    p = model(x)                          # x (N, T, D) -> time-averaged probabilities (N, C)
    P = model.step_probabilities(x)       # (N, T, C)
"""
# First, before numpy or torch load: the CPU kernels pinned (common/reproducible.py).
import common  # noqa: F401  (isort: skip)
from reference.architecture import MODELS  # noqa: E402

from .models import Average, Recurrent, TemporalConvolution, build

__all__ = ["MODELS", "Average", "Recurrent", "TemporalConvolution", "build"]
