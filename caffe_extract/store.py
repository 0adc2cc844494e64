"""The feature store: one HDF5 file per (split, subset, layer, stream), and a Dataset over it.

The schema is docs/data.md's table ("The feature store"), ``features`` float32 (N, T=10, D),
and ``warning`` (N,) ("" or why the video is suspect). A views store (``extract --views
oversample``) holds features float32 or float16 (N, V=10, T, D), views in ``views.VIEW_NAMES``
order, and the attributes ``views`` and ``features_dtype``. A store is written to a temporary
name and renamed: no reader sees half of one.
"""
import os
import re

import h5py
import numpy as np

from common.files import replacing

STR = h5py.string_dtype()
FIELDS = ("features", "labels", "video", "group", "frame_times")
OPTIONAL = ("split_membership", "warning")
REQUIRED = FIELDS + ("classes", "failed_video", "failed_reason")
STREAMS = ("rgb", "flow")       # the frames (the paper's); their optical flow (flow.py)
VIEWS = ("oversample",)         # the views a views store may hold (views.py)
FEATURE_DTYPES = ("float32", "float16")   # a views store's storage; the normal store: float32


def store_name(layer="fc7", stream="rgb", split="all", subset=None, views=None):
    """The file name of a store: all_splits_{layer}.h5 for every video of splits 1-3 (split
    "all"), else split{split}_{subset}_{layer}.h5; the motion stream's end in _flow.h5, a
    views store's in _{views}.h5 (views None: the store without views)."""
    if stream not in STREAMS:
        raise ValueError(f"stream must be one of {', '.join(STREAMS)}, got {stream!r}")
    if views is not None and views not in VIEWS:
        raise ValueError(f"views must be one of {', '.join(VIEWS)} (or None), got {views!r}")
    suffix = ("" if stream == "rgb" else f"_{stream}") + ("" if views is None else f"_{views}")
    if str(split) == "all":
        return f"all_splits_{layer}{suffix}.h5"
    return f"split{split}_{subset}_{layer}{suffix}.h5"


def check_stream(store, path, stream):
    """Refuse a store (as read by ``read_store``) that does not hold ``stream``'s codes: the
    motion stream asked of a store of the frames' codes, or the other way round. A store
    without a ``stream`` attribute (written before the motion stream) holds "rgb"."""
    found = str(store["attrs"].get("stream", "rgb"))
    if found != stream:
        layer = str(store["attrs"].get("layer", "fc7")).split(" ")[0]
        what = {"rgb": "the frames' codes (the RGB stream)", "flow": "optical flow codes"}
        raise StoreError(f"{path}: holds {what.get(found, found)}, not {what.get(stream, stream)}; "
                         f"extract them with `python -m caffe_extract extract --stream {stream}`, "
                         f"which writes {store_name(layer, stream)} (or the per-split stores "
                         f"named so), and pass that store")


def write_store(path, records, failures, classes, attrs, extra=None):
    """Write a store atomically. records: dict of the FIELDS as arrays/lists (N entries each,
    in order; ``features`` may also be a list of (n_i, T, D) blocks, written one by one so that
    they are never concatenated in memory); failures: list of (video, reason); attrs:
    provenance (str/number values); extra: more datasets, name -> array (a shard's indices)."""
    try:
        with replacing(path) as partial:     # a full disk leaves no half-written file behind
            _write(partial, records, failures, classes, attrs, extra)
    except (OSError, RuntimeError) as error:
        code = re.search(r"errno = (\d+)", str(error))
        if code and not getattr(error, "errno", 0):
            # HDF5's message carries the system's errno (a full disk): raise that as such
            raise OSError(int(code[1]), os.strerror(int(code[1])), path) from None
        raise


def _write(partial, records, failures, classes, attrs, extra):
    n = len(records["video"])
    features = records["features"]
    blocks = [b for b in (features if isinstance(features, list) else [features]) if len(b)]
    shape = (n,) + (blocks[0].shape[1:] if blocks else (10, 0))
    dtype = np.float16 if blocks and blocks[0].dtype == np.float16 else np.float32  # views stores
    with h5py.File(partial, "w") as f:
        dataset = f.create_dataset("features", shape=shape, dtype=dtype)
        start = 0
        for block in blocks:
            dataset[start:start + len(block)] = block
            start += len(block)
        if start != n:
            raise ValueError(f"{n} videos but {start} rows of features")
        f.create_dataset("labels", data=np.asarray(records["labels"], np.int64).reshape(n))
        f.create_dataset("video", data=np.array(records["video"], dtype=object), dtype=STR)
        f.create_dataset("group", data=np.asarray(records["group"], np.int32).reshape(n))
        f.create_dataset("frame_times", data=np.asarray(records["frame_times"], np.float32))
        if "warning" in records:
            f.create_dataset("warning", data=np.array(records["warning"], dtype=object), dtype=STR)
        if "split_membership" in records:
            f.create_dataset("split_membership",
                             data=np.asarray(records["split_membership"], np.int8).reshape(n, 3))
        f.create_dataset("classes", data=np.array(classes, dtype=object), dtype=STR)
        f.create_dataset("failed_video", data=np.array([v for v, _ in failures], dtype=object), dtype=STR)
        f.create_dataset("failed_reason", data=np.array([r for _, r in failures], dtype=object), dtype=STR)
        for key, value in sorted((extra or {}).items()):
            f.create_dataset(key, data=value)
        for key, value in sorted(attrs.items()):
            f.attrs[key] = value


class StoreError(ValueError):
    """A file that is not a readable feature store (names the file and what is wrong)."""


