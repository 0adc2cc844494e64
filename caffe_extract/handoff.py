"""How a decoding worker hands a video's network input (6.2 MB of float32; ten times that
with views) to the main process: through shared memory, not the pool's result pipe (why:
docs/performance.md, "The extraction pipeline"). A worker writes its video into the slot its
job names (``load_into_slot``) and returns the slot's number; the main process reads the slot
in the one copy that batching makes anyway.

A slot is written again ``n`` jobs later: ``n`` must exceed the videos that can be in flight
or waiting for their batch at once (``run_chunks``: the prefetch and one batch). Where the
slots would not fit in /dev/shm with room to spare (writing past its end kills the process
with SIGBUS), the inputs go through the pipe (``fits``).
"""
import contextlib
import fcntl
import glob
import os
import secrets
import shutil
from multiprocessing import shared_memory

import numpy as np

_ATTACHED = {}    # in a worker: the Slots' shared memory by name, attached once
PREFIX = "caffe-extract-slots-"     # then the pid of the process that made them


class Slots:
    """``n`` slots of one video's network input, float32 ``shape``, in shared memory; a context
    manager that removes the memory at its end (a kill leaves it to multiprocessing's resource
    tracker, which removes it once this process and its workers are gone; a kill of the whole
    process group takes the tracker too, and the next extraction removes it: ``sweep``). The
    memory's file is held (a shared flock) while in use: a kill lets go of it."""

    def __init__(self, n, shape):
        self.n, self.shape = n, tuple(shape)
        size = n * int(np.prod(self.shape)) * np.dtype(np.float32).itemsize
        sweep()
        self.memory = shared_memory.SharedMemory(f"{PREFIX}{os.getpid()}-{secrets.token_hex(4)}",
                                                 create=True, size=size)
        self.held = os.open(f"/dev/shm/{self.memory.name.lstrip('/')}", os.O_RDONLY)
        fcntl.flock(self.held, fcntl.LOCK_SH)
        self.array = _as_array(self.memory, n, self.shape)

    def job(self, job, k):
        """``job`` as ``load_into_slot`` takes it, for the ``k``-th video: slot ``k % n``."""
        return job, (self.memory.name, self.n, self.shape, k % self.n)

    def frames(self, frames):
        """A result's network input: the array a worker could not put in a slot, or the slot's."""
        return frames if isinstance(frames, np.ndarray) else self.array[frames]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        del self.array
        with contextlib.suppress(BufferError):   # a view still held (an exception's frames):
            self.memory.close()                  # freed at exit
        self.memory.unlink()
        os.close(self.held)


def sweep():
    """Remove this user's slots that no process holds any more (68 MB each at the default batch:
    a ``kill -9`` of the process group, as a scheduler or ``timeout -s KILL`` does, left them in
    /dev/shm until the machine restarted). Held means alive, whatever the process's namespace
    (a container sharing /dev/shm), where its pid would say nothing."""
    for path in glob.glob(f"/dev/shm/{PREFIX}*"):
        with contextlib.suppress(OSError):     # removed meanwhile, or held: in use
            if os.stat(path).st_uid == os.getuid():
                handle = os.open(path, os.O_RDONLY)
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    os.remove(path)
                finally:
                    os.close(handle)


def fits(n, shape):
    """True when ``Slots(n, shape)`` fits in /dev/shm's free space twice over."""
    try:
        free = shutil.disk_usage("/dev/shm").free
    except OSError:          # no /dev/shm (not Linux)
        return False
    return 2 * n * int(np.prod(shape)) * np.dtype(np.float32).itemsize <= free


def load_into_slot(job_and_slot):
    """Worker: ``decoding.load_video(job)`` with its network input written into the slot and
    replaced by the slot's number (an input of another shape, if any, is returned as is)."""
    from .decoding import load_video
    job, (name, n, shape, slot) = job_and_slot
    index, frames, times, error, warning = load_video(job)
    if frames is not None and frames.shape == shape:
        if name not in _ATTACHED:
            _ATTACHED[name] = shared_memory.SharedMemory(name=name)
        _as_array(_ATTACHED[name], n, shape)[slot] = frames
        frames = slot
    return index, frames, times, error, warning


def crashed_in_slot(job_and_slot):
    """``decoding.crashed`` for a job with its slot."""
    from .decoding import crashed
    return crashed(job_and_slot[0])


def _as_array(memory, n, shape):
    return np.ndarray((n,) + shape, np.float32, buffer=memory.buf)
