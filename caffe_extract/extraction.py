"""One extraction's plan: its settings (``ExtractSettings``), the videos it lists, the chunks it
computes and their files in ``OUT.parts/``, the manifest that guards a resumed run, the lock.
Nothing here decodes a video or runs the network (``decoding``, ``chunks``).
"""
import contextlib
import hashlib
import json
import os
import sys
from dataclasses import dataclass

import numpy as np

from common.files import remove_parts, write_atomic
from configurations import TRAINING

from .entries import entry_problem
from .store import FEATURE_DTYPES, STREAMS, VIEWS
from .ucf101 import VideoIndex, read_all_splits, read_split


LAYER_BLOBS = {"fc7": "relu7", "fc6": "relu6", "pool5": "pool5"}  # the codes: post-ReLU (see docs/data.md, "Real Caffe and the CaffeNet port")


@dataclass
class ExtractSettings:
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


class Extraction:
    """One extraction run: the video list, the chunks, their files, the final store."""

    def __init__(self, config):
        self.settings = config
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
        return range(k * self.settings.chunk, min((k + 1) * self.settings.chunk, len(self.videos)))

    def chunk_path(self, k):
        return os.path.join(self.parts, f"chunk-{k:05d}.npz")

    def manifest(self, weights_sha1):
        """What guards a resumed run (OUT.parts/manifest.json) and says how a finished store was
        made (its "extraction" attribute): the video list, the settings, the weights' SHA1, the
        split files' SHA1 (the labels and the split membership come from them) and the listed
        videos' sizes (another folder of videos under the same names; ``entry_size``)."""
        c = self.settings
        listing = "\n".join(v.path for v in self.videos).encode()
        index, sizes = VideoIndex(c.videos), hashlib.sha1()
        for video in self.videos:
            sizes.update(f"{video.path}\0{entry_size(index.locate(video.path))}\n".encode())
        stream = {} if c.stream == "rgb" else {"stream": c.stream}   # rgb's as before streams
        if c.views is not None:                                      # and as before views
            stream.update(views=c.views, store_dtype=c.store_dtype)
        settings = ("split", "subset", "layer", "backend", "decoder", "resize", "anti_aliasing",
                    "mean", "config", "batch_videos", "chunk", "device", "fast")
        return {**stream, "videos_sha1": hashlib.sha1(listing).hexdigest(),
                **{key: getattr(c, key) for key in settings}, "weights_sha1": weights_sha1,
                "video_sizes_sha1": sizes.hexdigest(),
                "splits_sha1": splits_sha1(c.splits, self.split_files)}

    def prepare_parts(self, weights_sha1):
        """Create OUT.parts, or check that the one there belongs to the same extraction (the
        same ``manifest``: videos, their sizes, split files, settings and weights)."""
        path = os.path.join(self.parts, "manifest.json")
        os.makedirs(self.parts, exist_ok=True)
        mine, theirs = self.manifest(weights_sha1), None
        if os.path.exists(path):
            with open(path) as f:
                theirs = json.load(f)
        sources = ("video_sizes_sha1", "splits_sha1")
        if theirs is not None and not set(sources) & set(theirs) and saved_chunks(self.parts) \
                and theirs == {k: v for k, v in mine.items() if k not in sources}:
            print(f"note: {self.parts} was saved before it recorded the video files' sizes and "
                  "split files' SHA1: resumed on the same list and settings; if the videos or "
                  "the split files changed since, delete it", file=sys.stderr)
            theirs = None                               # the manifest is written anew below
        if theirs not in (None, mine) and saved_chunks(self.parts):
            diff = {k: (theirs.get(k), v) for k, v in mine.items() if theirs.get(k) != v}
            raise RuntimeError(f"{self.parts} holds a different extraction ({diff}); delete "
                               "it to start over, or rerun with the same settings to resume")
        if theirs != mine:             # new, or nothing computed yet: nothing to protect, start anew
            write_atomic(path, json.dumps(mine, indent=1, sort_keys=True))
        for name in os.listdir(self.parts):
            if name.endswith(".tmp"):  # left by a killed run
                os.remove(os.path.join(self.parts, name))

    def check_videos(self):
        """A clear error when the video folder is not UCF-101's (no class folder of the list)."""
        root = self.settings.videos
        if not os.path.isdir(root):
            raise FileNotFoundError(f"videos folder {root} does not exist")
        present = {name.lower() for name in os.listdir(root)}
        if not present & {name.lower() for name in self.classes}:
            raise ValueError(f"{root} holds none of the class folders named in classInd.txt "
                             f"(e.g. {self.classes[0]}/): pass the folder that holds them "
                             "(UCF-101/)")

    @contextlib.contextmanager
    def lock(self):
        """Hold OUT.lock for the whole run: a second run on the same output is refused. The
        file goes at the end, whether the run ends well or not. Held, it removes the store's
        part that a killed write left (``OUT.PID.tmp``: 2.2 GB on UCF-101): no one else
        writes OUT now."""
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
            remove_parts(self.target)
            try:
                yield
            finally:
                os.remove(self.target + ".lock")   # done or failed: removed while still held

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


def shard_path(out, shard):
    i, n = shard
    return out if n == 1 else f"{out}.shard{i}of{n}"


def saved_chunks(parts):
    """The chunk files a run has saved in its .parts folder so far (none when it is absent)."""
    if not os.path.isdir(parts):
        return []
    return [name for name in os.listdir(parts) if name.startswith("chunk-") and name.endswith(".npz")]


def splits_sha1(folder, names):
    """SHA1 over the split files (name and bytes of each; both lists of the split, so that
    the train and test stores of one split agree): where the lists came from."""
    digest = hashlib.sha1()
    for name in names:
        digest.update(name.encode() + b"\0")
        with open(os.path.join(folder, name), "rb") as f:
            digest.update(f.read())
    return digest.hexdigest()


def entry_size(path):
    """A listed video's part of the sizes' digest: its size in bytes; -1 when it was not
    found; the words of ``entry_problem`` for an entry that is not a readable file (a broken
    link, a named pipe), which the extraction records as a skip."""
    if path is None:
        return -1
    problem = entry_problem(path)
    if problem is not None:
        return problem
    try:
        return os.path.getsize(path)
    except OSError as error:      # gone since: as entry_problem would now say
        return entry_problem(path) or f"unreadable ({type(error).__name__})"
