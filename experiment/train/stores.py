"""Stores used together belong together (issue 30; the four rules and what may differ:
docs/reliability.md, "Stores used together belong together"): stores a study compares video by
video, and a results folder trained on another store, must come from the same videos and the
same CaffeNet; only the settings ``MAY_DIFFER`` may differ. A refusal is one ``StoreError``
naming both stores, the first difference and the extraction command that makes a matching store.
Here too: where a split's stores are (``store_paths``), and the rule for the two halves of one
extraction, a split's train and test stores (``check_split_pair``).

    check_together(features, 1, {"layer": "fc7"}, [{"stream": "flow"}], weights_sha1=None,
                   tables=["results/demo-paper/table.json"])
"""
import json
import os

import h5py

from caffe_extract.frames import N_FRAMES
from caffe_extract.store import StoreError, read_store, store_name
from configurations import CONFIGS, TRAINING

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


def store_paths(features_dir, split=TRAINING.split, layer="fc7", stream="rgb", views=None):
    """The store(s) to read for ``split``: {"all": the store of all three splits} where it
    exists (``caffe_extract.store.store_name``), else the older per-split stores {"train",
    "test"}; a clear error when neither is there."""
    unified = os.path.join(features_dir, store_name(layer, stream, views=views))
    if os.path.exists(unified):
        return {"all": unified}
    paths = {s: os.path.join(features_dir, store_name(layer, stream, split, s, views))
             for s in ("train", "test")}
    if all(os.path.exists(p) for p in paths.values()):
        return paths
    how = extraction_options(layer, stream, views, lead=" with --")
    raise FileNotFoundError(f"no codes for split {split} in {features_dir}: expected {unified} "
                            f"(or {paths['train']} and {paths['test']}); run the extraction{how} "
                            "first (`make extract`, or `make demo` for the synthetic set)")


def extraction_options(layer, stream, views, lead=" --"):
    """The extraction's options for ``layer``/``stream``/``views`` codes, each after ``lead``
    (none for fc7 rgb codes without views)."""
    return "".join(f"{lead}{name} {value}" for name, value, plain in
                   (("layer", layer, "fc7"), ("stream", stream, "rgb"), ("views", views, None))
                   if value != plain)


#: Settings a split's train and test stores (per-split stores, one extraction's two halves)
#: must share; ``check_split_pair`` compares them from the stores' attributes.
SPLIT_PAIR = ("weights_sha1", "layer", "preprocessing", "sampler", "decoder", "config", "split",
              "splits_sha1", "stream")


def check_split_pair(split, stores, paths):
    """Refuse a split's train and test stores (``stores``: {"train", "test"} as read by
    ``read_store``; ``paths``: their files) that are not that split's two lists (by the split and
    subset they record: a renamed or misnamed file), or whose codes were made differently (any
    attribute of ``SPLIT_PAIR``), or other classes, naming the field and both values (one store
    of all splits, the default, cannot mix by construction)."""
    for role, store in stores.items():
        attrs = store["attrs"]
        made = (str(attrs.get("split", split)), str(attrs.get("subset", role)))
        if made != (str(split), role):
            raise StoreError(f"{paths[role]} holds split {made[0]}'s {made[1]} list, not split "
                             f"{split}'s {role} list (renamed?); extract that one with --split "
                             f"{split} --subset {role}")
    train, test = stores["train"], stores["test"]
    names = f"{paths['train']} and {paths['test']}"
    if list(train["classes"]) != list(test["classes"]):
        raise StoreError(f"{names} list different classes: made from different classInd.txt "
                         "files")
    for key in SPLIT_PAIR:
        x, y = train["attrs"].get(key), test["attrs"].get(key)
        if str(x) != str(y):
            raise StoreError(f"{names} were made differently ({key}: {x!r} vs {y!r}); extract "
                             "both with the same settings")


def recorded(attrs, path):
    """The settings a store records: its ``extraction`` manifest (a store without one is
    refused: rule 1) and its sampler; a store without ``stream``/``views`` is rgb/without."""
    if "extraction" not in attrs:
        raise StoreError(f"{path}: made before stores recorded how they were made (no "
                         "'extraction' attribute), so it cannot be checked against the stores it "
                         "is used with; extract it again (`python -m caffe_extract extract ...`, "
                         "the same command: a store it made is kept)")
    return {"stream": "rgb", "views": None, **json.loads(str(attrs["extraction"])),
            "sampler": str(attrs.get("sampler"))}


def check_configuration(paths, config):
    """Refuse stores (``paths``) extracted with other extraction knobs than configuration
    ``config``'s (``Configuration.extraction``): its models would be trained, and tabled, as
    ``config`` on another configuration's frames. Configurations that extract alike (paper,
    nntools-2015, lasagne-0.1) share a store."""
    wanted = config.extraction()
    for path in paths:
        made = json.loads(str(read_store(path, features=False, views=None)["attrs"].get(
            "extraction", "{}")))
        diff = differing_setting(made, wanted, [k for k in wanted if k in made])
        if diff:
            (key, x, y), theirs = diff, made.get("config")
            raise StoreError(f"{path} was extracted with {key} {x!r} (configuration {theirs}), "
                             f"but configuration {config.name} extracts with {y!r}: extract "
                             f"its codes with --config {config.name} (make extract "
                             f"CONFIG={config.name} FEATURES=features-{config.name}; the "
                             f"demo's: make demo CONFIG={config.name})"
                             + (f", or train with --config {theirs}" if theirs in CONFIGS else ""))


