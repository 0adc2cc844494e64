"""UCF-101 videos -> 10 frames each -> CaffeNet codes -> one HDF5 store. Resumable, shardable.

    extract(ExtractSettings(videos=..., splits=..., subset="train", out="train_fc7.h5", ...))

How it survives a kill and why every run ends with the same store: docs/data.md
("Crash-proof and resumable"); its modules: docs/development.md. This module runs them
(``extract``), says what failed (``summarize``), and keeps the names the commands use
importable from here.
"""
import shutil
import sys

import numpy as np

from .chunks import collect, run_chunks
from .extraction import (LAYER_BLOBS, ExtractSettings, Extraction, check_views, saved_chunks,
                         shard_path)
from .provenance import finished, kept_note, manifest_text, store_attrs
from .shards import merge
from .store import write_store

__all__ = ["LAYER_BLOBS", "ExtractSettings", "Extraction", "check_views", "extract", "finished",
           "kept_note", "manifest_text", "merge", "run_chunks", "saved_chunks", "shard_path",
           "summarize"]


def extract(config):
    """Run (or resume) an extraction: (the store's path, failures, damaged videos). A store this
    same extraction finished is kept as it is (``finished``): a rerun costs nothing.

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
    with extraction.lock():
        # the weights are checked before any part is written: a wrong file leaves none behind
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
        write_store(extraction.target, records, failures, extraction.classes, attrs, extra)
        shutil.rmtree(extraction.parts)
    return extraction.target, failures, damaged


def summarize(failures, damaged=()):
    """Print the failures and the damaged videos at the end of a run (to stderr)."""
    for items, what in ((failures, "could not be used"),
                        (damaged, "are damaged: codes kept, their last decoded frame repeats")):
        if not items:
            continue
        print(f"{len(items)} video(s) {what} (recorded in the store):", file=sys.stderr)
        for video, reason in items[:20]:
            print(f"  {video}: {reason}", file=sys.stderr)
        if len(items) > 20:
            print(f"  ... and {len(items) - 20} more", file=sys.stderr)
