"""The command-line layer every command shares: its argument groups (the training grid, the
device, the threads, the progress bars) and its one error wrapper, ``guarded``: an error a user
can cause (a missing file, a bad store, a diverging run) is one line, ``error: ...`` on stderr
and exit status 1; an error it was not told to expect is a bug and keeps its traceback; Ctrl-C
is one line and status 130; a closed pipe (``| head``) is silence.

    parser = commands.parser("python -m experiment.train", __doc__)
    commands.add_grid(parser, lr=[0.003, 0.001], hidden=[512], seeds=3, epochs=80, patience=25)
    return commands.guarded(lambda: work(parser.parse_args(argv)), ERRORS)
"""
import argparse
import os
import select
import sys

from . import cli, devices
from .errors import INTERRUPTED, describe


def parser(prog, doc):
    """An ``ArgumentParser`` for ``python -m PROG`` whose help is the module's docstring."""
    return argparse.ArgumentParser(prog=prog, description=doc,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)


def add_grid(parser, lr, hidden, seeds, epochs, patience, seeds_min=1, note=""):
    """The training grid: ``--lr`` and ``--hidden`` (the search), ``--seeds`` (for the chosen
    setting), ``--epochs``, ``--patience``; the defaults given (``note``: said after them)."""
    group = parser.add_argument_group("training")
    group.add_argument("--lr", nargs="+", type=cli.learning_rate, default=list(lr),
                       help=f"search grid (%(default)s{note})")
    group.add_argument("--hidden", nargs="+", type=cli.integer(1, 16384), default=list(hidden),
                       help=f"search grid (%(default)s{note})")
    group.add_argument("--seeds", type=cli.integer(seeds_min, 1000), default=seeds,
                       help="seeds for the chosen setting (%(default)s)")
    group.add_argument("--epochs", type=cli.integer(1, 100_000), default=epochs)
    group.add_argument("--patience", type=cli.integer(0, 100_000), default=patience,
                       help="early stopping (0: off; %(default)s)")
    return group


def add_runtime(parser, device="auto", threads=True, progress=True):
    """Where and how a command runs, never what it computes: ``--device``, ``--threads`` (the
    results are the same bits with any count), ``--no-progress``."""
    group = parser.add_argument_group("where it runs")
    group.add_argument("--device", default=device, choices=devices.CHOICES,
                       help="where to run: auto = CUDA when available (%(default)s)")
    if threads:
        group.add_argument("--threads", type=cli.integer(1, 1024), default=None,
                           help="CPU threads (default: every core this process may use); the "
                                "results are the same bits with any count")
    if progress:
        group.add_argument("--no-progress", action="store_true", help="no progress bars")
    return group


def add_jobs(parser, what):
    """``--jobs N``: ``what`` run N at once, each in its own process (the same bits)."""
    parser.add_argument("--jobs", type=cli.integer(1, 1024), default=1,
                        help=f"{what} at once, each in its own process with its share of the "
                             "threads (the same bits as one at a time; %(default)s)")


def guarded(body, errors):
    """``body()``'s exit status; an error of ``errors`` (a tuple of exception types) is said in
    one line on stderr and gives status 1; Ctrl-C is one line too (status ``INTERRUPTED``), not a
    traceback: every command that writes saves its work atomically and resumes from it."""
    try:
        status = body()
        sys.stdout.flush()          # here, where a closed pipe is caught
        return status
    except BrokenPipeError as error:
        if not _reader_left():
            print(f"error: {describe(error)}", file=sys.stderr)
            return 1
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())   # (nor one at exit)
        return 1
    except errors as error:
        print(f"error: {describe(error)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted: what was saved is kept; rerun the same command to go on from it",
              file=sys.stderr)
        return INTERRUPTED


def _reader_left():
    """Whether our standard output is a pipe whose reader has left (``| head``): no error to
    report, unlike another broken pipe (a worker's, a download's)."""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(event & select.POLLERR for _, event in poller.poll(0))
    except (OSError, ValueError, AttributeError):     # no such descriptor (a captured stdout)
        return False
