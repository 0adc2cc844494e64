"""``python -m common``: this machine's CPU and the kernels in effect, in one line (for a bug
report); ``python -m common build-mkl-fix``: compile MKL's vendor fix (``make setup`` runs it)."""
import argparse

from . import cpu, mkl


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m common", description=__doc__.split(";")[0])
    parser.add_argument("command", nargs="?", choices=["cpu", "build-mkl-fix"], default="cpu")
    parser.add_argument("--out", default=mkl.LIBRARY,
                        help=f"build-mkl-fix: the library to write (default {mkl.LIBRARY})")
    args = parser.parse_args(argv)
    if args.command == "build-mkl-fix":
        print(f"==> MKL vendor fix: {mkl.build(args.out)}")
    else:
        import torch  # noqa: F401  (so that ATen's kernels are reported)
        print(cpu.summary())


if __name__ == "__main__":
    main()
