"""What every command of the project shares, below the models and the extraction both.

    common.reproducible   the CPU kernels pinned before numpy, torch or Caffe load (imported
                          first, here), the check that MKL runs the branch asked for, the cores
    common.cpu            this machine's CPU (vendor, model, flags) and the kernels in effect
    common.cli            argparse types: a bad value is a one-line usage error
    common.errors         one-line messages for the errors a user can fix
    common.devices        ``--device auto|cpu|cuda`` and the GPU's fidelity settings
    common.pinned         the pinned variables, written once (the Makefile reads them too)
    common.processes      one way to run N processes (``run_all``)

``caffe_extract``, ``rnn_models`` and ``experiment`` import this package first; it imports none
of them.
"""
# First, before numpy, torch or Caffe load: the CPU kernels pinned (see reproducible.py).
from . import reproducible  # noqa: F401  (isort: skip)
