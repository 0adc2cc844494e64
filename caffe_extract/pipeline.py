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
"""
import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from configurations import TRAINING

from . import frames as framelib
from .store import FEATURE_DTYPES, STREAMS, VIEWS, read_store, write_store
from .ucf101 import VideoIndex, read_all_splits, read_split

LAYER_BLOBS = {"fc7": "relu7", "fc6": "relu6", "pool5": "pool5"}  # the codes: post-ReLU (see docs/data.md, "Real Caffe and the CaffeNet port")


@dataclass
class ExtractConfig:
    """Everything that decides an extraction's result (saved in the store and the manifest)."""

    videos: str                      # folder with the class folders of .avi files
    splits: str                      # folder with classInd.txt, trainlist0K.txt, testlist0K.txt
    out: str                         # the HDF5 store to write
    weights: str                     # the .caffemodel
    subset: str = "all"              # "all": every video of the three splits; "train", "test"
    split: int = TRAINING.split      # with subset "train" or "test": which split's list
    layer: str = "fc7"
    backend: str = "caffe"
    device: str = "cpu"
    fast: bool = False               # TF32 allowed on the GPU (not exact float32)
    decoder: str = "pyav"
    resize: str = "torch"            # preprocess's resize: "torch" (fast) or "skimage" (caffe.io's)
    anti_aliasing: bool = False      # True: today's caffe.io (always resized by skimage)
    mean: str = "channel"            # ImageNet mean per "channel" or per "pixel"
    config: str = "paper"            # the named configuration these knobs come from
    stream: str = "rgb"              # "rgb": the frames; "flow": their optical flow (flow.py)
    views: str = None                # None: the whole frame; "oversample": 10 views (views.py)
    store_dtype: str = "float32"     # a views store's features: "float32" or "float16"
    workers: int = 1                 # decoding processes (0: decode in the main process)
    batch_videos: int = 4            # videos per CNN batch (x 10 frames)
    chunk: int = 32                  # videos per resumable chunk
    shard: tuple = (0, 1)            # (i, n): this run takes chunks i, i + n, ...
    weights_note: str = ""           # e.g. "random weights (seed 0)": goes into the store
    progress: bool = True
    extra_attrs: dict = field(default_factory=dict)


def code_version():
    """The project version, and the git commit when run from a checkout."""
    from importlib import metadata
    try:
        version = metadata.version("giel-diaz-action-rnn")
    except metadata.PackageNotFoundError:
        version = "unknown"
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, cwd=os.path.dirname(__file__), timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"{version} ({commit})" if commit else version


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


