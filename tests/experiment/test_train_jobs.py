"""``python -m experiment.train --jobs N`` and the one way to run N processes
(``common.processes``): the same table as one process, byte for byte; a worker that dies or fails
is a clear error, never a hang."""
import os
import signal
import time

import pytest
import torch

from common.processes import Task, WorkerDied, run_all
from experiment import train as T

from .test_train import features, toy_store  # noqa: F401  (the fixture and its store)


def test_jobs_2_gives_the_table_of_jobs_1_byte_for_byte(features, tmp_path,  # noqa: F811
                                                        monkeypatch):
    """Two models, a grid of two points and two seeds: the grid's runs train two at once, then
    the seeds'; every results file and every checkpoint's weights equal one process's (each
    run from its own folder with ``--out results``: the table names the folder)."""
    argv = ["--features", str(features), "--models", "average", "rnn", "--lr", "0.01", "0.003",
            "--hidden", "8", "--seeds", "2", "--epochs", "3", "--patience", "0",
            "--batch-size", "16", "--val-groups", "2", "--no-progress", "--device", "cpu"]
    for jobs in ("1", "2"):
        (tmp_path / jobs).mkdir()
        monkeypatch.chdir(tmp_path / jobs)
        assert T.main(argv + ["--out", "results", "--jobs", jobs]) == 0
    one, two = tmp_path / "1" / "results", tmp_path / "2" / "results"
    for name in ("table.md", "table.json", "table.tex", "predictions.csv", "per_class.csv"):
        assert (one / name).read_bytes() == (two / name).read_bytes(), name
    runs = sorted(p.name for p in (one / "checkpoints").glob("*.pt"))
    assert runs == sorted(p.name for p in (two / "checkpoints").glob("*.pt")) and len(runs) == 6
    for run in runs:
        a, b = (torch.load(folder / "checkpoints" / run, weights_only=True)["model"]
                for folder in (one, two))
        assert all(torch.equal(a[k], b[k]) for k in a), run


def square(x):
    return x * x


def die():
    os.kill(os.getpid(), signal.SIGKILL)


def fail(x):
    time.sleep(0.1)
    raise ValueError(f"part {x} failed")


def test_run_all_returns_every_result_by_name():
    assert run_all([Task(str(i), square, (i,)) for i in range(5)], 2, progress=False) == \
        {str(i): i * i for i in range(5)}


def test_a_killed_worker_is_a_clear_error_not_a_hang():
    start = time.monotonic()
    with pytest.raises(WorkerDied, match="worker process died.*rerun"):
        run_all([Task("dies", die), Task("sleeps", time.sleep, (0.5,))], 2, progress=False,
                rerun_hint="rerun the same command")
    assert time.monotonic() - start < 60


def test_a_task_s_error_is_raised_after_the_running_tasks_end():
    with pytest.raises(ValueError, match="part 1 failed"):
        run_all([Task("a", fail, (1,)), Task("b", square, (2,))], 2, progress=False)


def test_a_seed_task_refuses_to_start_before_its_search(features, tmp_path, capsys):  # noqa: F811
    """A job array's seed task (``--stage seeds``) whose model's search runs have not finished
    is one line of error and trains nothing (each seed task would otherwise train the missing
    search runs itself, all at once); after the search tasks it trains its seed."""
    argv = ["--features", str(features), "--out", str(tmp_path / "out"), "--models", "rnn",
            "--lr", "0.01", "0.003", "--hidden", "8", "--seeds", "2", "--epochs", "2",
            "--batch-size", "16", "--val-groups", "2", "--no-progress", "--device", "cpu"]
    assert T.main(argv + ["--stage", "search", "--task", "0"]) == 0
    capsys.readouterr()
    assert T.main(argv + ["--stage", "seeds", "--task", "1"]) == 1
    error = capsys.readouterr().err.strip()
    assert error.endswith("the search runs rnn-paper-h8-lr0.003-seed0 have not finished: run "
                          "every task of --stage search first") and "\n" not in error
    assert [p.name for p in (tmp_path / "out" / "checkpoints").glob("*.pt")] == \
        ["rnn-paper-h8-lr0.01-seed0.pt"]
    assert T.main(argv + ["--stage", "search", "--task", "1"]) == 0
    assert T.main(argv + ["--stage", "seeds", "--task", "1"]) == 0
    assert len(list((tmp_path / "out" / "checkpoints").glob("*.pt"))) == 3
