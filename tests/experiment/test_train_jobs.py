"""``python -m experiment.train --jobs N`` and the one way to run N processes
(``common.processes``): the same table as one process, byte for byte; a worker that dies or fails
is a clear error, never a hang."""
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

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


def ignores_ctrl_c():
    return signal.getsignal(signal.SIGINT) == signal.SIG_IGN


def ignores_ctrl_c_of(job):
    return ignores_ctrl_c()


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


def test_workers_ignore_ctrl_c_from_birth_and_the_parent_keeps_hearing_it():
    """A worker started with SIGINT ignored never installs Python's ``KeyboardInterrupt`` (a
    handler set once it runs would leave its start-up, the imports, exposed); the parent's handler
    is back once they are started. The decoding processes of extraction alike."""
    from caffe_extract.decoding import ordered_imap
    before = signal.signal(signal.SIGINT, signal.default_int_handler)   # (a CI job may ignore it)
    try:
        assert run_all([Task(str(i), ignores_ctrl_c) for i in range(2)], 2, progress=False) == \
            {"0": True, "1": True}
        assert list(ordered_imap(ignores_ctrl_c_of, range(3), 2, 2)) == [True] * 3
        assert signal.getsignal(signal.SIGINT) == signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, before)


CTRL_C = textwrap.dedent("""
    import os, sys, time
    from common.commands import guarded
    from common.processes import Task, run_all

    def writes_its_pid(pid_file, seconds):
        open(pid_file, "w").write(str(os.getpid()))
        time.sleep(seconds)

    if __name__ == "__main__":
        tasks = [Task(str(i), writes_its_pid, (os.path.join(sys.argv[1], str(i)), 120 * (i > 0)))
                 for i in range(5)]
        sys.exit(guarded(lambda: run_all(tasks, 2, progress=False), ()))
    """)


def test_ctrl_c_is_one_line_and_stops_every_worker(tmp_path):
    """Ctrl-C (SIGINT to the whole process group, as a terminal sends it) while two workers run
    tasks of two minutes and two more tasks wait, passed on to the workers already: status 130
    at once, one line on stderr (no worker's traceback: they ignore it), the waiting tasks never
    started (a stopped worker once took the next one and ran it to its end: a hang), and no
    worker left running."""
    (tmp_path / "ctrl_c.py").write_text(CTRL_C)
    root = Path(__file__).resolve().parents[2]
    command = subprocess.Popen(         # SIGINT at its default: a background CI job ignores it
        [sys.executable, str(tmp_path / "ctrl_c.py"), str(tmp_path)], cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)}, start_new_session=True,
        stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    pid_files = [tmp_path / "0", tmp_path / "1", tmp_path / "2"]
    deadline = time.monotonic() + 120
    while not all(p.exists() and p.read_text() for p in pid_files):
        assert time.monotonic() < deadline and command.poll() is None, command.stderr.read()
        time.sleep(0.2)
    os.killpg(command.pid, signal.SIGINT)
    start = time.monotonic()
    try:
        _, stderr = command.communicate(timeout=60)
    except subprocess.TimeoutExpired:       # a hang fails the test, and leaves nothing behind
        os.killpg(command.pid, signal.SIGKILL)
        raise
    assert command.returncode == 130 and time.monotonic() - start < 30
    assert stderr.strip().splitlines() == [
        "interrupted: what was saved is kept; rerun the same command to go on from it"]
    for pid in (int(p.read_text()) for p in pid_files):
        while time.monotonic() < start + 30 and Path(f"/proc/{pid}").exists():
            time.sleep(0.2)                 # (reaped by init once their parent has gone)
        assert not Path(f"/proc/{pid}").exists(), f"worker {pid} still runs"
    assert not (tmp_path / "3").exists() and not (tmp_path / "4").exists()


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
