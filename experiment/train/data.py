"""The engine's data layer: a split's codes in memory (``Split``), one official split's train,
validation and test sets (``Data``, read by ``load_data`` from the stores that
``stores.store_paths`` finds, checked by ``stores``' rules). Validation is carved from the train
list by whole UCF-101 groups, never from the test list, and every class must keep videos in all
three sets.
"""
import hashlib
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import torch

from configurations import TRAINING

from .stores import check_split_pair, store_paths


@dataclass
class Split:
    """Codes and labels of one subset, in memory."""

    x: torch.Tensor        # (N, T, D) float32 (a views store: (N, V, T, D), float32 or float16,
                           # each minibatch converted to the training precision)
    y: torch.Tensor        # (N,) int64
    known_digest: str = field(default=None, repr=False, compare=False)   # ``digest``, once known

    def batch(self, index, seed, epoch):
        """The codes (B, T, D) of videos ``index`` for a minibatch of ``epoch`` of the run
        seeded ``seed``: ``x[index]`` (``experiment.future.augment.ViewSplit`` draws a view)."""
        return self.x[index]

    def to(self, device):
        """The split on ``device``, its ``digest`` taken here first (once, where it lives)."""
        return type(self)(self.x.to(device), self.y.to(device), self.digest())

    def digest(self):
        """SHA-1 of the codes and labels (dtype, shape and bytes of each, 256 videos at a time:
        no copy of the whole set), computed once: what a run trained or validated on, kept in
        its checkpoint (``trained_on``)."""
        if self.known_digest is None:
            digest = hashlib.sha1()
            for tensor in (self.x, self.y):
                digest.update(f"{str(tensor.dtype)[6:]} {tuple(tensor.shape)}\0".encode())
                for rows in tensor.detach().split(256):
                    digest.update(rows.cpu().contiguous().numpy().reshape(-1).view(np.uint8))
            self.known_digest = digest.hexdigest()
        return self.known_digest


def trained_on(train, val):
    """What a run trains and validates on, as its checkpoint keeps it: each ``Split.digest``
    (``checkpoints.load_checkpoint`` refuses to resume or reuse a run on other codes)."""
    return {"train": train.digest(), "val": val.digest()}


class Data(NamedTuple):
    """One official split, ready to train on: its train, validation and test ``Split``s and
    ``info`` (classes, the stores' attributes and paths, held-out groups, test videos)."""

    train: Split
    val: Split
    test: Split
    info: dict

    @property
    def n_classes(self):
        return len(self.info["classes"])

    def splits(self):
        return self.train, self.val, self.test


def load_data(features_dir, split=TRAINING.split, layer="fc7", val_groups=TRAINING.val_groups,
              val_seed=0, stream="rgb", views=None):
    """``Data`` of official ``split``, val carved from its train list by groups; ``stream``:
    "rgb" or "flow"; ``views``: None, or the views store's ("oversample": x (N, V, T, D) as
    stored: a float16 store stays float16 in memory, each minibatch converted exactly)."""
    stores, paths = read_split(features_dir, split, layer, stream, views)
    train_store, test_store = stores["train"], stores["test"]
    is_val, held_groups = hold_out(train_store, split, val_groups, val_seed, paths["train"])
    check_every_class(train_store, test_store, is_val, split, held_groups)

    def split_of(store, mask=None):
        mask = np.ones(len(store["labels"]), bool) if mask is None else mask
        return Split(torch.from_numpy(np.ascontiguousarray(store["features"][mask])),  # float16
                     torch.from_numpy(store["labels"][mask].astype(np.int64)))         # stays so

    info = {"classes": list(train_store["classes"]), "attrs": train_store["attrs"],
            "test_attrs": test_store["attrs"], "val_groups": held_groups,
            "test_videos": list(test_store["video"]), "split": split,
            "train_store": paths["train"], "test_store": paths["test"]}
    return Data(split_of(train_store, ~is_val), split_of(train_store, is_val),
                split_of(test_store), info)


