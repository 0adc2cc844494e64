"""Where the PyTorch code runs, and how faithfully: ``--device auto|cpu|cuda`` and ``--fast``.

    device = devices.resolve("auto")      # "cuda" where torch sees a GPU, else "cpu"
    devices.configure(device)              # fidelity first: no TF32, deterministic kernels

Since Ampere, PyTorch may compute float32 in TF32 (a 10-bit mantissa), which would break the
CaffeNet port's 1e-5 parity with pycaffe: so TF32 is off and the kernels deterministic unless
``fast=True`` (``--fast``), which every store and table made so records (``describe``).
"""
import os

import torch

CHOICES = ("auto", "cpu", "cuda")


class DeviceError(ValueError):
    """A device that this machine does not have."""


def resolve(name="auto"):
    """"auto" -> "cuda" when torch sees a CUDA device, else "cpu"; "cuda" without one is a
    clear error. "cuda:1" and the like pass through."""
    name = str(name or "auto")
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        build = "a CPU-only build of torch" if torch.version.cuda is None else \
            f"torch built for CUDA {torch.version.cuda}, but no GPU is visible"
        raise DeviceError(f"--device {name}: this machine has no usable CUDA device ({build}); "
                          "use --device cpu, or on a GPU machine `make setup TORCH=torch`")
    if name != "cpu" and not name.startswith("cuda"):
        raise DeviceError(f"--device must be auto, cpu or cuda, got {name!r}")
    return name


def configure(device, fast=False):
    """Set torch's numerics for ``device``: exact float32 (no TF32) and deterministic kernels,
    or TF32 allowed with ``fast``. Call before the first CUDA operation."""
    if str(device).startswith("cuda"):
        workspace = os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        if not fast and workspace not in (":4096:8", ":16:8"):   # cuBLAS's deterministic ones
            raise DeviceError(f"CUBLAS_WORKSPACE_CONFIG={workspace} makes cuBLAS "
                              "nondeterministic (torch would stop at the first matrix product): "
                              "unset it, set :4096:8, or pass --fast")
    torch.backends.cuda.matmul.allow_tf32 = bool(fast)
    torch.backends.cudnn.allow_tf32 = bool(fast)
    torch.backends.cudnn.deterministic = not fast
    torch.backends.cudnn.benchmark = False
    torch.use_deterministic_algorithms(not fast, warn_only=False)


def describe(device, fast=False):
    """The device as results and stores record it: "cpu", "cuda (NVIDIA H100 80GB HBM3)", with
    TF32 (``fast``) or the CPU kernels' fast mode (``ACTION_RNN_FAST=1``) said when on."""
    from .reproducible import mode
    text = str(device)
    if text.startswith("cuda"):
        text += f" ({torch.cuda.get_device_name(torch.device(text))})"
    elif mode() == "fast":
        text += ", CPU kernels not pinned (ACTION_RNN_FAST=1): not the same bits on every machine"
    return text + (", TF32 allowed (--fast): not exact float32" if fast else "")


def extraction_defaults(device):
    """(decoding workers, videos per batch) for an extraction on ``device``: on a GPU all cores
    but one (at most 16) decode, so that the GPU does not wait; on the CPU one worker."""
    if str(device).startswith("cuda"):
        return max(1, min(16, (os.cpu_count() or 2) - 1)), 32
    return 1, 4
