"""One way to run N processes at once, for every command that does (extraction ``--jobs``,
``experiment.train --jobs``, ``experiment.future --jobs``, the benches' modes).

    results = run_all([Task("a", work, (1,)), Task("b", work, (2,))], jobs=2, desc="parts")

Each task runs in a *spawned* process (torch is not safe to fork once its threads ran; a spawned
child imports ``common`` first, so its kernels are pinned as this process's), in the order given
(put the longest first). Failure, never a hang: a dead worker is a ``WorkerDied`` at once, and
workers die with this process (``die_with_parent``). Ctrl-C is the parent's alone: workers
are started with it ignored (``ctrl_c_ignored``), and the parent stops them.
"""
import contextlib
import multiprocessing
import os
import signal
import sys
import threading
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from unittest import mock


class WorkerDied(RuntimeError):
    """A worker process ended without finishing its task (killed: out of memory?)."""


@dataclass(frozen=True)
class Task:
    """One unit of work: ``function(*args)`` in a worker, its result filed under ``name``."""

    name: str
    function: object
    args: tuple = ()


def share_of_threads(total, jobs):
    """Each of ``jobs`` workers' torch threads when they share ``total``: at least one."""
    return max(1, total // max(jobs, 1))


def die_with_parent(parent):
    """Linux: have the kernel kill this worker process when its parent ``parent`` (a pid) dies.
    A worker of a ProcessPoolExecutor holds both ends of its task queue, so after a kill -9 of
    the parent it would finish its task, then wait forever, holding its memory (15 of 20 killed
    runs of the extraction's fault campaign left one behind)."""
    import ctypes
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):     # not Linux: nothing to ask for
        return
    if os.getppid() != parent:            # the parent died before the request was made
        os._exit(1)


@contextlib.contextmanager
def ctrl_c_ignored():
    """Processes started inside ignore Ctrl-C from their first instruction on: an ignored signal
    stays ignored across ``exec``, and Python installs its ``KeyboardInterrupt`` only where SIGINT
    is at its default. Ctrl-C reaches every process of the terminal's group; a worker's own
    ``KeyboardInterrupt`` (raised while it still imported, or inside the pool's locks) printed a
    traceback each, could hang the pool, and a decoding worker's death could pass for a video that
    crashes its decoder. So the parent alone hears it, stops its workers and says so once. (A
    Ctrl-C in the instant the parent starts a worker is lost: press it again. Outside the main
    thread, which alone hears signals, nothing to do.)"""
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    try:
        yield
    finally:
        if main:
            signal.signal(signal.SIGINT, previous)


def start_worker(threads, parent):
    """A worker: dies with its parent; its torch, where it runs torch, on ``threads`` threads
    (None: left alone)."""
    die_with_parent(parent)
    if threads is not None:
        import torch
        torch.set_num_threads(threads)


_STOPPED = _IN_TASK = False     # in a worker of ``run_all``: it was stopped; it runs a task


def _start_task_worker(threads, parent):
    """``start_worker``, then: stopped (``terminate``) in a task, the worker unwinds as from an
    error, so that what the task holds is given back (its decoding processes, its shared memory:
    killed outright, it left them to the resource tracker, a warning each). Stopped while it
    starts, it just dies; idle, it waits for the pool's end, as it would. Its progress bars'
    lock is a thread's: tqdm's own is a semaphore, which a stopped worker leaves behind (with a
    warning at exit)."""
    from tqdm import tqdm
    start_worker(threads, parent)
    tqdm.set_lock(threading.RLock())
    signal.signal(signal.SIGTERM, _stop)


def _stop(*_):
    global _STOPPED
    first, _STOPPED = not _STOPPED, True
    if first and _IN_TASK:                  # once: a second would cut the unwinding short
        sys.exit(128 + signal.SIGTERM)


def _run(function, *args):
    """``function(*args)`` in a worker; once the worker is stopped, each task still queued for
    it ends at once (the pool had passed it on already: it would have run to its end)."""
    global _IN_TASK
    if _STOPPED:
        sys.exit(128 + signal.SIGTERM)
    _IN_TASK = True
    try:
        return function(*args)
    finally:
        _IN_TASK = False


def shut_down(pool, futures, wait):
    """Cancel those of ``futures`` not yet started, then shut ``pool`` down: what Python 3.9's
    ``pool.shutdown(wait, cancel_futures=True)`` does, in words the conda route's 3.8 knows."""
    for future in futures:
        future.cancel()
    pool.shutdown(wait=wait)


def run_all(tasks, jobs, threads=None, desc="tasks", progress=True, rerun_hint="", env=None):
    """{task.name: result} of every task, ``jobs`` at a time in spawned processes, each with
    ``threads`` torch threads (None: torch's default; pass ``share_of_threads``). A dead worker
    is a ``WorkerDied`` (``rerun_hint`` says what a rerun does); a task's error is raised once
    the running tasks have ended. ``env``: the workers' whole environment, for what must be set
    before a library loads (``experiment.tools.bench``'s pinned and fast modes)."""
    from tqdm import tqdm
    tasks = list(tasks)
    workers = max(1, min(jobs, len(tasks)))
    done = {}
    with ProcessPoolExecutor(workers, multiprocessing.get_context("spawn"), _start_task_worker,
                             (threads, os.getpid())) as pool, \
            tqdm(total=len(tasks), desc=f"{desc} ({workers} at once)", unit=desc.rstrip("s")
                 or "task", disable=not progress, dynamic_ncols=True) as bar:
        futures, future = {}, None
        try:
            # the workers start as the tasks are submitted, with environment ``env`` (None: ours)
            with mock.patch.dict(os.environ, env or {}, clear=env is not None), ctrl_c_ignored():
                futures = {pool.submit(_run, t.function, *t.args): t.name for t in tasks}
            for future in as_completed(futures):
                done[futures[future]] = future.result()
                bar.set_postfix_str(f"{futures[future]} done")
                bar.update(1)
        except BrokenProcessPool:
            running = sorted(set(futures.values()) - set(done))
            raise WorkerDied(f"a worker process died before its task ended (killed, out of "
                             f"memory?); unfinished: {', '.join(running)}"
                             f"{'; ' + rerun_hint if rerun_hint else ''}") from None
        except BaseException as error:
            shut_down(pool, futures, wait=False)
            if isinstance(error, KeyboardInterrupt):     # the workers ignore it: stop them
                for worker in multiprocessing.active_children():
                    worker.terminate()
            if isinstance(error, Exception) and future is not None:
                print(f"{futures[future]} failed; waiting for the tasks still running before "
                      "saying why", file=sys.stderr)
            raise
    return done
