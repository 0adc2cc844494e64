"""``python -m experiment.future``: the future-work table (``experiment.future.study.main``)."""
import sys

from experiment.future.study import main

if __name__ == "__main__":
    sys.exit(main())