def read_split(features_dir, split, layer="fc7", stream="rgb", views=None):
    """({"train": store, "test": store}, their paths) of official ``split``, each read by
    ``read_store`` and checked (contents, stream, a pair of per-split stores made alike)."""
    from caffe_extract.store import StoreError, check_contents, check_stream, read_store
    from caffe_extract.ucf101 import TEST, TRAIN
    paths = store_paths(features_dir, split, layer, stream, views)
    stores = {s: read_store(p, views=views is not None) for s, p in paths.items()}
    for s, p in paths.items():
        check_contents(stores[s], p)
        check_stream(stores[s], p, stream)
    if "all" in paths:
        store = stores.pop("all")
        if "split_membership" not in store:
            raise ValueError(f"{paths['all']} has no split_membership dataset: not a store of "
                             "all splits; extract it again with `python -m caffe_extract extract`")
        role = store["split_membership"][:, split - 1]
        stores = {"train": subset(store, role == TRAIN), "test": subset(store, role == TEST)}
        del store                              # the subsets are copies: 2.2 GB less held
        paths = {"train": paths["all"], "test": paths["all"]}
    else:
        check_split_pair(split, stores, paths)
    train = stores["train"]
    if not len(train["labels"]) or not len(stores["test"]["labels"]):
        raise ValueError(f"split {split} has an empty train or test set in {paths['train']}")
    empty = sorted(set(range(len(train["classes"]))) - set(train["labels"].tolist()))
    if empty:
        raise StoreError(f"{paths['train']}: classes: {train['classes'][empty[0]]} (label "
                         f"{empty[0]}) has no video in split {split}'s train list; the store lists "
                         f"{len(train['classes'])} classes, its videos use "
                         f"{len(train['classes']) - len(empty)}")
    return stores, paths


def hold_out(train_store, split, val_groups, val_seed, path):
    """(is_val, the held-out groups): the validation rows of the train store, ``val_groups``
    whole groups drawn with ``val_seed`` (``validation_split``)."""
    from caffe_extract.ucf101 import Video, validation_split
    videos = [Video(v, int(l), int(g), 0) for v, l, g in
              zip(train_store["video"], train_store["labels"], train_store["group"])]
    n_groups = len({v.group for v in videos})
    if not 0 < val_groups < n_groups:
        raise ValueError(f"--val-groups {val_groups}: split {split}'s train list in "
                         f"{path} has {n_groups} groups; hold out 1 to {n_groups - 1}")
    _, held = validation_split(videos, n_groups=val_groups, seed=val_seed)
    held_paths = {v.path for v in held}
    return (np.array([v in held_paths for v in train_store["video"]]),
            sorted({v.group for v in held}))


def check_every_class(train_store, test_store, is_val, split, held_groups):
    """A clear error naming the first class with no video in the training, validation or test
    set once ``held_groups`` are held out: a model would train, select or score without it."""
    from caffe_extract.store import StoreError
    classes = list(train_store["classes"])
    sets = (("training set (the train list without the held-out groups)",
             train_store["labels"][~is_val]),
            (f"validation set (groups {held_groups} of the train list)",
             train_store["labels"][is_val]),
            ("test list", test_store["labels"]))
    for name, labels in sets:
        missing = sorted(set(range(len(classes))) - set(np.asarray(labels).tolist()))
        if missing:
            raise StoreError(f"class {classes[missing[0]]} (label {missing[0]}) has no video in "
                             f"split {split}'s {name}"
                             f"{f' ({len(missing)} classes missing)' if len(missing) > 1 else ''};"
                             " every class needs videos in train, validation and test: hold "
                             "out other groups (--val-groups) or fix the split lists")


def subset(store, mask):
    """The rows ``mask`` of a store read by ``read_store`` (attrs and classes kept)."""
    return {k: (v[mask] if isinstance(v, np.ndarray) and k not in ("classes", "failed_video",
                                                                   "failed_reason") else v)
            for k, v in store.items()}


def features_dir(path):
    """argparse type of --features: a readable folder, with the hint to extract first."""
    from common import cli
    return cli.existing_dir(path, hint=": run the extraction first (`make extract`, or `make "
                                       "demo` for the synthetic set)")
