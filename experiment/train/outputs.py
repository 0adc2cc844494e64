"""One results folder, one command (issue 30, item 3; docs/reliability.md, "No run writes over
another"): ``claim`` refuses a folder that holds another command's results or is one of the
command's inputs, else records the command in ``MARKER``; ``claimed`` holds the folder for the
command's work (a second command into it at once is refused) and takes the claim back from a
command that fails before writing anything; ``recognise`` also knows the folders of older runs
by their files; ``check_table`` keeps a table from being replaced by one of other settings.

    with claimed("results/demo-future", "experiment.future", {"--main": "results/demo-paper"}):
        ...                                      # the command's work
"""
import contextlib
import fcntl
import glob
import json
import os

from common.files import is_stale_part, write_atomic

MARKER = "written-by.json"


class OutputFolderError(ValueError):
    """A results folder that belongs to another command or is one of the inputs (names both,
    and the folder to use instead)."""


def recognise(folder):
    """The command whose results ``folder`` holds: its record (``MARKER``), else what its
    files say (runs written before the record); None when it holds no command's results."""
    marker = os.path.join(folder, MARKER)
    if os.path.isfile(marker):
        try:
            with open(marker) as f:
                return json.load(f)["command"].replace("python -m ", "")
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            raise OutputFolderError(f"{marker}: damaged (not the record of the command that "
                                    "wrote the folder); delete it if the folder is yours") from None
    table = os.path.join(folder, "table.json")
    if os.path.isfile(table):
        try:
            with open(table) as f:
                keys = set(json.load(f))
        except (OSError, ValueError, TypeError):
            keys = set()
        if keys & {"models", "splits"}:
            return "experiment.train"
        if "rows" in keys:
            return "experiment.future"
    if os.path.isfile(os.path.join(folder, "drift.json")):
        return "experiment.studies.drift"
    if glob.glob(os.path.join(folder, "checkpoints", "*-finetune-*.pt")):
        return "experiment.future.finetune"
    if any(os.path.isdir(os.path.join(folder, name)) for name in ("oversample",
                                                                  "oversample-no-mirrors")):
        return "experiment.future.augment"
    return None


def claim(folder, command, inputs=None, option="--out"):
    """Refuse ``folder`` (given as ``option``) as ``command``'s results folder when it is one of
    ``inputs`` ({option: folder}) or holds another command's results; else record ``command`` in
    it (creating it)."""
    instead = f"{folder.rstrip(os.sep)}-{command.split('.')[-1]}"
    for read_as, path in (inputs or {}).items():
        if path is not None and os.path.realpath(folder) == os.path.realpath(path):
            raise OutputFolderError(f"{option} {folder} is also {read_as}, the folder this "
                                    f"command reads: its results would be written among its "
                                    f"inputs; write them to another folder (e.g. {option} "
                                    f"{instead})")
    owner = recognise(folder)
    if owner is not None and owner != command:
        raise OutputFolderError(f"{folder} holds the results of python -m {owner}; python -m "
                                f"{command} would write over them: write to another folder "
                                f"(e.g. {option} {instead})")
    os.makedirs(folder, exist_ok=True)
    marker = os.path.join(folder, MARKER)
    if owner is None or not os.path.isfile(marker):
        write_atomic(marker, json.dumps({"command": f"python -m {command}"}) + "\n")
    return folder


@contextlib.contextmanager
def claimed(folder, command, inputs=None, shared=False, option="--out"):
    """``claim`` for the work in the ``with`` block, and the folder held for it (``shared``: by
    the tasks of one cluster stage together; else by this command alone), so that a second
    command into it at once is refused, not left to replace the table the first one writes. The
    parts that killed writes left (``stale_parts``: a checkpoint's is 650 MB for fine-tuning)
    are removed. If the work fails (a refusal, an error) before adding a file to ``folder``, the
    folder is left as it was found: no record in it, and a folder the claim made is removed, so
    that a refused command leaves no trace."""
    existed, marker = os.path.isdir(folder), os.path.join(folder, MARKER)
    found = set(os.listdir(folder)) if existed else set()
    claim(folder, command, inputs, option)
    with _held(folder, shared, option) as alone:
        if alone:            # no one else writes here now
            for stale in stale_parts(folder):
                with contextlib.suppress(FileNotFoundError):        # renamed meanwhile
                    os.remove(stale)
        try:
            yield folder
        except BaseException:
            if MARKER not in found and set(os.listdir(folder)) <= found | {MARKER}:
                with contextlib.suppress(OSError):      # a cluster's other task may be writing
                    os.remove(marker)
                    if not existed:
                        os.rmdir(folder)
            raise


def stale_parts(folder):
    """The parts that killed writes left under ``folder`` (``NAME.PID.tmp`` whose process has
    ended: a checkpoint's, a table's, a log's), at any depth, but not inside a subfolder that
    holds another command's results (its own ``MARKER``: that command's claim holds it, and
    sweeps it)."""
    for path, subfolders, files in os.walk(folder):
        if path != folder and MARKER in files:
            subfolders[:] = []
        else:
            yield from (os.path.join(path, name) for name in files if is_stale_part(name))


@contextlib.contextmanager
def _held(folder, shared, option):
    """An advisory lock (flock) on ``folder`` for the ``with`` block, which gets whether this
    command has the folder to itself; a file system that does not lock folders (NFS) leaves it
    unlocked, as before."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        try:
            fcntl.flock(descriptor, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OutputFolderError(f"another command is writing {folder} now (two into one "
                                    "folder would replace each other's table): wait for it to "
                                    f"end, or write elsewhere (another {option})") from None
        except OSError:
            yield False
            return
        yield not shared
    finally:
        os.close(descriptor)


def check_input(folder, command, option):
    """Refuse an input results folder (``option``, e.g. --main) that holds another command's
    results than ``command``'s, the kind the reader expects."""
    owner = recognise(folder)
    if owner is not None and owner != command:
        raise OutputFolderError(f"{option} {folder} holds the results of python -m {owner}, not "
                                f"of python -m {command}: pass the folder python -m {command} "
                                "wrote")
    return folder


#: What a table of experiment.train is made of: the settings that decide its rows and numbers
#: (not where it ran, nor the paths it was given).
TABLE_SETTINGS = ("config", "splits", "layer", "stream", "models", "lr", "hidden", "seeds",
                  "epochs", "patience", "batch_size", "momentum", "dropout", "val_groups")


def check_table(table, settings):
    """Refuse to replace ``table`` (a table.json of experiment.train) by the table of other
    ``settings``: the first would be lost, with the studies that read it (--main, predict),
    while a rerun of the same settings rewrites it (its finished runs reused)."""
    if recognise(os.path.dirname(table)) != "experiment.train":
        return                                    # no table, or another command's (``claim``)
    try:
        with open(table) as f:
            recorded = json.load(f).get("settings") or {}
    except (OSError, ValueError, AttributeError):   # damaged: nothing to keep
        return
    differ = [k for k in TABLE_SETTINGS if k in recorded and recorded[k] != settings[k]]
    if differ:
        key = differ[0]
        raise OutputFolderError(f"{table} is the table of other settings ({key} "
                                f"{recorded[key]!r} there, {settings[key]!r} here), which this "
                                "command would replace: give another --out")
