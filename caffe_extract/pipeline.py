"""UCF-101 videos -> 10 frames each -> CaffeNet codes -> one HDF5 store. Resumable, shardable.

    extract(ExtractConfig(videos=..., splits=..., subset="train", out="train_fc7.h5", ...))

How it runs: worker processes decode and preprocess videos (``frames.read_clip``,
``preprocess``) ahead of the network, a bounded number at a time; the main process runs the
CNN on batches of ``batch_videos`` videos and writes results in *chunks* of ``chunk``
consecutive videos of the list, each chunk an atomic file in ``OUT.parts/``. Killed at any
moment (even SIGKILL), a rerun skips the chunks already written. Batches never cross chunk
boundaries, so a resumed or sharded run computes every chunk with the same batches as an
uninterrupted run, and the final store is identical. ``--shard i/n`` takes chunks
i, i+n, i+2n, ...; ``merge`` joins the shards' stores into the one a single run writes.
Unreadable and missing videos, and videos whose codes are not finite (NaN or infinite), are
left out and recorded in the store with the reason, and summarised.

Two streams, one machinery: ``stream="rgb"`` (the paper's) feeds the sampled frames to the
network; ``stream="flow"`` feeds their optical flow images instead (``flow.py``: each sampled
frame with the video's next one), with the same chunks, shards, workers and store schema.

Views (``views="oversample"``, ``views.py``): each frame's ten views (caffe.Classifier's
10-crop oversample) instead of the whole frame, into a separate store whose features are
(N, V=10, T, D), float32 or (``store_dtype="float16"``) float16; the same machinery. The
network sees V x T images per video, run in forwards of at most ``batch_videos`` x T images,
the size of the normal path's forwards.

Modules, one job each: ``extraction`` (the settings, the video list, the chunks' files, the
lock), ``decoding`` (a video's network input, in worker processes), ``chunks`` (the network
over batches, the chunk files, read back), ``provenance`` (the store's attributes, and
``finished``: a store this extraction wrote already is kept), ``shards`` (``merge``); this
module runs them (``extract``) and says what failed (``summarize``), and every public name
of those modules stays importable from here.
"""
import shutil
import sys

import numpy as np

from .chunks import collect, run_chunks
from .decoding import load_video, ordered_imap
from .extraction import (LAYER_BLOBS, ExtractConfig, Extraction, check_views, saved_chunks,
                         shard_path)
from .provenance import code_version, finished, kept_note, manifest_text, splits_sha1, store_attrs
from .shards import merge
from .store import write_store

__all__ = ["LAYER_BLOBS", "ExtractConfig", "Extraction", "check_views", "code_version", "collect",
           "extract", "finished", "kept_note", "load_video", "manifest_text", "merge",
           "ordered_imap", "run_chunks", "saved_chunks", "shard_path", "splits_sha1",
           "store_attrs", "summarize"]


def extract(config):
    """Run (or resume) an extraction; returns the path of the store written and the failures.
    A store this same extraction finished is kept as it is (``finished``): a rerun after a
    complete run costs nothing.

    With ``workers > 0`` the decoding processes are started with "spawn" (safe beside the
    network's threads), which re-imports the calling script: call ``extract`` from under
    ``if __name__ == "__main__":`` in a script, as Python's multiprocessing requires.
    """
    from .backends import open_backend
    extraction = Extraction(config)
    extraction.check_videos()
    done = finished(config)
    if done is not None:
        print(kept_note(done[0]), file=sys.stderr)
        return done
    target = extraction.target
    with extraction.lock():
        # the weights are checked before anything is written: a wrong file leaves nothing behind
        backend = open_backend(config.backend, config.weights, config.device, config.fast)
        extraction.prepare_parts(backend.provenance["weights_sha1"])
        run_chunks(extraction, backend)
        records, failed = collect(extraction)
        attrs = store_attrs(extraction, backend.provenance)
        failures = [(extraction.videos[i].path, reason) for i, reason in failed]
        damaged = [(v, w) for v, w in zip(records["video"], records["warning"]) if w]
        index = records.pop("index")
        extra = None
        if config.shard[1] > 1:  # a shard keeps its list positions, for `merge`
            attrs["shard"] = f"{config.shard[0]}/{config.shard[1]}"
            extra = {"index": index, "failed_index": np.array([i for i, _ in failed], np.int64)}
        write_store(target, records, failures, extraction.classes, attrs, extra)
        shutil.rmtree(extraction.parts)
    return target, failures, damaged


def summarize(failures, damaged=(), stream=None):
    """Print the failures and the damaged videos at the end of a run (to stderr)."""
    stream = stream or sys.stderr
    for items, what in ((failures, "could not be used"),
                        (damaged, "are damaged: codes kept, their last decoded frame repeats")):
        if not items:
            continue
        print(f"{len(items)} video(s) {what} (recorded in the store):", file=stream)
        for video, reason in items[:20]:
            print(f"  {video}: {reason}", file=stream)
        if len(items) > 20:
            print(f"  ... and {len(items) - 20} more", file=stream)