class Extraction:
    """One extraction run: the video list, the chunks, their files, the final store."""

    def __init__(self, config):
        self.config = config
        if config.subset not in ("all", "train", "test"):
            raise ValueError(f"subset must be 'all', 'train' or 'test', got {config.subset!r}")
        if config.layer not in LAYER_BLOBS:
            raise ValueError(f"layer must be one of {sorted(LAYER_BLOBS)}, got {config.layer!r}")
        if config.stream not in STREAMS:
            raise ValueError(f"stream must be one of {', '.join(STREAMS)}, got {config.stream!r}")
        check_views(config.views, config.store_dtype, config.stream)
        self.membership = None
        splits = (1, 2, 3) if config.subset == "all" else (config.split,)
        self.split_files = ["classInd.txt"] + [f"{kind}list0{k}.txt" for k in splits
                                               for kind in ("train", "test")]
        if config.subset == "all":
            self.classes, self.videos, membership = read_all_splits(config.splits)
            self.membership = np.array(membership, dtype=np.int8).reshape(len(self.videos), -1)
        else:
            self.classes, train, test = read_split(config.splits, config.split)
            self.videos = train if config.subset == "train" else test
        i, n = config.shard
        if not 0 <= i < n:
            raise ValueError(f"shard must be i/n with 0 <= i < n, got {i}/{n}")
        n_chunks = -(-len(self.videos) // config.chunk)
        self.chunks = [k for k in range(n_chunks) if k % n == i]
        self.target = shard_path(config.out, config.shard)  # the store this run writes
        self.parts = self.target + ".parts"

    def chunk_range(self, k):
        return range(k * self.config.chunk, min((k + 1) * self.config.chunk, len(self.videos)))

    def chunk_path(self, k):
        return os.path.join(self.parts, f"chunk-{k:05d}.npz")

    def manifest(self, weights_sha1):
        c = self.config
        listing = "\n".join(v.path for v in self.videos).encode()
        stream = {} if c.stream == "rgb" else {"stream": c.stream}   # rgb's as before streams
        if c.views is not None:                                      # and as before views
            stream.update(views=c.views, store_dtype=c.store_dtype)
        return {**stream, "videos_sha1": hashlib.sha1(listing).hexdigest(), "split": c.split,
                "subset": c.subset, "layer": c.layer, "backend": c.backend, "decoder": c.decoder,
                "resize": c.resize, "anti_aliasing": c.anti_aliasing, "mean": c.mean,
                "config": c.config, "batch_videos": c.batch_videos, "chunk": c.chunk,
                "device": c.device, "fast": c.fast,
                "weights_sha1": weights_sha1}

    def prepare_parts(self, weights_sha1):
        """Create OUT.parts, or check that the one there belongs to the same extraction (the
        same videos, settings and weights, compared by their SHA1)."""
        path = os.path.join(self.parts, "manifest.json")
        os.makedirs(self.parts, exist_ok=True)
        mine = self.manifest(weights_sha1)
        if os.path.exists(path):
            with open(path) as f:
                theirs = json.load(f)
            if theirs != mine and not any(n.startswith("chunk-") for n in os.listdir(self.parts)):
                theirs = mine            # nothing computed yet: nothing to protect, start anew
                _atomic_json(path, mine)
            if theirs != mine:
                diff = {k: (theirs.get(k), v) for k, v in mine.items() if theirs.get(k) != v}
                raise RuntimeError(f"{self.parts} holds a different extraction ({diff}); delete "
                                   "it to start over, or rerun with the same settings to resume")
        else:
            _atomic_json(path, mine)
        for name in os.listdir(self.parts):
            if name.endswith(".tmp"):  # left by a killed run
                os.remove(os.path.join(self.parts, name))

    def check_videos(self):
        """A clear error when the video folder is not UCF-101's (no class folder of the list)."""
        root = self.config.videos
        if not os.path.isdir(root):
            raise FileNotFoundError(f"videos folder {root} does not exist")
        present = {name.lower() for name in os.listdir(root)}
        if not present & {name.lower() for name in self.classes}:
            raise ValueError(f"{root} holds none of the class folders named in classInd.txt "
                             f"(e.g. {self.classes[0]}/): pass the folder that holds them "
                             "(UCF-101/)")

    @contextlib.contextmanager
    def lock(self):
        """Hold OUT.lock for the whole run: a second run on the same output is refused."""
        import fcntl
        os.makedirs(os.path.dirname(os.path.abspath(self.target)), exist_ok=True)
        with open(self.target + ".lock", "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                raise RuntimeError(f"another extraction is writing {self.target} "
                                   f"(pid {handle.read().strip() or '?'}); wait for it to "
                                   "finish, or write elsewhere (--out-dir)") from None
            handle.truncate(0)
            handle.write(str(os.getpid()))
            handle.flush()
            yield
            os.remove(self.target + ".lock")   # done: removed while still held

    def pending(self):
        return [k for k in self.chunks if not os.path.exists(self.chunk_path(k))]


def check_views(views, store_dtype, stream):
    """A clear ValueError for views or a storage type an extraction cannot write."""
    if views is not None and views not in VIEWS:
        raise ValueError(f"views must be one of {', '.join(VIEWS)} (or none), got {views!r}")
    if store_dtype not in FEATURE_DTYPES:
        raise ValueError(f"store dtype must be one of {', '.join(FEATURE_DTYPES)}, got "
                         f"{store_dtype!r}")
    if views is None and store_dtype != "float32":
        raise ValueError(f"--store-dtype {store_dtype} is for views stores (--views oversample); "
                         "the store without views stays float32, as its readers expect")
    if views is not None and stream != "rgb":
        raise ValueError(f"--views {views} needs --stream rgb: a mirrored flow image is not the "
                         "flow of the mirrored video (its horizontal component keeps its sign)")


def saved_chunks(parts):
    """The chunk files a run has saved in its .parts folder so far (none when it is absent)."""
    if not os.path.isdir(parts):
        return []
    return [name for name in os.listdir(parts) if name.startswith("chunk-") and name.endswith(".npz")]


def _atomic_json(path, obj):
    with open(path + ".tmp", "w") as f:
        json.dump(obj, f, indent=1, sort_keys=True)
    os.replace(path + ".tmp", path)


def _save_chunk(path, indices, features, times, failures, warnings):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        np.savez(f, indices=np.asarray(indices, np.int64), features=features,
                 times=np.asarray(times, np.float32).reshape(len(indices), framelib.N_FRAMES),
                 warnings=np.array(warnings, dtype=str),
                 failed=np.array([i for i, _ in failures], np.int64),
                 reasons=np.array([r for _, r in failures], dtype=str))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def run_chunks(extraction, backend, on_chunk=None):
    """Compute and save every pending chunk of this shard; ``on_chunk(k, n_videos)`` after each."""
    c = extraction.config
    blob = LAYER_BLOBS[c.layer]
    index = VideoIndex(c.videos)
    pending = extraction.pending()
    jobs = ((i, index.locate(extraction.videos[i].path), framelib.N_FRAMES, framelib.SPAN,
             c.decoder, c.resize, c.anti_aliasing, c.mean, c.stream, c.views)
            for k in pending for i in extraction.chunk_range(k))
    total = sum(len(extraction.chunk_range(k)) for k in pending)
    results = ordered_imap(load_video, jobs, c.workers, prefetch=max(2, 2 * c.workers + c.batch_videos))
    desc = f"{c.subset} {c.layer}" + ("" if c.stream == "rgb" else f" {c.stream}") + \
        ("" if c.views is None else f" {c.views}")
    per_forward = c.batch_videos * framelib.N_FRAMES    # images per forward: as without views
    bar = _bar(total, c.progress, desc)
    for k in pending:
        done, failures, batch = [], [], []     # done: (index, codes (T, D), times) per video
        warnings = {}
        for _ in extraction.chunk_range(k):
            i, frames, clip_times, error, warning = next(results)
            if error is not None:
                failures.append((i, error))
                bar.update(1)
                continue
            warnings[i] = warning
            batch.append((i, frames, clip_times))
            if len(batch) == c.batch_videos:
                done += _finite(_forward(backend, batch, blob, per_forward), failures, c.layer)
                bar.update(len(batch))
                batch = []
        if batch:  # the chunk's last, smaller batch: batches never cross chunks
            done += _finite(_forward(backend, batch, blob, per_forward), failures, c.layer)
            bar.update(len(batch))
        failures.sort()                        # list order, whichever check refused a video
        indices = [i for i, _, _ in done]
        times = [t for _, _, t in done]
        features = np.stack([f for _, f, _ in done]) if done else \
            np.zeros((0, framelib.N_FRAMES, 0), np.float32)
        features = _stored(features, c.store_dtype, k)
        _save_chunk(extraction.chunk_path(k), indices, features, times, failures,
                    [warnings[i] for i in indices])
        if on_chunk is not None:
            on_chunk(k, len(extraction.chunk_range(k)))
    bar.close()


def _stored(features, dtype, k):
    """Chunk ``k``'s codes in the store's dtype; a clear error for codes beyond float16's range
    (65504), which would be stored as infinite."""
    if dtype == "float16" and features.size and np.abs(features).max() > np.finfo(np.float16).max:
        raise ValueError(f"chunk {k}: codes reach {np.abs(features).max():.4g}, beyond float16's "
                         "range (65504); extract with --store-dtype float32")
    return features.astype(dtype, copy=False)


def _forward(backend, batch, blob, per_forward):
    """The network over a batch of decoded videos, in forwards of at most ``per_forward``
    images (one forward without views): [(index, codes (T, D) or (V, T, D), times)]."""
    images = np.concatenate([frames for _, frames, _ in batch])         # (B [V] T, 3, h, w)
    out = np.concatenate([backend.forward(images[start:start + per_forward], (blob,))[blob]
                          for start in range(0, len(images), per_forward)])
    views = len(images) // (len(batch) * framelib.N_FRAMES)             # 1, or V
    codes = out.reshape((len(batch),) + ((views,) if views > 1 else ()) + (framelib.N_FRAMES, -1))
    return [(i, video_codes, times) for (i, _, times), video_codes in zip(batch, codes)]


def _finite(done, failures, layer):
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


def _bar(total, enabled, desc):
    from tqdm import tqdm
    return tqdm(total=total, unit="video", desc=desc, disable=not enabled, dynamic_ncols=True)


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


def store_attrs(extraction, provenance):
    from common.reproducible import mode
    c = extraction.config
    from .preprocessing import channel_mean
    if c.mean == "channel":
        mean = "per channel (BGR " + ", ".join(f"{m:.3f}" for m in channel_mean()) + ")"
    else:
        mean = "per pixel (the central 227x227 of ilsvrc_2012_mean.npy)"
    resize = ("with anti-aliasing, as today's skimage; resize=skimage" if c.anti_aliasing else
              f"no anti-aliasing, as skimage in 2015; resize={c.resize}")
    attrs = {
        "layer": f"{c.layer} (post-ReLU: Caffe layer {LAYER_BLOBS[c.layer]})",
        "split": "1, 2, 3" if c.subset == "all" else c.split, "subset": c.subset,
        "n_videos_listed": len(extraction.videos), "config": c.config,
        "preprocessing": (f"caffe.io: full frame resized to 227x227 (bilinear, {resize}), "
                          f"RGB->BGR, x255, minus ImageNet mean {mean}"),
        "sampler": (f"{framelib.N_FRAMES} frames at t_i = i*{framelib.SPAN}/{framelib.N_FRAMES} s; "
                    "frame int(fps*t + 1e-5); clips shorter than the span repeat their last frame"),
        "decoder": c.decoder, "code_version": code_version(),
        "weights": c.weights_note or os.path.basename(c.weights),
        "cpu_kernels": {"pinned": "pinned (AVX2; the same bits on every x86-64 CPU)",
                        "fast": "not pinned (ACTION_RNN_FAST=1): the CPU's fastest; bits may "
                                "differ between machines"}[mode()],
    }
    if c.stream == "flow":    # an rgb store keeps the attributes it had before streams
        from .flow import RECIPE, opencv_version
        attrs.update(stream="flow", flow=RECIPE, opencv_version=opencv_version())
    if c.views is not None:   # and the store without views those it had before views
        from .views import DESCRIPTION
        attrs.update(views=DESCRIPTION, features_dtype=c.store_dtype,
                     preprocessing=(f"caffe.Classifier (oversample=True): full frame resized to "
                                    f"256x256 (bilinear, {resize}), 10 crops of 227x227, RGB->BGR, "
                                    f"x255, minus ImageNet mean {mean}"))
    attrs["splits_sha1"] = splits_sha1(c.splits, extraction.split_files)
    attrs["extraction"] = manifest_text(extraction, provenance["weights_sha1"])   # ``finished``
    attrs.update({k: str(v) for k, v in provenance.items()})
    attrs.update(c.extra_attrs)
    return attrs


def splits_sha1(folder, names):
    """SHA1 over the split files (name and bytes of each; both lists of the split, so that
    the train and test stores of one split agree): where the lists came from."""
    digest = hashlib.sha1()
    for name in names:
        digest.update(name.encode() + b"\0")
        with open(os.path.join(folder, name), "rb") as f:
            digest.update(f.read())
    return digest.hexdigest()


def shard_path(out, shard):
    i, n = shard
    return out if n == 1 else f"{out}.shard{i}of{n}"


def kept_note(path):
    """What a run that keeps a finished store says."""
    return (f"{path}: kept, extracted before from the same videos with the same settings and "
            "weights (delete it to extract again)")


def manifest_text(extraction, weights_sha1):
    """How a store was made, as its "extraction" attribute keeps it and ``finished`` compares
    it: the chunks' manifest (video list, settings, weights), the split files' SHA1 (the labels
    and the split membership come from them) and the listed videos' sizes (another folder of
    videos under the same names)."""
    index, sizes = VideoIndex(extraction.config.videos), hashlib.sha1()
    for video in extraction.videos:
        path = index.locate(video.path)
        sizes.update(f"{video.path}\0{os.path.getsize(path) if path else -1}\n".encode())
    return json.dumps({**extraction.manifest(weights_sha1), "video_sizes_sha1": sizes.hexdigest(),
                       "splits_sha1": splits_sha1(extraction.config.splits,
                                                  extraction.split_files)}, sort_keys=True)


def finished(config):
    """(path, failures, damaged) as ``extract`` returns them when the store ``config`` writes
    is there already, written by this same extraction (the same video list, settings and
    weights: the manifest its attributes keep); None when it must be extracted (absent, made
    otherwise, unreadable, or made before stores kept their manifest)."""
    from .store import StoreError
    from .weights import file_sha1
    extraction = Extraction(config)
    path = extraction.target
    if not os.path.isfile(path) or not os.path.isfile(config.weights):
        return None
    try:
        store = read_store(path, features=False, views=None)
    except StoreError:
        return None
    if store["attrs"].get("extraction") != manifest_text(extraction, file_sha1(config.weights)):
        return None
    failures = list(zip(store["failed_video"], store["failed_reason"]))
    damaged = [(v, w) for v, w in zip(store["video"], store.get("warning", ())) if w]
    return path, failures, damaged


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


def merge(shard_files, out):
    """Join the stores of shards 0/n .. n-1/n into the store one run would have written."""
    import h5py
    if any(os.path.abspath(out) == os.path.abspath(p) for p in shard_files):
        raise ValueError(f"--out {out} is one of the shards: write the merged store elsewhere")
    parts = []
    for path in shard_files:
        data = read_store(path, views=None)          # a views store's shards too
        with h5py.File(path, "r") as f:
            if "index" not in f:
                raise ValueError(f"{path} is not a shard store (no 'index'): was it made with --shard?")
            data["index"], data["failed_index"] = f["index"][()], f["failed_index"][()]
        parts.append(data)
    attrs = [{k: v for k, v in p["attrs"].items() if k != "shard"} for p in parts]
    for path, part, a in zip(shard_files[1:], parts[1:], attrs[1:]):
        differ = sorted(k for k in a.keys() | attrs[0].keys() if str(a.get(k)) != str(attrs[0].get(k)))
        if differ:
            key, more = differ[0], f"; also {', '.join(differ[1:])}" if len(differ) > 1 else ""
            raise ValueError(f"{path} comes from another extraction than {shard_files[0]}: its "
                             f"{key} is {a.get(key)!r}, not {attrs[0].get(key)!r}{more}; rerun "
                             "that shard with the same settings")
        if list(part["classes"]) != list(parts[0]["classes"]):
            raise ValueError(f"{path} lists other classes than {shard_files[0]}: made from "
                             "another classInd.txt; rerun that shard with the same split files")
    shards = [p["attrs"]["shard"] for p in parts]
    n = int(shards[0].split("/")[1])
    for path, shard in zip(shard_files, shards):
        if shards.count(shard) > 1:
            raise ValueError(f"{path} is shard {shard}, given twice; pass each shard once")
    missing = [f"{i}/{n}" for i in range(n) if f"{i}/{n}" not in shards]
    if missing or len(shards) != n:
        raise ValueError(f"need shards 0/{n} .. {n - 1}/{n} exactly once: shard(s) "
                         f"{', '.join(missing) or '?'} missing (given: {', '.join(shard_files)})")
    index = np.concatenate([p["index"] for p in parts])
    failed_index = np.concatenate([p["failed_index"] for p in parts])
    listed = int(attrs[0]["n_videos_listed"])
    if sorted(np.concatenate([index, failed_index]).tolist()) != list(range(listed)):
        raise ValueError("the shards do not cover every listed video exactly once")
    order = np.argsort(index, kind="stable")
    records = {k: np.concatenate([p[k] for p in parts])[order]
               for k in ("features", "labels", "video", "group", "frame_times",
                         "split_membership", "warning") if k in parts[0]}
    records["video"] = list(records["video"])
    if "warning" in records:
        records["warning"] = list(records["warning"])
    failed = sorted(zip(failed_index.tolist(),
                        (v for p in parts for v in p["failed_video"]),
                        (r for p in parts for r in p["failed_reason"])))
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    write_store(out, records, [(v, r) for _, v, r in failed], list(parts[0]["classes"]), attrs[0])
    return out


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

