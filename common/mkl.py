"""MKL's kernel branch: the same on Intel and AMD CPUs, and checked at every start.

torch's CPU wheel links oneMKL statically into ``libtorch_cpu.so``. On a CPU that is not Intel's
that MKL ignores ``MKL_CBWR=AVX2,STRICT`` and runs its ``AUTO`` branch, whose sums round
differently (the demo's BiRNN row changed on an AMD EPYC); only ``COMPATIBLE``, about 4x slower
per GEMM, is honoured there (docs/setup.md, "MKL's vendor fix and the emulated CPUs").
MKL decides "Intel or not" in ``mkl_serv_intel_cpu_true`` and ``mkl_serv_intel_cpu``, which
``libtorch_cpu.so`` calls through its symbol table. ``mkl_intel_branch.c`` defines both to
return 1; loaded with ``RTLD_GLOBAL`` before torch, it takes precedence, and MKL runs the AVX2
branch asked for (it still never runs a kernel the CPU lacks). The symbol is internal to MKL,
so tests/common/test_emulated_cpus.py checks that the fix works under an emulated AMD CPU.

    mkl.load_vendor_fix()   # before torch loads: the library, loaded (None where absent)
    mkl.branch()            # the branch in effect, as MKL_VERBOSE writes it: "AVX2,STRICT"
"""
import ctypes
import importlib.util
import os
import sys

#: mkl_service.h: MKL_CBWR_ALL (the branch with the STRICT flag)
CBWR_ALL, STRICT = ~0, 0x10000
BRANCHES = {1: "OFF", 2: "AUTO", 3: "COMPATIBLE", 4: "SSE2", 6: "SSSE3", 7: "SSE4_1",
            8: "SSE4_2", 9: "AVX", 10: "AVX2", 11: "AVX512_MIC", 12: "AVX512",
            13: "AVX512_MIC_E1", 14: "AVX512_E1"}

#: ``mkl_intel_branch.c``, compiled by ``make setup`` into the environment that runs the project
LIBRARY = os.path.join(sys.prefix, "lib", "libaction_rnn_mkl_intel_branch.so")
#: tests only: "1" leaves the vendor fix out, to show what it fixes
WITHOUT_FIX = "ACTION_RNN_NO_MKL_VENDOR_FIX"

_loaded = None


def load_vendor_fix(library=LIBRARY, environ=os.environ):
    """Load the vendor fix into this process's global symbol scope (before torch loads, to take
    effect); returns the loaded library, or None where it is absent or left out."""
    global _loaded
    if _loaded is None and environ.get(WITHOUT_FIX) != "1" and os.path.exists(library):
        _loaded = ctypes.CDLL(library, mode=ctypes.RTLD_GLOBAL)
    return _loaded


def loaded():
    """The vendor fix's library where this process has loaded it, else None."""
    return _loaded


def _torch_cpu():
    """torch's ``libtorch_cpu.so`` (which holds MKL), opened without importing torch; None
    where torch or its MKL is absent (another platform's build)."""
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = os.path.join(spec.submodule_search_locations[0], "lib", "libtorch_cpu.so")
    try:
        library = ctypes.CDLL(path)
        library.mkl_serv_cbwr_get
    except (OSError, AttributeError):
        return None
    return library


def describe(value):
    """MKL's CBWR value as MKL_VERBOSE writes it: 0x1000A -> "AVX2,STRICT"."""
    name = BRANCHES.get(value & 0xFFFF, f"branch {value & 0xFFFF}")
    return name + (",STRICT" if value & STRICT else "")


def branch():
    """The branch MKL runs in this process ("AVX2,STRICT", ...); None where torch has no MKL.
    MKL reads MKL_CBWR once, at its first call: asking fixes it, so ask after the pinning."""
    library = _torch_cpu()
    if library is None:
        return None
    return describe(library.mkl_serv_cbwr_get(ctypes.c_int(CBWR_ALL)))