def check_recipe(path):
    """Refuse a store that is not what its recorded recipe makes (rule 2); its ``recorded``."""
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
    """The extraction command that writes a store matching ``settings`` (a reference store's)
    for ``layer``/``stream``/``views`` (``per_split``: a split's train and test stores)."""
    note, random = str(attrs.get("weights", "")), "RANDOM weights (seed "
    seed = note[len(random):].split(")")[0] if note.startswith(random) else None
    weights = f"--random-weights {seed}" if seed is not None else \
        f"--weights <the .caffemodel of SHA1 {settings.get('weights_sha1')}>"
    subset = "" if per_split is None else f" --split {per_split} --subset both"
    options = extraction_options(layer, stream, views)
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
    """({"train": [(video, label, group)], "test": [...], "classes": [...]}, the failed videos
    {video: reason}) of official ``split`` from a store set (``store_paths``' dict)."""
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
    """A sentence naming the first video (label, group) where two lists differ; None if none."""
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


def check_pair(ref, other, split, made):
    """Refuse two store sets ((``store_paths``' dict, its kind)) that break the rule; ``ref``:
    the one the study compares everything with; ``made``: each store's ``check_recipe``."""
    (ref_paths, _), (paths, kind) = ref, other
    ref_path, path = next(iter(ref_paths.values())), next(iter(paths.values()))
    names = f"{ref_path} and {path}"
    with h5py.File(ref_path, "r") as f:
        ref_attrs = dict(f.attrs)
    fix = extraction_command(made[ref_path], ref_attrs, **kind,
                             per_split=None if "all" in ref_paths else split)
    for a in ref_paths.values():
        for b in paths.values():
            diff = differing_setting(made[a], made[b])
            if diff:
                key, x, y = diff
                raise StoreError(f"{a} and {b} cannot be used together: {key} ({SAME[key]}) is "
                                 f"{x!r} in the first, {y!r} in the second; a matching store "
                                 f"comes from {fix}")
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


def check_table(table, made, split):
    """Refuse a results folder whose models did not train on split ``split``'s RGB fc7 codes
    (the models a study builds on), by its table.json; and stores (``made``: {path: its
    ``check_recipe``}) other than the ones they trained on, as far as its "provenance" says."""
    if not os.path.isfile(table):
        return
    with open(table) as f:
        recorded = json.load(f)
    if "models" not in recorded and "splits" in recorded:
        raise StoreError(f"{table} is the summary over splits {recorded['splits']}: pass the "
                         f"folder of split {split}'s models ({os.path.dirname(table)}/split{split})")
    settings = recorded.get("settings", {})
    trained = (recorded.get("split", split), settings.get("stream", "rgb"),
               settings.get("layer", "fc7"))
    if trained != (split, "rgb", "fc7"):
        raise StoreError(f"the models of {os.path.dirname(table)} trained on split {trained[0]}'s "
                         f"{trained[1]} {trained[2]} codes ({table}), not on split {split}'s rgb "
                         "fc7 codes, which this study builds on: pass a folder trained on those")
    provenance = recorded.get("provenance", {})
    if not provenance:
        return
    trained = {**json.loads(provenance.get("extraction", "{}")),
               **{k: provenance[k] for k in ("weights_sha1", "splits_sha1", "sampler",
                                             "decoder", "config") if k in provenance}}
    for path, settings in made.items():
        diff = differing_setting(settings, trained, [k for k in SAME if k in trained])
        if diff:
            key, x, y = diff
            raise StoreError(f"{path} cannot be used with the models of {os.path.dirname(table)}: "
                             f"{key} ({SAME[key]}) is {x!r} in the store, {y!r} in the codes "
                             f"those models trained on ({table}); use the stores they trained "
                             "on, or train them again on these")


def check_together(features, split, reference, others=(), weights_sha1=None, caffemodel=None,
                   tables=()):
    """Refuse stores that break the rule: the store set ``reference`` of folder ``features``
    (``store_paths``' keywords: layer, stream, views) against each of ``others``; each against
    ``weights_sha1`` (of ``caffemodel``, when the study runs that CaffeNet itself) and against
    each results folder's table.json of ``tables`` (models that read them). Returns True."""
    kinds = [{"layer": "fc7", "stream": "rgb", "views": None, **k} for k in (reference, *others)]
    sets = [(store_paths(features, split, **k), k) for k in kinds]
    made = {path: check_recipe(path) for paths, _ in sets for path in paths.values()}
    for other in sets[1:]:
        check_pair(sets[0], other, split, made)
    for paths, _ in sets:
        for path in paths.values():
            if weights_sha1 is not None and made[path]["weights_sha1"] != weights_sha1:
                raise StoreError(f"{path} was extracted with the CaffeNet of SHA1 "
                                 f"{made[path]['weights_sha1']}, not {caffemodel} (SHA1 "
                                 f"{weights_sha1}): pass the caffemodel that made it, or extract "
                                 "it again with this one")
        for table in tables:
            check_table(table, {path: made[path] for path in paths.values()}, split)
    return True
