"""How a store was made, in its attributes: the settings, the weights' SHA1, the split files'
SHA1, the code's version; and the digest (``manifest_text``) by which ``finished`` recognises a
store that this same extraction wrote already, so that a rerun keeps it.
"""
import json
import os
import subprocess

from . import frames as framelib
from .extraction import LAYER_BLOBS, Extraction, splits_sha1
from .store import StoreError, read_store


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


def store_attrs(extraction, provenance):
    from common.reproducible import mode
    c = extraction.settings
    from .preprocessing import mean_values
    if c.mean == "channel":
        mean = "per channel (BGR " + ", ".join(f"{m:.3f}" for m in mean_values("channel")) + ")"
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
    return attrs


def kept_note(path):
    """What a run that keeps a finished store says."""
    return (f"{path}: kept, extracted before from the same videos with the same settings and "
            "weights (delete it to extract again)")


def manifest_text(extraction, weights_sha1):
    """How a store was made, as its "extraction" attribute keeps it and ``finished`` compares
    it: the extraction's manifest (``Extraction.manifest``), as JSON."""
    return json.dumps(extraction.manifest(weights_sha1), sort_keys=True)


def finished(config):
    """(path, failures, damaged) as ``extract`` returns them when the store ``config`` writes
    is there already, written by this same extraction (``manifest_text``); None when it must be
    extracted (absent, made otherwise, unreadable, or made before stores kept their manifest)."""
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
