"""The chunks of an extraction: decoded videos through the network in batches (never across
chunks: a resumed or sharded run ends with the same store), the codes checked (finite, within
the store's dtype) and saved, one atomic file per chunk; and read back (``collect``).
"""
import numpy as np

from common.files import replacing

from . import frames as framelib
from . import handoff
from .decoding import crashed, load_video, ordered_imap
from .extraction import LAYER_BLOBS
from .preprocessing import SIZE
from .views import N_VIEWS
from .ucf101 import VideoIndex


def save_chunk(path, indices, features, times, failures, warnings):
    with replacing(path, sync=True) as partial, open(partial, "wb") as f:
        np.savez(f, indices=np.asarray(indices, np.int64), features=features,
                 times=np.asarray(times, np.float32).reshape(len(indices), framelib.N_FRAMES),
                 warnings=np.array(warnings, dtype=str),
                 failed=np.array([i for i, _ in failures], np.int64),
                 reasons=np.array([r for _, r in failures], dtype=str))


def run_chunks(extraction, backend, on_chunk=None):
    """Compute and save every pending chunk of this shard; ``on_chunk(k, n_videos)`` after each."""
    c = extraction.settings
    index = VideoIndex(c.videos)
    pending = extraction.pending()
    jobs = ((i, index.locate(extraction.videos[i].path), c)
            for k in pending for i in extraction.chunk_range(k))
    prefetch = max(2, 2 * c.workers + c.batch_videos)
    # the workers hand the inputs over in shared memory (handoff) where it has room; a slot is
    # written again after the prefetch and one batch. A slot: one video's (T or V T, 3, 227, 227)
    views = 1 if c.views is None else N_VIEWS
    n_slots, shape = prefetch + c.batch_videos + 1, (views * framelib.N_FRAMES, 3) + SIZE
    if c.workers == 0 or not handoff.fits(n_slots, shape):
        results = ordered_imap(load_video, jobs, c.workers, prefetch, on_crash=crashed)
        _run(extraction, backend, on_chunk, results, pending, lambda frames: frames)
        return
    with handoff.Slots(n_slots, shape) as slots:
        jobs = (slots.job(job, k) for k, job in enumerate(jobs))
        results = ordered_imap(handoff.load_into_slot, jobs, c.workers, prefetch,
                               on_crash=handoff.crashed_in_slot)
        _run(extraction, backend, on_chunk, results, pending, slots.frames)


def _run(extraction, backend, on_chunk, results, pending, read):
    """``run_chunks`` over the decoded ``results`` of the ``pending`` chunks; ``read(frames)``:
    a result's input array."""
    from tqdm import tqdm
    c = extraction.settings
    blob = LAYER_BLOBS[c.layer]
    desc = f"{c.subset} {c.layer}" + ("" if c.stream == "rgb" else f" {c.stream}") + \
        ("" if c.views is None else f" {c.views}")
    per_forward = c.batch_videos * framelib.N_FRAMES    # images per forward: as without views
    bar = tqdm(total=sum(len(extraction.chunk_range(k)) for k in pending), unit="video",
               desc=desc, disable=not c.progress, dynamic_ncols=True)
    for k in pending:
        done, failures, batch = [], [], []     # done: (index, codes (T, D), times) per video
        warnings, chunk = {}, extraction.chunk_range(k)
        for position in chunk:
            i, frames, clip_times, error, warning = next(results)
            if error is not None:
                failures.append((i, error))
                bar.update(1)
            else:
                warnings[i] = warning
                batch.append((i, read(frames), clip_times))
            # a full batch, or the chunk's last, smaller one: batches never cross chunks
            if batch and (len(batch) == c.batch_videos or position == chunk[-1]):
                done += finite_codes(forward_batch(backend, batch, blob, per_forward),
                                     failures, c.layer)
                bar.update(len(batch))
                batch = []
        failures.sort()                        # list order, whichever check refused a video
        indices = [i for i, _, _ in done]
        times = [t for _, _, t in done]
        features = np.stack([f for _, f, _ in done]) if done else \
            np.zeros((0, framelib.N_FRAMES, 0), np.float32)
        features = stored_codes(features, c.store_dtype, k)
        save_chunk(extraction.chunk_path(k), indices, features, times, failures,
                   [warnings[i] for i in indices])
        if on_chunk is not None:
            on_chunk(k, len(chunk))
    bar.close()


def stored_codes(features, dtype, k):
    """Chunk ``k``'s codes in the store's dtype; a clear error for codes beyond float16's range
    (65504), which would be stored as infinite."""
    if dtype == "float16" and features.size and np.abs(features).max() > np.finfo(np.float16).max:
        raise ValueError(f"chunk {k}: codes reach {np.abs(features).max():.4g}, beyond float16's "
                         "range (65504); extract with --store-dtype float32")
    return features.astype(dtype, copy=False)


def forward_batch(backend, batch, blob, per_forward):
    """The network over a batch of decoded videos, in forwards of at most ``per_forward``
    images (one forward without views): [(index, codes (T, D) or (V, T, D), times)]."""
    images = np.concatenate([frames for _, frames, _ in batch])         # (B [V] T, 3, h, w)
    out = np.concatenate([backend.forward(images[start:start + per_forward], (blob,))[blob]
                          for start in range(0, len(images), per_forward)])
    views = len(images) // (len(batch) * framelib.N_FRAMES)             # 1, or V
    codes = out.reshape((len(batch),) + ((views,) if views > 1 else ()) + (framelib.N_FRAMES, -1))
    return [(i, video_codes, times) for (i, _, times), video_codes in zip(batch, codes)]


def finite_codes(done, failures, layer):
    """The videos of ``done`` whose codes are all finite; each other one goes to ``failures``
    with the count of its NaN and infinite values: non-finite codes never enter a store."""
    kept = []
    for i, codes, times in done:
        nan, inf = int(np.isnan(codes).sum()), int(np.isinf(codes).sum())
        if nan or inf:
            failures.append((i, f"non-finite codes: {nan} NaN and {inf} infinite values of "
                                f"{codes.size} in {layer}"))
        else:
            kept.append((i, codes, times))
    return kept


def collect(extraction):
    """Records (in list order) and failures of all this shard's chunks; the features stay a
    list of per-chunk blocks (the store writes them one by one)."""
    indices, features, times, warnings, failed = [], [], [], [], []
    for k in extraction.chunks:
        with np.load(extraction.chunk_path(k)) as part:
            if len(part["indices"]):
                indices.append(part["indices"].astype(np.int64))
                features.append(part["features"])
                times.append(part["times"])
                warnings += [str(w) for w in part["warnings"]]
            failed += [(int(i), str(r)) for i, r in zip(part["failed"], part["reasons"])]
    indices = np.concatenate(indices) if indices else np.zeros(0, np.int64)
    videos = extraction.videos
    records = {"index": indices, "features": features,
               "frame_times": np.concatenate(times) if times else np.zeros((0, framelib.N_FRAMES)),
               "labels": [videos[i].label for i in indices], "video": [videos[i].path for i in indices],
               "group": [videos[i].group for i in indices], "warning": warnings}
    if extraction.membership is not None:
        records["split_membership"] = extraction.membership[indices]
    return records, failed
