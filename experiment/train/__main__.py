"""``python -m experiment.train``: the training command (``experiment.train.cli.main``)."""
from experiment.train.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
