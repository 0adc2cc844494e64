"""``python -m experiment.train``: the training command (``experiment.train.cli.main``)."""
import sys

from experiment.train.cli import main

sys.exit(main())
