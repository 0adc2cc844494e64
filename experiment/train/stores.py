"""One rule for stores used together (issue 30): a study that reads several code stores (the
RGB and flow streams for fusion, the ten views for the crops rows, pool5 for fine-tuning) or a
results folder trained on another store compares them video by video, so they must come from
the same videos and the same CaffeNet, and only the settings the study varies may differ.

    check_together(features, 1, {"layer": "fc7"}, [{"stream": "flow"}], weights_sha1=None,
                   tables=["results/demo-paper/table.json"])

The rule, from each store's own provenance (its datasets and the ``extraction`` manifest that
``caffe_extract`` keeps in its attributes, ``pipeline.manifest_text``):

1. Every store records how it was made (its ``extraction`` attribute). A store written before
   stores kept it (2026-12-03) cannot be compared setting by setting: it is refused, with the
   extraction that writes a store that can ("extract it again").
2. Every store is what its recipe makes (``check_recipe``): codes (N, T, D) or, for a views
   store, (N, V, T, D), with T = 10 frames, D its layer's size (``LAYER_DIMS``), V the number
   of views of its recipe (``N_VIEWS``), the dtype it records, its stream and views as its
   manifest says, and every listed video either stored or recorded as failed.
3. The same videos in the same order: for the split used, the training list (validation is
   carved from it by groups, so it follows) and the test list, each video with its label and
   group; and the same classes.
4. The same settings ``SAME`` (the same weights, split files, video files, decoding, sampling,
   preprocessing, configuration). The settings ``MAY_DIFFER`` are what a study varies, and
   each says why it may.

A refusal is one ``StoreError`` naming both stores, the first video or setting that differs
(both values) and the extraction command that makes a matching store. A results folder
(``tables``: its table.json, written by ``experiment.train``) records the provenance of the
store its models trained on; its recorded ``SAME`` settings must equal the stores' too.
"""
import json
import os

import h5py

from caffe_extract.frames import N_FRAMES
from caffe_extract.store import StoreError, read_store

#: The size of each CaffeNet layer's code (caffe_extract.pipeline.LAYER_BLOBS).
LAYER_DIMS = {"fc6": 4096, "fc7": 4096, "pool5": 9216}
#: The number of views of each views recipe (caffe_extract.views: 4 corners, centre, mirrors).
N_VIEWS = {"oversample": 10}

#: Settings that stores used together must share, and what each decides.
SAME = {
    "weights_sha1": "the CaffeNet weights (SHA1 of the .caffemodel)",
    "splits_sha1": "the split files (classInd.txt and the lists; SHA1 of their bytes)",
    "video_sizes_sha1": "the video files (each listed video's size)",
    "decoder": "the video decoder",
    "sampler": "which frames are taken",
    "resize": "the resize of the preprocessing",
    "anti_aliasing": "the anti-aliasing of the preprocessing",
    "mean": "the mean subtracted by the preprocessing",
    "config": "the named configuration of the extraction",
}
#: Settings that may differ between stores used together, and why.
MAY_DIFFER = {
    "stream": "fusion pairs the frames' codes (rgb) with their optical flow's (flow)",
    "layer": "fine-tuning reads pool5, the models read fc7 (fc6)",
    "views": "the crops rows read the ten views of the same frames",
    "store_dtype": "a views store may hold float16 codes (exactly widened to float32 per batch)",
    "backend": "the PyTorch port computes pycaffe's CaffeNet (docs/parity.md); make future "
               "extracts the views with it",
    "device": "where the network ran: the same net, float rounding apart",
    "fast": "TF32 on the GPU: the same net, float rounding apart",
    "batch_videos": "how the work was cut up, not what it computes",
    "chunk": "how the work was cut up, not what it computes",
    "split": "the video lists are compared themselves (rule 3)",
    "subset": "the video lists are compared themselves (rule 3)",
    "videos_sha1": "the video lists are compared themselves (rule 3)",
}


def manifest(attrs, path):
    """The ``extraction`` manifest a store keeps in its attributes (a dict); a store written
    before stores kept it is refused (rule 1)."""
    if "extraction" not in attrs:
        raise StoreError(f"{path}: made before stores recorded how they were made (no "
                         "'extraction' attribute), so it cannot be checked against the stores it "
                         "is used with; extract it again (`python -m caffe_extract extract ...`, "
                         "the same command: a store it made is kept)")
    return json.loads(str(attrs["extraction"]))


def recorded(attrs, path):
    """The ``SAME`` and ``MAY_DIFFER`` settings a store records: its manifest, and the sampler
    (an attribute of its own); a store without ``stream``/``views`` is rgb/without views."""
    made = manifest(attrs, path)
    return {"stream": "rgb", "views": None, **made, "sampler": str(attrs.get("sampler"))}


