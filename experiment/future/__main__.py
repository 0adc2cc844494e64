"""``python -m experiment.future``: the future-work table (``experiment.future.study.main``)."""
from experiment.future.study import main

if __name__ == "__main__":
    raise SystemExit(main())
