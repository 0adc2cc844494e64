"""What every command of the project shares, below the models and the extraction both (its
modules: docs/development.md, "Layout"). ``caffe_extract``, ``rnn_models`` and ``experiment``
import this package first; it imports none of them.
"""
# First, before numpy, torch or Caffe load: the CPU kernels pinned (see reproducible.py).
from . import reproducible  # noqa: F401  (isort: skip)