def check_recipe(path):
    """Refuse a store whose contents are not what its recorded recipe makes (rule 2); returns
    its settings (``recorded``)."""
    with h5py.File(path, "r") as f:
        attrs, shape, dtype = dict(f.attrs), f["features"].shape, f["features"].dtype.name
        stored, failed = len(f["video"]), len(f["failed_video"])
    made = recorded(attrs, path)
    layer, views = made.get("layer"), made.get("views")
    expected = ((N_VIEWS.get(views),) if views else ()) + (N_FRAMES, LAYER_DIMS.get(layer))
    what = f"{layer} codes" + (f" of {views}'s {N_VIEWS.get(views)} views" if views else "")
    if tuple(shape[1:]) != expected:
        raise StoreError(f"{path}: features are {shape[1:]} per video, but its recipe ({what} of "
                         f"{N_FRAMES} frames) makes {expected}; extract it again")
    want = made.get("store_dtype", "float32") if views else "float32"
    if dtype != want:
        raise StoreError(f"{path}: features are {dtype}, but its recipe records {want}; extract "
                         "it again")
    if str(attrs.get("stream", "rgb")) != made["stream"] or ("views" in attrs) != bool(views):
        raise StoreError(f"{path}: its attributes (stream {attrs.get('stream', 'rgb')}, views "
                         f"{'yes' if 'views' in attrs else 'none'}) disagree with its manifest "
                         f"(stream {made['stream']}, views {views}); extract it again")
    listed = attrs.get("n_videos_listed")
    if listed is not None and "shard" not in attrs and stored + failed != int(listed):
        raise StoreError(f"{path}: {stored} videos stored and {failed} failed, but its list has "
                         f"{listed}; extract it again")
    return made


def extraction_command(settings, attrs, layer, stream, views, per_split=None):
    """The extraction that writes a store matching ``settings`` (a reference store's) for
    ``layer``/``stream``/``views`` (``per_split``: a split's train and test stores, not one
    store of all splits), as the user types it."""
    note, random = str(attrs.get("weights", "")), "RANDOM weights (seed "
    seed = note[len(random):].split(")")[0] if note.startswith(random) else None
    weights = f"--random-weights {seed}" if seed is not None else \
        f"--weights <the .caffemodel of SHA1 {settings.get('weights_sha1')}>"
    subset = "" if per_split is None else f" --split {per_split} --subset both"
    options = "".join(f" --{name} {value}" for name, value, plain in
                      (("layer", layer, "fc7"), ("stream", stream, "rgb"), ("views", views, None))
                      if value != plain)
    return (f"`python -m caffe_extract extract --videos <the same videos> --splits <the same split "
            f"files>{subset} --config {settings.get('config')} {weights}{options}`")


def differing_setting(mine, theirs, keys=SAME):
    """The first of ``keys`` whose values differ, as (key, mine, theirs); None when all agree.
    The video files' sizes are compared only between stores of the same video list."""
    for key in keys:
        if key == "video_sizes_sha1" and mine.get("videos_sha1") != theirs.get("videos_sha1"):
            continue
        if str(mine.get(key)) != str(theirs.get(key)):
            return key, mine.get(key), theirs.get(key)
    return None


def split_lists(paths, split):
    """{"train": [(video, label, group)], "test": [...]} of official ``split`` from a store set
    (``store_paths``' dict: one store of all splits, or a train and a test store), and the
    failed videos {video: reason}."""
    from caffe_extract.ucf101 import TEST, TRAIN
    lists, failed = {}, {}
    for role, path in paths.items():
        store = read_store(path, features=False, views=None)
        rows = list(zip(store["video"].tolist(), store["labels"].tolist(), store["group"].tolist()))
        failed.update(zip(store["failed_video"].tolist(), store["failed_reason"].tolist()))
        if role == "all":
            if "split_membership" not in store:
                raise StoreError(f"{path}: no split_membership dataset: not a store of all "
                                 "splits; extract it again with `python -m caffe_extract extract`")
            column = store["split_membership"][:, split - 1]
            lists["train"] = [r for r, m in zip(rows, column) if m == TRAIN]
            lists["test"] = [r for r, m in zip(rows, column) if m == TEST]
        else:
            lists[role] = rows
        lists.setdefault("classes", list(store["classes"]))
    return lists, failed


def first_video_difference(mine, theirs, failed):
    """A sentence naming the first video (with its label and group) where two lists differ;
    None when they are equal."""
    for i, (a, b) in enumerate(zip(mine, theirs)):
        if a != b:
            return (f"video {i + 1} is {a[0]} (label {a[1]}, group {a[2]}) in the first, "
                    f"{b[0]} (label {b[1]}, group {b[2]}) in the second")
    if len(mine) == len(theirs):
        return None
    longer, n = (mine, "second") if len(mine) > len(theirs) else (theirs, "first")
    missing = longer[min(len(mine), len(theirs))][0]
    why = f" (its extraction failed: {failed[missing]})" if missing in failed else ""
    return (f"the first has {len(mine)} videos, the second {len(theirs)}: the {n} lacks "
            f"{missing}{why}")


