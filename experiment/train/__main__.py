"""``python -m experiment.train``: the training command (``experiment.train.cli.main``)."""
import sys

from experiment.train.cli import main

if __name__ == "__main__":
    sys.exit(main())
