"""Argument types shared by every command-line tool: a value out of its range, or a path of the
wrong kind, is argparse's one-line usage error naming the option (``error: argument --chunk:
must be an integer from 1 to 100000, got 0``) before anything is read or written. The ranges
refuse what cannot work (0 epochs, a NaN learning rate) and what is absurdly large (a batch of
10^12 videos), not unusual choices.

    parser.add_argument("--chunk", type=cli.integer(1, 100_000), default=32)
"""
import argparse
import math
import os

SEED_MAX = 2 ** 32 - 1          # numpy's and torch's seeds


def integer(low, high, name=None):
    """An argparse type: an integer in [low, high] (``name``: how argparse calls it)."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer from {low} to {high}, got "
                                             f"{text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be an integer from {low} to {high}, got {text}")
        return value
    parse.__name__ = name or f"integer from {low} to {high}"
    return parse


def real(low, high, low_open=False, high_open=False, name=None):
    """An argparse type: a finite number in the interval from ``low`` to ``high`` (open at
    either end on request); NaN and infinities are refused."""
    interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"

    def parse(text):
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        inside = (low < value if low_open else low <= value) and \
            (value < high if high_open else value <= high)
        if not (math.isfinite(value) and inside):
            raise argparse.ArgumentTypeError(f"must be a number in {interval}, got {text!r}")
        return value
    parse.__name__ = name or f"number in {interval}"
    return parse


seed = integer(0, SEED_MAX, "seed")
#: decoding processes: 0 decodes in the main process
workers = integer(0, 256, "workers")
#: dropout and momentum: a fraction, 1 excluded (1 would drop or keep everything)
fraction = real(0, 1, high_open=True, name="fraction")
_rate = real(0, 10, low_open=True, name="learning rate")


def learning_rate(text):
    """An argparse type: a learning rate in (0, 10] that its runs' names keep whole (``lr`` and
    6 significant digits): two rates that print alike would share one checkpoint."""
    value = _rate(text)
    if float(f"{value:g}") != value:
        _refuse(f"must be written in at most 6 significant digits (a run is named by them: "
                f"lr{value:g}), got {text!r}")
    return value


def _refuse(message):
    raise argparse.ArgumentTypeError(message)


def _named(path):
    if not path:
        _refuse("an empty path")


def existing_file(path):
    """A readable file (a weights file, a video)."""
    return _existing(path, folder=False)


def existing_dir(path, hint=""):
    """A readable folder (videos, split files, stores, results)."""
    return _existing(path, folder=True, hint=hint)


def _existing(path, folder, hint=""):
    _named(path)
    if not os.path.exists(path):
        _refuse(f"{path} does not exist{hint}")
    if os.path.isdir(path) != folder:
        _refuse(f"{path} is a {'file, not a folder' if folder else 'folder, not a file'}")
    if not os.access(path, os.R_OK | (os.X_OK if folder else 0)):
        _refuse(f"{path} is not readable (permission denied)")
    return path


def _creatable(path):
    """Refuse ``path`` (not there yet) when its nearest existing ancestor cannot hold it."""
    parent = os.path.dirname(os.path.abspath(path))
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        _refuse(f"{path} cannot be created: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        _refuse(f"{path} cannot be created: {parent} is not writable (permission denied)")


def writable_dir(path):
    """A folder to write into: an existing writable folder, or one that can be created."""
    _named(path)
    if os.path.exists(path):
        if not os.path.isdir(path):
            _refuse(f"{path} is a file, not a folder")
        if not os.access(path, os.W_OK | os.X_OK):
            _refuse(f"{path} is not writable (permission denied)")
    else:
        _creatable(path)
    return path


def writable_file(path):
    """A file to (over)write: not a folder, in a folder that is writable or can be created; or
    a writable device or pipe (``/dev/stdout``), written in place (``common.files.replacing``)."""
    _named(path)
    if os.path.isdir(path):
        _refuse(f"{path} is a folder, not a file")
    if os.path.exists(path) and not os.access(path, os.W_OK):
        _refuse(f"{path} is not writable (permission denied)")
    if not os.path.exists(path):
        _creatable(path)
    elif os.path.isfile(path):    # replaced through a part beside the file a link names
        _creatable(os.path.realpath(path))
    return path
