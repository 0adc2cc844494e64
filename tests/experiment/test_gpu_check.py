"""`make gpu-check` (experiment.tools.gpu_check) says "passed" only for checks that ran on a GPU,
and without one it stops with one line before running anything."""
import pytest
import torch

from experiment.tools import gpu_check


def test_a_check_whose_cuda_cases_were_skipped_has_not_passed(capsys, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")            # no GPU for pytest's process
    row, passed = gpu_check.pytest_row("graphs", ["tests/experiment/test_graphs.py", "-k",
                                                  "eager_bits or non_finite"])
    assert not passed and "| FAILED: 1 passed, 19 skipped" in row     # 19 CUDA cases, no GPU
    assert gpu_check.NO_CUDA in capsys.readouterr().err               # the log says why


def test_a_check_that_passed_says_so():
    row, passed = gpu_check.pytest_row("one", ["tests/experiment/test_graphs.py", "-k",
                                               "non_finite"])
    assert passed and row.startswith("| one | passed: 1 passed, ") and row.endswith(" s |")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_without_a_gpu_one_line_and_nothing_run(tmp_path, capsys):
    assert gpu_check.main(["--out", str(tmp_path / "check.md")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: the GPU check needs a GPU that torch can use") and "\n" not in err
    assert not (tmp_path / "check.md").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_a_bench_that_fails_is_a_failed_row_not_a_lost_table(capsys):
    """The bench's error (here: no CUDA in this torch) is its row; the traceback goes to the
    log, and the tests' rows are still written."""
    from argparse import Namespace
    row, table, passed = gpu_check.bench_section(Namespace(videos=2, train_videos=16))
    assert not passed and table == "" and row.startswith("| device bench | FAILED: ")
    assert "Traceback" in capsys.readouterr().err
