"""The decoding side of an extraction: a video's sampled frames (or their flow images, or
their ten views), preprocessed for the network, in worker processes running ahead of it:
``load_video`` for one video, run over the list by ``ordered_imap``, results in list order.
"""
import os
from collections import deque
from itertools import islice

from common.processes import ctrl_c_ignored, shut_down, start_worker

from . import frames as framelib
from .entries import entry_problem


def load_video(job):
    """Worker: (index, path or None, the ``ExtractSettings``) -> (index, batch, times, error,
    warning), the batch ``network_input``'s. Whatever makes one video unusable (its entry on
    disk, its decoding, its flow, its views) is that video's ``error``, one line without this
    machine's path, never an exception."""
    index, path, config = job
    problem = "missing: not found under the video folder" if path is None else entry_problem(path)
    if problem is not None:
        return index, None, None, problem, ""
    try:
        batch, clip = network_input(path, config)
    except framelib.VideoReadError as error:  # the reason without this machine's path
        return index, None, None, one_line(str(error).replace(f"{path}: ", "", 1), path), ""
    except Exception as error:   # noqa: BLE001  one bad file (OpenCV's cv2.error among others)
        name, module = type(error).__name__, type(error).__module__
        name = name if module in ("builtins", None) else f"{module.split('.')[0]}.{name}"
        return index, None, None, one_line(f"cannot use ({name}: {str(error).strip()})", path), ""
    return index, batch, clip.times, None, clip.warning


def network_input(path, c):
    """(batch, clip): one video's network input as ``ExtractSettings`` ``c`` asks, float32
    (T, 3, h, w): its frames, or with stream "flow" their flow images; with views, each frame's
    ten views (V T, 3, h, w), view-major. And its ``frames.Clip`` (times, warning). Raises on a
    bad video."""
    from .preprocessing import preprocess
    resize = "skimage" if c.anti_aliasing else c.resize   # torch reproduces 2015's resize only
    if c.stream == "flow":
        from .flow import flow_images
        clip, following = framelib.read_pairs(path, decoder=c.decoder)
        images = flow_images(clip.frames, following)
    else:
        clip = framelib.read_clip(path, decoder=c.decoder)
        images = clip.frames
    if c.views is None:
        return preprocess(images, c.anti_aliasing, c.mean, resize), clip      # (T, 3, h, w)
    from .views import views as ten_views
    batch = ten_views(images, c.anti_aliasing, c.mean, resize)                 # (V, T, 3, h, w)
    return batch.reshape((-1,) + batch.shape[2:]), clip                        # (V T, 3, h, w)


def one_line(reason, path):
    """``reason`` on one line (OpenCV's messages span several), without this machine's path."""
    return " ".join(reason.replace(f"'{path}'", "the file").replace(str(path), "the file").split())


def crashed(job):
    """``load_video``'s result for a video whose decoding process died twice on it (a crash in
    a decoding library: a segmentation fault, the memory killer): a skip with that reason."""
    return job[0], None, None, "the decoding process died on this video (a crash in the decoder)", ""


def _pool(workers):
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    # one torch thread each (the network has the cores); a kill -9 of the extraction kills them
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=start_worker, initargs=(1, os.getpid()))


def _alone(function, job, on_crash):
    """function(job) in a process of its own; ``on_crash(job)`` when that process dies too."""
    from concurrent.futures.process import BrokenProcessPool
    with _pool(1) as single:
        try:
            with ctrl_c_ignored():          # a worker starts on its first task
                future = single.submit(function, job)
            return future.result()
        except BrokenProcessPool:
            return on_crash(job)


def ordered_imap(function, jobs, workers, prefetch, on_crash=None):
    """function(job) for every job, results in order, at most ``prefetch`` running ahead.

    A worker that dies (a decoder's crash on one file) breaks the whole pool, and every job in
    flight with it. With ``on_crash``, the oldest job in flight is run again alone: its result,
    or ``on_crash(job)`` when it kills its process too; then a new pool takes the other jobs in
    flight again. So a file that crashes its decoder is one job's ``on_crash`` result, not the
    end of the run (without ``on_crash``: ``BrokenProcessPool`` is raised)."""
    if workers == 0:
        yield from map(function, jobs)
        return
    from concurrent.futures.process import BrokenProcessPool
    jobs, pending, pool = iter(jobs), deque(), _pool(workers)    # pending: [job, future]
    try:
        while True:
            with ctrl_c_ignored():          # the workers start as the jobs are submitted
                for job in islice(jobs, prefetch - len(pending)):
                    pending.append([job, pool.submit(function, job)])
            if not pending:
                return
            job, future = pending.popleft()
            try:
                result = future.result()
            except BrokenProcessPool:
                if on_crash is None:
                    raise
                pool.shutdown(wait=True)
                result = _alone(function, job, on_crash)
                pool = _pool(workers)
                with ctrl_c_ignored():
                    for item in pending:
                        item[1] = pool.submit(function, item[0])
            yield result
    finally:
        shut_down(pool, [future for _, future in pending], wait=True)