def read_store(path, features=True, views=False):
    """The whole store as a dict of NumPy arrays (str for text) plus "attrs". views: False
    reads a store without views (features float32 (N, T, D)), True a views store (features
    (N, V, T, D), float32 or float16 as stored), refusing the other kind; None reads either.
    A file that is not HDF5, is truncated, lacks a dataset or has inconsistent shapes is a
    ``StoreError`` naming the file and the problem."""
    try:
        f = h5py.File(path, "r")
    except OSError as error:
        reason = "no such file" if not os.path.exists(path) else \
            f"not readable as HDF5: truncated or not a store ({error})"
        raise StoreError(f"{path}: {reason}") from None
    with f:
        missing = [k for k in REQUIRED if k not in f]
        if missing:
            raise StoreError(f"{path}: not a feature store of this project (no dataset "
                             f"{missing[0]!r}; expected {', '.join(REQUIRED)})")
        _check_views(f, path, views)
        out = {}
        try:
            for key in REQUIRED + OPTIONAL:
                if key in f and (features or key != "features"):
                    data = f[key]
                    out[key] = data.asstr()[()] if h5py.check_string_dtype(data.dtype) else data[()]
            out["attrs"] = dict(f.attrs)
        except (OSError, KeyError, ValueError) as error:
            raise StoreError(f"{path}: damaged, a dataset cannot be read ({error})") from None
    n = len(out["video"])
    for key in FIELDS + OPTIONAL:
        if key in out and len(out[key]) != n:
            raise StoreError(f"{path}: {key} has {len(out[key])} rows but there are {n} videos")
    codes = out.get("features")
    if features and "views" not in out["attrs"] and (codes.ndim != 3 or codes.dtype != np.float32):
        raise StoreError(f"{path}: features must be float32 (N, T, D), got {codes.dtype} {codes.shape}")
    if features and "views" in out["attrs"] and (codes.ndim != 4 or
                                                 codes.dtype.name not in FEATURE_DTYPES):
        raise StoreError(f"{path}: a views store's features must be float32 or float16 "
                         f"(N, V, T, D), got {codes.dtype} {codes.shape}")
    return out


def _check_views(f, path, views):
    """Refuse a views store read as a normal one, and the other way round (``read_store``)."""
    held = "views" in f.attrs
    if views is None or bool(views) == held:
        return
    layer = str(f.attrs.get("layer", "fc7")).split(" ")[0]
    stream = str(f.attrs.get("stream", "rgb"))
    if held:
        raise StoreError(f"{path}: a views store ({f.attrs['views']}): its features are "
                         "(N, V, T, D); read it with views=True (experiment.future.augment), or pass "
                         f"the store without views ({store_name(layer, stream)})")
    raise StoreError(f"{path}: has no views (features (N, T, D), one view per frame); extract "
                     "them with `python -m caffe_extract extract --views oversample`, which "
                     f"writes {store_name(layer, stream, views='oversample')}, and pass that store")


def check_contents(store, path):
    """Refuse a store (as read by ``read_store``) whose contents cannot be trained on, naming
    the field and the first bad video: a label outside 0..C-1 or not the class of the video's
    folder (1-based labels), a ``split_membership`` other than 0, 1 or 2, or codes that are NaN
    or infinite (every such video is named, up to 5)."""
    classes = [str(c) for c in store["classes"]]
    if not classes or len(set(classes)) != len(classes):
        raise StoreError(f"{path}: classes must be distinct class names, got {len(classes)} "
                         f"with {len(classes) - len(set(classes))} repeated")
    index = {c.lower(): k for k, c in enumerate(classes)}
    for video, label in zip(store["video"], store["labels"]):
        folder = str(video).replace("\\", "/").split("/")[0].lower()
        if not 0 <= label < len(classes):
            raise StoreError(f"{path}: labels: {video} has label {label}, outside 0..{len(classes) - 1} "
                             f"of the {len(classes)} classes (labels are 0-based)")
        if folder in index and index[folder] != label:
            raise StoreError(f"{path}: labels: {video} has label {label} ({classes[label]}), but "
                             f"its class is {classes[index[folder]]} (label {index[folder]})")
    if "split_membership" in store:
        bad = ~np.isin(store["split_membership"], (0, 1, 2)).all(axis=1)
        if bad.any():
            row = int(np.argmax(bad))
            raise StoreError(f"{path}: split_membership: {store['video'][row]} has "
                             f"{store['split_membership'][row].tolist()}; each split's entry must "
                             "be 0 (not listed), 1 (train) or 2 (test)")
    if "features" in store:
        features = store["features"]
        axes = tuple(range(1, features.ndim))       # (1, 2); a views store's (1, 2, 3)
        bad = np.concatenate([~np.isfinite(features[start:start + 256]).all(axis=axes)
                              for start in range(0, len(features), 256)] or [np.zeros(0, bool)])
        if bad.any():
            names = [str(v) for v in store["video"][bad]]
            raise StoreError(f"{path}: features: the codes of {len(names)} video(s) are not finite "
                             f"(NaN or infinite): {', '.join(names[:5])}"
                             f"{' ...' if len(names) > 5 else ''}; extract them again")


class FeatureDataset:
    """A ``torch.utils.data.Dataset`` of (codes (T, D) float32 tensor, label) from a store,
    held in memory (UCF-101's codes take 2.2 GB); ``indices``: a subset of its videos."""

    def __init__(self, path, indices=None):
        import torch
        data = read_store(path)
        keep = np.arange(len(data["labels"])) if indices is None else np.asarray(indices)
        self.features = torch.from_numpy(np.ascontiguousarray(data["features"][keep]))
        self.labels = torch.from_numpy(data["labels"][keep])
        self.video = data["video"][keep]
        self.group = data["group"][keep]
        self.classes = list(data["classes"])
        self.attrs = data["attrs"]

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return self.features[i], self.labels[i]
