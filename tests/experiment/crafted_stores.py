"""Stores written by hand with the provenance an extraction records (``caffe_extract.pipeline
.store_attrs``: the attributes and the ``extraction`` manifest), so that a test can make stores
that belong together, or differ in exactly one setting, without running CaffeNet."""
import hashlib
import json

import numpy as np

from caffe_extract.store import write_store

SHA1 = {"weights_sha1": "1" * 40, "splits_sha1": "2" * 40, "video_sizes_sha1": "3" * 40}


def provenance(videos, layer="fc7", stream="rgb", views=None, subset="all", split=1,
               store_dtype="float32", weights="RANDOM weights (seed 0): test", **changes):
    """The attributes an extraction of ``videos`` (the listed paths) writes; ``changes``
    overrides any manifest setting (weights_sha1="a" * 40, mean="pixel", ...)."""
    made = {"videos_sha1": hashlib.sha1("\n".join(videos).encode()).hexdigest(), "split": split,
            "subset": subset, "layer": layer, "backend": "caffe", "decoder": "pyav",
            "resize": "torch", "anti_aliasing": False, "mean": "channel", "config": "paper",
            "batch_videos": 4, "chunk": 32, "device": "cpu", "fast": False, **SHA1}
    if stream != "rgb":
        made["stream"] = stream
    if views is not None:
        made.update(views=views, store_dtype=store_dtype)
    made.update(changes)
    attrs = {"layer": f"{layer} (post-ReLU)", "split": "1, 2, 3" if subset == "all" else split,
             "subset": subset, "n_videos_listed": len(videos), "config": made["config"],
             "preprocessing": "caffe.io", "sampler": "10 frames", "decoder": made["decoder"],
             "weights": weights, "weights_sha1": made["weights_sha1"],
             "splits_sha1": made["splits_sha1"],
             "extraction": json.dumps(made, sort_keys=True)}
    if stream != "rgb":
        attrs["stream"] = stream
    if views is not None:
        attrs.update(views="oversample (10 views)", features_dtype=store_dtype)
    return attrs


def write(path, features, labels, videos, groups, classes, membership=None, **settings):
    """A store of these rows with ``provenance(videos, **settings)``."""
    records = {"features": np.asarray(features), "labels": labels, "video": list(videos),
               "group": groups, "frame_times": np.tile(np.arange(10) * 0.2, (len(labels), 1))}
    if membership is not None:
        records["split_membership"] = membership
    write_store(path, records, [], classes, provenance(list(videos), **settings))
