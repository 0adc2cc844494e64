"""The same bits on every x86-64 machine: the CPU kernels pinned before numpy, torch or Caffe load.

Imported first by ``caffe_extract`` (and so by ``rnn_models``, which imports it): every entry
point (``python -m caffe_extract``, ``caffe_extract.synthetic``, ``experiment.train``,
``experiment.drift``, ``experiment.predict``) runs this before any numerical library is loaded.
The Makefile exports the same variables as a second line of defence.

Float results follow the kernel a library picks for the CPU it runs on: a reduction summed in
16 lanes (AVX-512) or 8 (AVX2), split over 1 or 2 threads, rounds differently. Measured on an
Intel Xeon with AVX-512 (README.md, "Bit for bit"), each of these changed the demo's bits:

    ATEN_CPU_CAPABILITY     torch's own kernels (log_softmax differs, avx2 vs avx512)
    MKL_CBWR                torch's matmuls (MKL): AVX2 vs AVX-512 branch, and the thread count
    OPENBLAS_CORETYPE       pycaffe's OpenBLAS (Debian's, DYNAMIC_ARCH): Haswell vs SkylakeX
    OPENBLAS_NUM_THREADS    pycaffe's OpenBLAS: 1 vs 2 threads
    OMP_NUM_THREADS         torch's parallel reductions (a full sum differs, 1 vs 2 threads)
    NPY_DISABLE_CPU_FEATURES  numpy's float64 exp and log (AVX-512 vs AVX2 loops)
    ONEDNN_MAX_CPU_ISA      the CaffeNet port's convolutions (oneDNN; no change measured here,
                            pinned because its kernels are chosen by ISA as well)

The pinned level is AVX2, which every x86-64 machine of ours has (Intel and AMD, with or without
AVX-512). Every library starts with one thread: OpenBLAS and MKL cap their thread count at the
cores present, so any count above 1 could differ on a smaller machine. MKL's ``STRICT`` mode
makes its matmuls bitwise reproducible whatever the thread count.

One exception, measured: training (``experiment.train``) gives the same bits with any number of
torch threads, so it uses every core it may (``training_threads``). Its matmuls are MKL's in
``STRICT`` mode; torch's own kernels share out the elements of their output among threads,
and split the terms of one sum only when that sum is a single number of more than 32,768
terms, which the training does not compute (its losses sum at most a batch of 256 terms).
tests/test_reproducible.py trains the four models with 1 and 3 threads and compares the bytes;
by hand, 1, 2, 3, 4 and 8 threads gave identical weights for all four models here.
Extraction stays on one thread (pycaffe's OpenBLAS changes bits with its thread count; the
CaffeNet port's convolutions were not measured).

The GPU path (``--device cuda``) is not covered: cuBLAS and cuDNN kernels differ between
GPU models, so results agree across cards only to a tolerance.

Escape hatch, for the test that shows the pinning matters (tests/test_reproducible.py):
``ACTION_RNN_UNPINNED=1`` sets nothing. Nothing else should use it.
"""
import os
import sys
import warnings

UNPINNED = "ACTION_RNN_UNPINNED"


class ReproducibilityWarning(UserWarning):
    """The CPU kernels could not be pinned (a library was loaded first) or were unpinned."""


def _numpy_avx512_features():
    """The names numpy's NPY_DISABLE_CPU_FEATURES takes for its AVX-512 loops (read without
    importing numpy): feature groups since numpy 2.4, single features before."""
    from importlib import metadata
    try:
        major, minor = (int(part) for part in metadata.version("numpy").split(".")[:2])
    except (metadata.PackageNotFoundError, ValueError):
        return ""
    if (major, minor) >= (2, 4):
        return "X86_V4 AVX512_ICL AVX512_SPR"
    return "AVX512F AVX512CD AVX512_KNL AVX512_KNM AVX512_SKX AVX512_CLX AVX512_CNL AVX512_ICL"


PINNED = {
    "ATEN_CPU_CAPABILITY": "avx2",
    "MKL_CBWR": "AVX2,STRICT",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "OPENBLAS_CORETYPE": "Haswell",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "NPY_DISABLE_CPU_FEATURES": _numpy_avx512_features(),
}

#: libraries whose kernels are chosen when they load: pinning after them is too late
LIBRARIES = ("numpy", "torch", "caffe")


def pin(environ=os.environ, modules=sys.modules):
    """Set ``PINNED`` in ``environ`` (overriding other values); returns the libraries that were
    loaded already, and warns once about them (their kernels may follow the CPU)."""
    if environ.get(UNPINNED) == "1":
        warnings.warn(f"{UNPINNED}=1: CPU kernels not pinned; results may differ between "
                      "machines", ReproducibilityWarning, stacklevel=2)
        return []
    for name, value in PINNED.items():
        if value:
            environ[name] = value
    early = [name for name in LIBRARIES if name in modules]
    if early:
        warnings.warn(f"{', '.join(early)} imported before caffe_extract/rnn_models: their CPU "
                      "kernels may not be pinned, so results may differ between machines in "
                      "the last digits; import caffe_extract or rnn_models first "
                      "(README, 'Bit for bit')", ReproducibilityWarning, stacklevel=2)
    return early


def pinned():
    """True when this process runs with the pinned kernels (torch's checked where loaded; its
    thread count is free, see ``training_threads``)."""
    if os.environ.get(UNPINNED) == "1":
        return False
    if any(os.environ.get(k) != v for k, v in PINNED.items() if v):
        return False
    torch = sys.modules.get("torch")
    return torch is None or torch.backends.cpu.get_cpu_capability() == "AVX2"


def available_cores():
    """The cores this process may run on (its affinity mask: a Slurm allocation, taskset)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:                       # not Linux
        return os.cpu_count() or 1


def training_threads(requested=None):
    """Torch threads for training and evaluation: ``requested``, else every available core.
    The count changes the speed, not the bits (module docstring)."""
    return requested or available_cores()


EARLY = pin()
