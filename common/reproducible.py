"""The same bits on every x86-64 machine: the CPU kernels pinned before numpy, torch or Caffe load
(docs/setup.md, "Bit for bit on every x86-64 CPU"). Imported first by ``common``, so by every
entry point; the Makefile exports the same variables (``pinned.py``) as a second line of defence.
Float results follow the kernel a library picks for the CPU: a reduction summed in 16 lanes
(AVX-512) or 8 (AVX2), split over 1 or 2 threads, rounds differently. Measured on an Intel Xeon
with AVX-512, each of these changed the demo's bits:

    ATEN_CPU_CAPABILITY     torch's own kernels (log_softmax differs, avx2 vs avx512)
    MKL_CBWR                torch's matmuls (MKL): AVX2 vs AVX-512 branch, and the thread count
    OPENBLAS_CORETYPE       pycaffe's OpenBLAS (Debian's, DYNAMIC_ARCH): Haswell vs SkylakeX
    OPENBLAS_NUM_THREADS    pycaffe's OpenBLAS: 1 vs 2 threads
    OMP_NUM_THREADS         torch's parallel reductions (a full sum differs, 1 vs 2 threads)
    NPY_DISABLE_CPU_FEATURES  numpy's float64 exp and log (AVX-512 vs AVX2 loops)
    ONEDNN_MAX_CPU_ISA      the CaffeNet port's convolutions (oneDNN; no change measured here,
                            pinned because its kernels are chosen by ISA as well)
    OPENCV_CPU_DISABLE      the motion stream's optical flow (OpenCV's kernels above AVX2:
    OPENCV_IPP              AVX-VNNI, AVX-512; and Intel IPP's AVX-512 code): no change
                            measured on Farneback's flow, pinned as the others (caffe_extract/flow.py)

The pinned level is AVX2, which every x86-64 machine of ours has, with one thread per library
(OpenBLAS and MKL cap their thread count at the cores present, so more could differ on a smaller
machine). On a CPU that is not Intel's, torch's MKL ignores ``MKL_CBWR`` unless ``mkl.py``'s
vendor fix is loaded, which ``pin`` does; ``check`` says in one line when MKL still runs another
branch. ``ACTION_RNN_FAST=1`` (``make ... FAST=1``) pins no kernel, only one thread per process;
every table made so says so (``mode``). The GPU is not covered.

One exception, measured: training gives the same bits with any number of torch threads, so it
uses every core it may (``training_threads``). Its matmuls are MKL's in ``STRICT`` mode; torch's
own kernels split one sum among threads only when it is a single number of more than 32,768
terms, which the training does not compute (its losses sum at most a batch of 256;
tests/common/test_reproducible.py trains with 1 and 3 threads).
"""
import os
import sys
import warnings

from . import mkl, pinned

FAST = pinned.FAST
FAST_NOTED = "ACTION_RNN_FAST_NOTED"        # set once the fast mode's note was printed


class ReproducibilityWarning(UserWarning):
    """The CPU kernels could not be pinned: a library was loaded before the pinning."""


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


def _opencv_above_avx2():
    """The names OPENCV_CPU_DISABLE takes for the OpenCV kernels above AVX2 that this CPU has,
    read from /proc/cpuinfo (no numerical library is loaded yet). Only the CPU's own: OpenCV
    prints a line for each name the CPU lacks (an emulated CPU shows the host's cpuinfo)."""
    from .cpu import proc_cpuinfo                # reads a file only: numpy stays unloaded
    flags = set(proc_cpuinfo("flags").split())
    skx = {"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"} <= flags
    groups = {"AVX_VNNI": "avx_vnni" in flags,
              "AVX512-SKX": skx,
              "AVX512-CLX": skx and "avx512_vnni" in flags,
              "AVX512-CNL": skx and {"avx512ifma", "avx512vbmi"} <= flags,
              "AVX512-ICL": skx and {"avx512ifma", "avx512vbmi", "avx512_vnni", "avx512_vbmi2",
                                     "avx512_bitalg", "avx512_vpopcntdq"} <= flags}
    return ",".join(name for name, present in groups.items() if present)


#: every variable pinned, and its value here (the names and fixed values: ``pinned.py``)
PINNED = {**pinned.KERNELS, **pinned.THREADS,
          "NPY_DISABLE_CPU_FEATURES": _numpy_avx512_features(),
          "OPENCV_CPU_DISABLE": _opencv_above_avx2()}

#: the thread counts, which fast mode keeps (unless set): extraction runs one process per core
THREADS = tuple(pinned.THREADS)

#: libraries whose kernels are chosen when they load: pinning after them is too late
LIBRARIES = ("numpy", "torch", "caffe", "cv2")


def pin(environ=os.environ, modules=sys.modules):
    """Set ``PINNED`` in ``environ`` (overriding other values) and load MKL's vendor fix;
    returns the libraries loaded already (their kernels may follow the CPU), with a warning."""
    if environ.get(FAST) == "1":
        for name in THREADS:                    # the layout stays: one thread per process
            environ.setdefault(name, "1")
        if environ.get(FAST_NOTED) != "1":      # once per command, not once per process
            environ[FAST_NOTED] = "1"
            print(f"note: {FAST}=1: CPU kernels not pinned (fast mode); results may differ "
                  "between machines in the last digits", file=sys.stderr)
        return []
    environ.update({name: value for name, value in PINNED.items() if value})
    mkl.load_vendor_fix(environ=environ)
    early = [name for name in LIBRARIES if name in modules]
    if early:
        warnings.warn(f"{', '.join(early)} imported before common/caffe_extract/rnn_models: "
                      "their CPU kernels may not be pinned, so results may differ between "
                      "machines in the last digits; import one of those first "
                      "(README, 'Bit for bit')", ReproducibilityWarning, stacklevel=2)
    return early


def check(environ=os.environ):
    """Say in one line when MKL does not run the branch pinned (a non-Intel CPU without the
    vendor fix, a CPU without AVX2); returns MKL's branch (None without torch's MKL)."""
    if environ.get(FAST) == "1":
        return None
    running = mkl.branch()
    if running is not None and running != PINNED["MKL_CBWR"]:
        from . import cpu
        fix = mkl.load_vendor_fix(environ=environ)
        why = ("" if fix is not None else
               f"; MKL's vendor fix ({mkl.LIBRARY}) is not loaded: run `make setup`")
        ident = cpu.identity()
        print(f"warning: MKL runs its {running} branch, not the pinned {PINNED['MKL_CBWR']}, on "
              f"this CPU ({ident['vendor']} {ident['model']}){why}; results may differ from "
              "other machines' in the last digits (README, 'Bit for bit')", file=sys.stderr)
    return running


def mode(environ=os.environ):
    """How this process's CPU kernels were chosen: "pinned" or "fast" (recorded in results)."""
    return "fast" if environ.get(FAST) == "1" else "pinned"


def runs_pinned():
    """True when this process runs with the pinned kernels (MKL's branch as MKL reports it,
    torch's own checked where loaded; its thread count is free, see ``training_threads``)."""
    if mode() == "fast" or BRANCH not in (None, PINNED["MKL_CBWR"]) or \
            any(os.environ.get(k) != v for k, v in PINNED.items() if v):
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
BRANCH = check()
