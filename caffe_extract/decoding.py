"""The decoding side of an extraction: a video's sampled frames (or their flow images, or
their ten views), preprocessed for the network, in worker processes running ahead of it.

``load_video`` is what a worker runs for one video; ``ordered_imap`` runs it over the list in
spawned processes, results in list order. A failure of one video is returned as its reason,
never raised: the pipeline records it and goes on.
"""
import os
from collections import deque

from . import frames as framelib


def load_video(job):
    """Worker: (index, path or None, n, span, decoder, resize, anti_aliasing, mean, stream,
    views) -> (index, batch, times, error, warning). stream "flow": the batch holds the sampled
    frames' flow images (``flow.flow_images``) instead of the frames; views "oversample": each
    frame's ten views, (V T, 3, 227, 227) view-major (``views.views``)."""
    index, path, n, span, decoder, resize, anti_aliasing, mean, stream, views = job
    if path is None:
        return index, None, None, "missing: not found under the video folder", ""
    from .preprocessing import preprocess
    if anti_aliasing:
        resize = "skimage"   # the fast path reproduces the 2015 resize only
    try:
        if stream == "flow":
            from .flow import flow_images
            clip, following = framelib.read_pairs(path, n, span, decoder)
            images = flow_images(clip.frames, following)
        else:
            clip = framelib.read_clip(path, n, span, decoder)
            images = clip.frames
        if views is None:
            batch = preprocess(images, anti_aliasing, mean, resize)              # (T, 3, h, w)
        else:
            from .views import views as ten_views
            batch = ten_views(images, anti_aliasing, mean, resize)               # (V, T, 3, h, w)
            batch = batch.reshape((-1,) + batch.shape[2:])                       # (V T, 3, h, w)
    except framelib.VideoReadError as error:  # the reason without this machine's path
        reason = str(error).replace(f"{path}: ", "", 1).replace(f"'{path}'", "the file")
        return index, None, None, reason, ""
    except (MemoryError, RuntimeError, ValueError, OSError) as error:  # one bad file: record, go on
        return index, None, None, f"cannot use ({type(error).__name__}: {error})", ""
    return index, batch, clip.times, None, clip.warning


def _init_worker(parent):
    import torch
    torch.set_num_threads(1)  # the network in the main process has the cores
    _die_with(parent)


def _die_with(parent):
    """Linux: have the kernel kill this decoding worker when its parent process dies. A worker
    of a ProcessPoolExecutor holds both ends of its task queue, so it never sees the queue
    close: after a kill -9 of the extraction it would wait forever, holding its few hundred MB
    (measured: 15 of 20 killed runs of the fault campaign left one behind)."""
    import ctypes
    import signal
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):     # not Linux: nothing to ask for
        return
    if os.getppid() != parent:            # the parent died before the request was made
        os._exit(1)


def ordered_imap(function, jobs, workers, prefetch):
    """function(job) for every job, results in order, at most ``prefetch`` running ahead."""
    if workers == 0:
        yield from map(function, jobs)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker,
                             initargs=(os.getpid(),)) as pool:
        pending = deque()
        for job in jobs:
            pending.append(pool.submit(function, job))
            if len(pending) >= prefetch:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
