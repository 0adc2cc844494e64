"""Files written all or nothing: an error, a full disk or Ctrl-C part-way leaves the file as it
was (or absent) and no part behind, so a rerun reads either the old file or the whole new one
(a kill -9 or a power cut can leave a part, ``PATH.PID.tmp``, beside the old file).

    with replacing("store.h5") as partial:     # any writer that takes a file name
        write_hdf5(partial)
    write_atomic("table.md", text)             # a str or bytes at once
    emit(table, "bench.md")                    # printed, and written if a name is given
"""
import contextlib
import glob
import os
import re


@contextlib.contextmanager
def replacing(path, sync=False):
    """A temporary name beside ``path`` (``PATH.PID.tmp``: one per process) for the ``with``
    block to write; renamed to ``path`` when the block ends (``sync``: on the disk first, so
    that a power cut cannot leave an empty file under the name), removed when it fails. Through
    a link, the file it names is replaced, not the link; a device or a pipe (``--out
    /dev/stdout``) is written to as it is, never replaced."""
    if os.path.exists(path) and not os.path.isfile(path):
        yield path
        return
    path = os.path.realpath(path)
    partial = f"{path}.{os.getpid()}.tmp"
    try:
        yield partial
        if sync:
            descriptor = os.open(partial, os.O_RDONLY)
            try:
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
        os.replace(partial, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(partial)
        raise


def remove_parts(path):
    """Remove the parts of ``path`` that killed ``replacing`` blocks left (``PATH.PID.tmp``; not
    another file's, such as ``PATH.shard0of2.PID.tmp``): for a caller that alone writes ``path``
    now (it holds its lock)."""
    path = os.path.realpath(path)
    for part in glob.glob(glob.escape(path) + ".*.tmp"):
        if part[len(path) + 1:-len(".tmp")].isdigit():
            with contextlib.suppress(FileNotFoundError):     # renamed meanwhile
                os.remove(part)


def is_stale_part(name):
    """Whether file ``name`` is a part (``PATH.PID.tmp``) whose writer is no longer running
    on this machine: a kill -9 left it. Not a shard's (``PATH.shardIofN.PID.tmp``: its
    extraction sweeps those, ``remove_parts``)."""
    stem, _, pid = name[:-len(".tmp")].rpartition(".")
    if not (name.endswith(".tmp") and stem and pid.isascii() and pid.isdigit()) or \
            re.search(r"\.shard\d+of\d+$", stem):
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError):      # another user's process; not a PID
        return False
    return False


def write_atomic(path, data, sync=False):
    """Write ``data`` (a str, or bytes) to ``path`` all or nothing (``sync``: ``replacing``'s)."""
    mode = "w" if isinstance(data, str) else "wb"
    with replacing(path, sync) as partial, open(partial, mode) as f:
        f.write(data)


def emit(text, out=None):
    """Print a report's table (a bench's, a check's); write it to ``out`` (Markdown) if given."""
    print(text)
    if out:
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
        write_atomic(out, text + "\n")
