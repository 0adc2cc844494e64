"""``python -m common``: this machine's CPU and the kernels in effect, in one line (for a bug
report)."""
import argparse

from . import cpu


def main(argv=None):
    argparse.ArgumentParser(prog="python -m common", description=__doc__).parse_args(argv)
    import torch  # noqa: F401  (so that ATen's kernels are reported)
    print(cpu.summary())


if __name__ == "__main__":
    main()
