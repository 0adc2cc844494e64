"""``python -m experiment.train``: the training command (``experiment.train.main``)."""
import sys

from experiment.train import main

sys.exit(main())
