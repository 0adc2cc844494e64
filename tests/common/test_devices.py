"""common.devices: the device names a command takes and the numerics it sets for them."""
import os

import pytest
import torch

from common import devices


@pytest.fixture
def numerics():
    """torch's global numerics as they were, restored after the test."""
    saved = (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.deterministic,
             torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    yield
    torch.use_deterministic_algorithms(saved[0])
    torch.backends.cudnn.deterministic = saved[1]
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved[2:]


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu_is_a_clear_error():
    assert devices.resolve("auto") == "cpu"
    with pytest.raises(devices.DeviceError, match="no usable CUDA device.*--device cpu"):
        devices.resolve("cuda")


@pytest.mark.parametrize("workspace", [":0:0", ":4096:2"])
def test_a_nondeterministic_cublas_workspace_is_refused_before_anything_is_set(
        monkeypatch, numerics, workspace):
    """torch accepts only :4096:8 and :16:8 in deterministic mode, and would raise at the first
    matrix product on the GPU; the run stops at once instead, saying which variable to change."""
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", workspace)
    torch.use_deterministic_algorithms(False)
    with pytest.raises(devices.DeviceError, match=f"CUBLAS_WORKSPACE_CONFIG={workspace}"):
        devices.configure("cuda")
    assert not torch.are_deterministic_algorithms_enabled()
    devices.configure("cuda", fast=True)              # --fast: no deterministic kernels asked
    assert torch.backends.cuda.matmul.allow_tf32 and not torch.are_deterministic_algorithms_enabled()


@pytest.mark.parametrize("workspace", [None, ":16:8"])
def test_exact_numerics_on_cuda(monkeypatch, numerics, workspace):
    if workspace is None:
        monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    else:
        monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", workspace)
    devices.configure("cuda")
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == (workspace or ":4096:8")
    assert torch.are_deterministic_algorithms_enabled() and torch.backends.cudnn.deterministic
    assert not torch.backends.cuda.matmul.allow_tf32 and not torch.backends.cudnn.allow_tf32