def check_pair(ref, other, split):
    """Refuse two store sets (``store_paths``' dicts with their ``kind`` {layer, stream,
    views}) that break the rule; ``ref`` is the one the study compares everything with."""
    (ref_paths, _), (paths, kind) = ref, other
    ref_path, path = next(iter(ref_paths.values())), next(iter(paths.values()))
    names = f"{ref_path} and {path}"
    mine = {role: check_recipe(p) for role, p in ref_paths.items()}
    theirs = {role: check_recipe(p) for role, p in paths.items()}
    with h5py.File(ref_path, "r") as f:
        ref_attrs = dict(f.attrs)
    fix = extraction_command(next(iter(mine.values())), ref_attrs, **kind,
                             per_split=None if "all" in ref_paths else split)
    for role_a, a in mine.items():
        for role_b, b in theirs.items():
            diff = differing_setting(a, b)
            if diff:
                key, x, y = diff
                raise StoreError(f"{ref_paths[role_a]} and {paths[role_b]} cannot be used "
                                 f"together: {key} ({SAME[key]}) is {x!r} in the first, {y!r} in "
                                 f"the second; a matching store comes from {fix}")
    ref_lists, failed = split_lists(ref_paths, split)
    lists, failed_other = split_lists(paths, split)
    if ref_lists["classes"] != lists["classes"]:
        raise StoreError(f"{names} list different classes (made from different classInd.txt "
                         f"files); a matching store comes from {fix}")
    for role in ("train", "test"):
        where = first_video_difference(ref_lists[role], lists[role], {**failed, **failed_other})
        if where:
            raise StoreError(f"{names} do not hold the same videos in the same order (split "
                             f"{split}'s {role} list): {where}; a matching store comes from {fix}")


def check_weights(paths, weights_sha1, caffemodel):
    """Refuse a store set whose codes another CaffeNet made than ``caffemodel``."""
    for path in paths.values():
        with h5py.File(path, "r") as f:
            attrs = dict(f.attrs)
        made = recorded(attrs, path)["weights_sha1"]
        if made != weights_sha1:
            raise StoreError(f"{path} was extracted with the CaffeNet of SHA1 {made}, not "
                             f"{caffemodel} (SHA1 {weights_sha1}): pass the caffemodel that made "
                             "it, or extract it again with this one")


def check_table(table, paths):
    """Refuse a store set other than the one a results folder's models trained on, as far as
    its table.json records (its "provenance": the training store's attributes)."""
    if not os.path.isfile(table):
        return
    with open(table) as f:
        provenance = json.load(f).get("provenance", {})
    if not provenance:
        return
    trained = {**json.loads(provenance.get("extraction", "{}")),
               **{k: provenance[k] for k in ("weights_sha1", "splits_sha1", "sampler",
                                             "decoder", "config") if k in provenance}}
    for path in paths.values():
        with h5py.File(path, "r") as f:
            made = recorded(dict(f.attrs), path)
        diff = differing_setting(made, trained, [k for k in SAME if k in trained])
        if diff:
            key, x, y = diff
            raise StoreError(f"{path} cannot be used with the models of {os.path.dirname(table)}: "
                             f"{key} ({SAME[key]}) is {x!r} in the store, {y!r} in the codes "
                             f"those models trained on ({table}); use the stores they trained "
                             "on, or train them again on these")


def check_together(features, split, reference, others=(), weights_sha1=None, caffemodel=None,
                   tables=()):
    """Refuse stores that break the rule (module docstring): the store set ``reference`` of
    folder ``features`` (``store_paths``' keywords: layer, stream, views) against each of
    ``others``; every one of them against ``weights_sha1`` (the SHA1 of ``caffemodel``, when
    the study runs that CaffeNet itself) and against each results folder's table.json of
    ``tables`` (models that read them). Returns True."""
    from .data import store_paths
    kinds = [{"layer": "fc7", "stream": "rgb", "views": None, **k} for k in (reference, *others)]
    sets = [(store_paths(features, split, **k), k) for k in kinds]
    for paths, _ in sets:
        for path in paths.values():
            check_recipe(path)
    for other in sets[1:]:
        check_pair(sets[0], other, split)
    for paths, _ in sets:
        if weights_sha1 is not None:
            check_weights(paths, weights_sha1, caffemodel)
        for table in tables:
            check_table(table, paths)
    return True
