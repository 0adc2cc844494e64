"""``extract --jobs N`` on one machine: the N shards at once, each in a worker process of
``common.processes.run_all`` (spawned, one network thread each, dying with this process),
then ``merge`` (``__main__.run_jobs``).

    results = run_all([Task("0/4", extract_shard, (configs_of_shard_0,)), ...], jobs=4, threads=1)

A shard's error a user can fix (a weights file, a split file, a full disk) comes back as its
one-line description, so that every shard runs to its end and the command says which shards
failed; a bug's exception is raised as such. ``VideoBar`` shows the videos done, from the
chunk files the shards save, while the shards run.
"""
import threading

from common.errors import describe

from .extraction import saved_chunks
from .pipeline import extract


def user_errors():
    """The exceptions a user can fix, which the command line says in one line (``error: ...``)
    instead of a traceback."""
    from .caffemodel import CaffeModelError
    from .frames import VideoReadError
    from .pycaffe import CaffeUnavailable
    from .ucf101 import SplitFileError
    from .weights import WeightsError
    return (SplitFileError, WeightsError, CaffeModelError, CaffeUnavailable, VideoReadError,
            RuntimeError, ValueError, OSError)


def extract_shard(configs):
    """Worker: ``extract`` each ``ExtractConfig`` of one shard (one per store the command
    writes). Returns (the ``extract`` results, None), or (None, the error in one line)."""
    try:
        return [extract(config) for config in configs], None
    except user_errors() as error:
        return None, describe(error)


class VideoBar:
    """A bar over the videos the shards have done, from the chunk files in their .parts
    folders (a shard removes its folder once its store is written), polled once a second on a
    thread while the shards run: ``with VideoBar(parts_dirs, n_videos, chunk, enabled) as bar``,
    then ``bar.complete()`` when every shard succeeded."""

    def __init__(self, parts_dirs, n_videos, chunk, enabled):
        from tqdm import tqdm
        self.parts_dirs, self.n_videos, self.chunk = parts_dirs, n_videos, chunk
        self.bar = tqdm(total=n_videos, unit="video", desc="videos", disable=not enabled,
                        dynamic_ncols=True)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.follow, daemon=True)

    def follow(self):
        while not self.stop.wait(1.0):
            done = sum(len(saved_chunks(d)) for d in self.parts_dirs)
            self.bar.update(max(0, min(done * self.chunk, self.n_videos) - self.bar.n))

    def complete(self):
        self.bar.update(self.n_videos - self.bar.n)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        self.bar.close()
