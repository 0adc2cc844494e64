"""The training benchmark's FLOP model: what `make bench` divides by the measured GEMM peak."""
import os
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from experiment.tools import bench, workload
from rnn_models import build
from configurations import get


@pytest.mark.parametrize("model", bench.MODELS)
def test_flop_model_counts_exactly_the_gemms_torch_runs(model):
    """One training step and one evaluation forward count exactly the matrix-product FLOPs
    that torch executes: no product is missing from the bound, and the code does none more
    (no input gradient for the codes, no recomputed forward)."""
    n, d, h, c = 3, 40, 8, 5
    torch.manual_seed(0)
    net = build(model, d, h, c, **get("paper").model_options(model))
    x, y = torch.rand(n, workload.T, d), torch.tensor([0, 4, 2])
    with FlopCounterMode(display=False) as step:
        torch.nn.functional.nll_loss(net.log_probabilities(x), y).backward()
    with FlopCounterMode(display=False) as forward, torch.no_grad():
        net.eval().log_probabilities(x)
    assert step.get_total_flops() == workload.step_flops(model, n, d=d, h=h, c=c)
    assert forward.get_total_flops() == workload.forward_flops(model, n, d=d, h=h, c=c)


def test_epoch_flops_of_split_1():
    """The LSTM epoch of split 1: 7,947 training steps' worth and 1,590 validation forwards."""
    f = workload.forward_flops("lstm", 1)
    assert f == 2 * 10 * (4096 * 2048 + 512 * 2048 + 512 * 512 + 512 * 101)
    assert workload.epoch_flops("lstm") == workload.step_flops("lstm", 7947) + 1590 * f


def test_rehearsal_store_has_ucf101s_shape():
    """The rehearsal's layout: 13,320 videos, UCF-101's 101 names, the published split sizes."""
    from caffe_extract.ucf101 import TEST, TRAIN, parse_name
    from experiment.studies.rehearsal import UCF101_CLASSES, layout, synthetic_codes
    videos, labels, groups, membership = layout()
    assert len(videos) == len(set(videos)) == 13_320 and len(set(UCF101_CLASSES)) == 101
    assert UCF101_CLASSES[0] == "ApplyEyeMakeup" and UCF101_CLASSES[100] == "YoYo"
    sizes = [((membership[:, k] == TRAIN).sum(), (membership[:, k] == TEST).sum()) for k in range(3)]
    assert sizes == [(9_537, 3_783), (9_586, 3_734), (9_624, 3_696)]
    assert set(groups[membership[:, 0] == TEST]) == set(range(1, 8))
    assert parse_name(videos[-1]) == ("YoYo", 25, 5) and set(labels) == set(range(101))
    block = next(synthetic_codes(labels[:7]))
    assert block.shape == (7, 10, 4096) and block.dtype == "float32" and block.min() >= 0


def test_per_class_table_sorts_worst_first_and_names_the_confusion():
    from experiment.analysis.report import per_class_markdown
    matrix = __import__("numpy").array([[3, 1, 0], [0, 1, 3], [0, 0, 4]])
    text = per_class_markdown(["A", "B", "C"], {"rnn": matrix}, {"rnn": "RNN"})
    rows = [line for line in text.splitlines() if line.startswith("| ") and "%" not in line]
    assert rows == ["| B | 4 | 25.0 | C (3) |", "| A | 4 | 75.0 | B (1) |", "| C | 4 | 100.0 | - |"]


def test_fast_mode_environment_drops_every_kernel_pin_and_keeps_the_threads():
    from common.reproducible import FAST, PINNED, THREADS
    from common.pinned import mode_environment
    given = {**{k: v for k, v in PINNED.items() if v}, "PATH": "/bin"}
    fast = mode_environment("fast", given)
    assert fast[FAST] == "1" and fast["PATH"] == "/bin"
    assert {k for k in PINNED if k in fast} == set(THREADS)
    pinned = mode_environment("pinned", {**given, FAST: "1"})
    assert FAST not in pinned and pinned["MKL_CBWR"] == "AVX2,STRICT"


def kernel_pins():
    """This process's kernel mode, whether it runs pinned, and its kernel pins (for a child)."""
    from common import pinned, reproducible
    return (reproducible.mode(), reproducible.runs_pinned(),
            {name: os.environ.get(name) for name in pinned.KERNELS})


def test_each_mode_s_process_runs_in_that_mode():
    """The benches' children (``in_modes``) start in their mode whatever this process's: the
    fast one with no kernel pin, the pinned one pinned (as MKL and torch report it)."""
    from caffe_extract.bench import in_modes
    from common.pinned import KERNELS
    found = in_modes(["fast", "pinned"], kernel_pins)
    assert found["fast"] == ("fast", False, dict.fromkeys(KERNELS))
    assert found["pinned"] == ("pinned", True, KERNELS)


def test_bench_times_pinned_and_fast_side_by_side(tmp_path):
    """`make bench` on the CPU: each mode in its own process (``in_modes``, tested above), one
    table with both epochs, each against its own bound, and both projected times."""
    import subprocess
    import sys
    out = tmp_path / "training.md"
    subprocess.run([sys.executable, "-m", "experiment.tools.bench", "--modes", "pinned", "fast",
                    "--models", "average", "--sample", "64", "--repeats", "1", "--out", str(out)],
                   check=True, capture_output=True, timeout=600)
    text = out.read_text()
    assert "| model | pinned s / epoch | pinned epoch / bound | fast s / epoch " in text
    row = [line for line in text.splitlines() if line.startswith("| Average | ")][-1]
    assert len(row.split("|")) == 8 and row.rstrip(" |").endswith("x")
    assert "kernels pinned; fast = " in text and text.count("kernels fast") == 1
    assert "Projected table of one split: pinned " in text and " min, fast " in text


@pytest.mark.parametrize("cxx, column", [("/usr/bin/g++", "Theano 1.0.5 + Lasagne 0.1"),
                                         (None, "Theano 1.0.5 + Lasagne 0.1, no g++")])
def test_a_theano_step_without_g_plus_plus_is_named_so(tmp_path, monkeypatch, cxx, column):
    """Theano without g++ runs its Python ops, orders of magnitude slower: its column says so
    (the report's note on compiled C ops belongs to the other column only)."""
    import json
    import stat

    from experiment.tools import steps
    oracle = tmp_path / "python"
    oracle.write_text("#!/bin/sh\necho '" + json.dumps({"seconds_per_step": 0.5, "cxx": cxx}) + "'\n")
    oracle.chmod(oracle.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setattr(steps, "ORACLE_PYTHON", str(oracle))
    assert steps.step_comparison("average", "cpu", theano=True)[column] == 0.5
