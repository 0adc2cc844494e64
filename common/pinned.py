"""The environment variables that pin the CPU kernels, written once: read by
``common.reproducible`` (which sets them before numpy, torch or Caffe load) and by the Makefile
(which exports them too, as a second line of defence, and unexports them for ``FAST=1``).

    python3 common/pinned.py kernels     # NAME=value, the kernel pins the Makefile exports
    python3 common/pinned.py threads     # NAME=value, one thread each (kept by FAST=1)
    python3 common/pinned.py names       # every kernel pin's name (FAST=1 unexports them)

Run as a file, not as ``-m common...``: it imports nothing (no numpy, no torch, not even
``common``, whose import pins this process), so that the Makefile can read it with any
``python3`` before .venv exists. ``MACHINE``'s values depend on the machine (numpy's version,
the CPU's flags) and are computed by ``reproducible``; the Makefile leaves them to it.
"""
import sys

#: the kernel pins with one value on every machine
KERNELS = {
    "ATEN_CPU_CAPABILITY": "avx2",
    "MKL_CBWR": "AVX2,STRICT",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "OPENBLAS_CORETYPE": "Haswell",
    "OPENCV_IPP": "avx2",
}
#: the kernel pins whose value ``reproducible`` computes on each machine
MACHINE = ("NPY_DISABLE_CPU_FEATURES", "OPENCV_CPU_DISABLE")
#: one thread per library: kept in fast mode (``ACTION_RNN_FAST=1``) too
THREADS = {"OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
#: fast mode's switch (``make ... FAST=1``): no kernel pinned
FAST = "ACTION_RNN_FAST"
#: the kernel modes, as a bench times them side by side
MODES = ("pinned", "fast")


def mode_environment(mode, environ):
    """The environment of a process in ``mode``: "fast" drops every kernel pin the caller
    (the Makefile) exported and sets ``FAST``, keeping the thread counts."""
    env = {name: value for name, value in environ.items() if name != FAST}
    if mode == "fast":
        for name in [*KERNELS, *MACHINE]:
            env.pop(name, None)
        env[FAST] = "1"
    return env


def lines(what):
    """The lines ``what`` ("kernels", "threads" or "names") prints."""
    if what == "names":
        return list(KERNELS) + list(MACHINE)
    return [f"{name}={value}" for name, value in {"kernels": KERNELS, "threads": THREADS}[what].items()]


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in ("kernels", "threads", "names"):
        sys.exit("usage: python3 common/pinned.py kernels|threads|names")
    print("\n".join(lines(sys.argv[1])))
