"""This machine's CPU and the kernels in effect, in the words a bug report needs
(``python -m common``): ``identity()``, ``flags()``, ``kernels()``, and ``summary()`` of the three.
The vendor and model are read by CPUID where possible (the MKL vendor fix's library), so that
an emulated CPU names itself; the flags are the kernel's list (an emulator shows the host's).
"""
import ctypes
import importlib
import os
import sys

from . import mkl


def proc_cpuinfo(field):
    """The value of ``field`` for the first CPU in /proc/cpuinfo ("" where there is none)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == field:
                    return value.strip()
    except OSError:
        pass
    return ""


def identity():
    """The CPU's vendor and model name."""
    library = mkl.loaded()
    if library is None and os.path.exists(mkl.LIBRARY):
        library = ctypes.CDLL(mkl.LIBRARY)      # its CPUID reader only: not in the global scope
    if library is not None:
        vendor, model = ctypes.create_string_buffer(13), ctypes.create_string_buffer(49)
        library.action_rnn_cpu_vendor(vendor)
        library.action_rnn_cpu_brand(model)
        return {"vendor": vendor.value.decode(errors="replace"),
                "model": model.value.decode(errors="replace").strip()}
    import platform
    return {"vendor": proc_cpuinfo("vendor_id") or platform.machine(),
            "model": proc_cpuinfo("model name") or platform.processor()}


def flags():
    """The CPU's feature flags as the kernel lists them (/proc/cpuinfo, upper case: AVX2, ...);
    else numpy's (a fallback: numpy hides those NPY_DISABLE_CPU_FEATURES switched off)."""
    listed = proc_cpuinfo("flags")
    if listed:
        return sorted(listed.upper().split())
    for module in ("numpy._core._multiarray_umath", "numpy.core._multiarray_umath"):  # 2.x, 1.x
        try:
            features = importlib.import_module(module).__cpu_features__
        except (ImportError, AttributeError):
            continue
        return sorted(name for name, present in features.items() if present)
    return []


def has_avx512():
    return "AVX512F" in flags()


OPENBLAS = ("libopenblas.so.0", "libopenblasp-r0.so", "libopenblas.so")


def _openblas(mode):
    """The first library of ``OPENBLAS`` that ctypes opens with ``mode``; None if none does."""
    for name in OPENBLAS:
        try:
            return ctypes.CDLL(name, mode=mode)
        except OSError:
            pass
    return None


def load_openblas():
    """Load the system's OpenBLAS (the one pycaffe links), to report its core; False if none."""
    return _openblas(ctypes.DEFAULT_MODE) is not None


def openblas_core():
    """The core type of the OpenBLAS pycaffe uses (Debian's), where it is loaded; else None."""
    library = _openblas(os.RTLD_NOLOAD)
    if library is None:
        return None
    library.openblas_get_corename.restype = ctypes.c_char_p
    return library.openblas_get_corename().decode()


def kernels():
    """The kernel branch each library runs in this process (None where it is not loaded)."""
    torch = sys.modules.get("torch")
    numpy_off = os.environ.get("NPY_DISABLE_CPU_FEATURES", "")
    return {"MKL": mkl.branch(),
            "ATen": torch.backends.cpu.get_cpu_capability() if torch is not None else None,
            "OpenBLAS (pycaffe)": openblas_core(),
            "numpy AVX-512 loops": "off" if "AVX512" in numpy_off or "X86_V4" in numpy_off
            else "CPU's choice",
            "MKL vendor fix": "loaded" if mkl.loaded() is not None else
            "not loaded" if os.path.exists(mkl.LIBRARY) else "not built"}


def summary():
    """One line: vendor, model, AVX2/AVX-512, and the kernels in effect."""
    cpu, offered = identity(), flags()
    isa = "AVX-512" if "AVX512F" in offered else "AVX2" if "AVX2" in offered else "no AVX2"
    running = ", ".join(f"{k} {v}" for k, v in kernels().items() if v is not None)
    return f"{cpu['vendor']} {cpu['model']} ({isa}); kernels: {running}"
