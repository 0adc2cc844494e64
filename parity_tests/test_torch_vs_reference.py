"""The PyTorch modules compute what the NumPy reference computes: outputs, loss, every gradient.

Tolerance: 1e-10 absolute in float64. Both sides evaluate the same sums in different orders
(one fused matmul for all time steps vs step by step), so they differ by rounding only: the
largest gap measured over this grid was 1.6e-15 for D = 7 and 5.2e-15 for D = 4096; with the
nntools step, the learnt initial state and the per-step loss (N = 4, T = 10, every config):
4.4e-16 / 8.0e-15 (averaged loss, D = 7 / 4096) and 8.9e-16 / 1.2e-14 (per-step). An error in an
equation moves results by far more (see test_mutations.py).
"""
import pytest

from .helpers import CONFIGS, LOSS_CONFIGS, Case, config_id, max_gap

TOLERANCE = 1e-10


@pytest.mark.parametrize("config", CONFIGS, ids=config_id)
@pytest.mark.parametrize("N", [1, 4])
@pytest.mark.parametrize("T", [1, 10])
@pytest.mark.parametrize("D", [7, 4096])
def test_torch_equals_reference(config, N, T, D):
    name, options, dropout = config
    case = Case(name, options, N=N, T=T, D=D, H=8, C=5, seed=N * 100 + T * 10 + D, dropout=dropout)
    gap, where = max_gap(case.torch(), case.reference())
    assert gap <= TOLERANCE, f"{name} {options}: torch and reference differ by {gap:.3g} in {where}"


@pytest.mark.parametrize("config", CONFIGS, ids=config_id)
def test_torch_equals_reference_on_each_device(config, device):
    """The same parity on every device present (CUDA where there is one): float64 on a GPU is
    IEEE double too, so the gap stays at rounding level."""
    name, options, dropout = config
    case = Case(name, options, N=4, T=10, D=64, H=8, C=5, seed=7, dropout=dropout)
    gap, where = max_gap(case.torch(device=device), case.reference())
    assert gap <= TOLERANCE, f"{name} {options} on {device}: gap {gap:.3g} in {where}"


@pytest.mark.parametrize("config", LOSS_CONFIGS, ids=config_id)
@pytest.mark.parametrize("N, T", [(1, 1), (4, 10)])
@pytest.mark.parametrize("D", [7, 4096])
def test_per_step_loss_torch_equals_reference(config, N, T, D):
    """torch's step_log_probabilities -> -(1/(N T)) sum log P_t[n, label_n], autograd, equals the
    reference's hand-derived per-step loss and gradients."""
    name, options, dropout = config
    case = Case(name, options, N=N, T=T, D=D, H=8, C=5, seed=N + T + D, dropout=dropout,
                loss="per-step")
    gap, where = max_gap(case.torch(), case.reference())
    assert gap <= TOLERANCE, f"{name} {options}: per-step loss differs by {gap:.3g} in {where}"
