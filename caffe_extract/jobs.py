"""``extract --jobs N`` on one machine (``__main__.run_jobs``): the N shards at once, each in a
worker process of ``common.processes.run_all``, then ``merge``. A shard's error a user can fix
comes back as one line, so that every shard runs to its end; a bug's exception is raised.
"""
import contextlib
import threading

from common.errors import describe

from .extraction import saved_chunks
from .pipeline import extract


def user_errors():
    """The exceptions a user can fix: the command line says them in one line, not a traceback."""
    from .caffemodel import CaffeModelError
    from .frames import VideoReadError
    from .pycaffe import CaffeUnavailable
    from .ucf101 import SplitFileError
    from .weights import WeightsError
    return (SplitFileError, WeightsError, CaffeModelError, CaffeUnavailable, VideoReadError,
            RuntimeError, ValueError, OSError)


def extract_shard(configs):
    """Worker: ``extract`` each ``ExtractSettings`` of one shard (one per store the command
    writes). Returns (the ``extract`` results, None), or (None, the error in one line)."""
    try:
        return [extract(config) for config in configs], None
    except user_errors() as error:
        return None, describe(error)


@contextlib.contextmanager
def video_bar(parts_dirs, n_videos, chunk, enabled):
    """A tqdm bar over the videos the shards have done, from the chunk files in their .parts
    folders (removed once a shard's store is written), polled once a second on a thread."""
    from tqdm import tqdm
    bar = tqdm(total=n_videos, unit="video", desc="videos", disable=not enabled, dynamic_ncols=True)
    stop = threading.Event()

    def follow():
        while not stop.wait(1.0):
            done = sum(len(saved_chunks(d)) for d in parts_dirs)
            bar.update(max(0, min(done * chunk, n_videos) - bar.n))

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    try:
        yield bar
    finally:
        stop.set()
        thread.join()
        bar.close()
