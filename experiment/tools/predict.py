"""Classify a new video with a trained model: its top-5 UCF-101 classes.

    python -m experiment.tools.predict VIDEO --results results/ucf101-paper [--model lstm] [--device auto]

Everything the prediction needs comes from the results folder of `make train`: the
configuration (preprocessing and model variants), the model's chosen setting and its seed-0
run's best-validation weights (``checkpoints/``), the class names, and the SHA1 of the CaffeNet
weights the codes were made with. The video goes through the same path as the training data:
10 frames over its first 2 s, caffe.io's preprocessing of that configuration, the PyTorch port
of CaffeNet (CPU or GPU) to the same layer, then the model. CaffeNet weights other than those
the model was trained on are refused (compared by SHA1).
"""
import json
import os
import re
import sys
from dataclasses import fields

import torch


def load_results(results):
    """table.json of a results folder, with a clear error when it is not one."""
    path = os.path.join(results, "table.json")
    try:
        with open(path) as f:
            table = json.load(f)
    except OSError:
        splits = sorted(d for d in os.listdir(results) if d.startswith("split")) \
            if os.path.isdir(results) else []
        hint = f" (it holds {', '.join(splits)}: pass one of them)" if splits else ""
        raise FileNotFoundError(f"{path}: no results table; pass the folder `make train` "
                                f"wrote{hint}") from None
    except ValueError:
        raise ValueError(f"{path} is damaged (not JSON): rerun its experiment.train command, "
                         "which rewrites it from the finished runs") from None
    if not isinstance(table, dict) or "models" not in table or "config" not in table:
        from experiment.train.outputs import recognise
        owner = recognise(results)
        raise ValueError(f"{path}: not a per-split results table of experiment.train (" + (
            f"python -m {owner} wrote it" if owner not in (None, "experiment.train") else
            "a summary over splits? pass one split's folder") + ")")
    stream = table.get("settings", {}).get("stream", "rgb")
    if stream != "rgb":
        raise ValueError(f"{path}: its models read {stream} codes (--stream {stream}); predict "
                         "computes the frames' RGB codes only: pass a folder trained on those")
    return table


def choose(table, model=None):
    """The model's entry: ``model`` by name, or the one with the best validation accuracy."""
    entries = {m["model"]: m for m in table["models"]}
    if model is None:
        return max(entries.values(), key=lambda m: m["val_acc_mean"])
    if model not in entries:
        raise ValueError(f"no model {model!r} in these results (they hold {', '.join(entries)})")
    return entries[model]


def caffemodel_for(table, weights=None):
    """The .caffemodel to use: ``weights``, the random-weights file the results name, or the
    real CaffeNet; checked against the SHA1 recorded in the results."""
    from caffe_extract.weights import DEFAULT_PATH, file_sha1
    provenance = table["provenance"]
    if weights is None:
        seed = re.search(r"RANDOM weights \(seed (\d+)\)", provenance.get("weights", ""))
        if seed:
            from caffe_extract.random_model import cached_random_caffemodel
            weights = cached_random_caffemodel(int(seed[1]))
        else:
            weights = str(DEFAULT_PATH)
    if not os.path.isfile(weights):
        raise FileNotFoundError(f"no CaffeNet weights at {weights}: pass --weights PATH")
    expected = provenance.get("weights_sha1")
    if expected and file_sha1(weights) != expected:
        raise ValueError(f"{weights} is not the CaffeNet the model was trained on (SHA1 "
                         f"{file_sha1(weights)}, the results name {expected})")
    return weights


def trained_model(results, table, entry, device):
    """The seed-0 run's best-validation model of ``entry`` (a ``run_model`` result)."""
    from configurations import Configuration
    from experiment.train import RunSettings, best_model, load_checkpoint
    chosen = {k: v for k, v in entry["chosen"].items() if k in {f.name for f in fields(RunSettings)}}
    config = RunSettings(**{**chosen, "seed": entry["runs"][0]["seed"]})
    path = os.path.join(results, "checkpoints", config.run_id() + ".pt")
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: the checkpoint of {entry['model']} is missing")
    record = load_checkpoint(path, config)
    era = Configuration(**table["config"])
    state = record["best"]["model"]
    input_dim = next(v.shape[1] for k, v in state.items() if k.startswith(("W_ih", "W_xi", "W_conv")))
    return best_model(config, record, input_dim, len(table["classes"]), device), era


def predict(video, results, model=None, weights=None, device="cpu", top=5):
    """(model name, [(class name, probability)] of the ``top`` classes for ``video``)."""
    from caffe_extract.backends import open_backend
    from caffe_extract.frames import read_clip
    from caffe_extract.pipeline import LAYER_BLOBS
    from caffe_extract.preprocessing import preprocess
    table = load_results(results)
    entry = choose(table, model)
    net, era = trained_model(results, table, entry, device)
    layer = str(table["provenance"].get("layer", "fc7")).split()[0]
    clip = read_clip(video, decoder=era.decoder)
    if clip.warning:
        print(f"warning: {video}: {clip.warning}", file=sys.stderr)
    batch = preprocess(clip.frames, era.anti_aliasing, era.mean,
                       "skimage" if era.anti_aliasing else "torch")
    backend = open_backend("torch", caffemodel_for(table, weights), device)
    codes = backend.forward(batch, (LAYER_BLOBS[layer],))[LAYER_BLOBS[layer]]   # (10, D)
    x = torch.from_numpy(codes).to(device=device, dtype=next(net.parameters()).dtype)[None]
    with torch.no_grad():
        p = net(x)[0].double().cpu()
    best = torch.argsort(p, descending=True, stable=True)[:top]
    return entry["model"], [(table["classes"][i], float(p[i])) for i in best.tolist()]


def main(argv=None):
    from caffe_extract.caffemodel import CaffeModelError
    from caffe_extract.frames import VideoReadError
    from common import cli, commands, devices
    from experiment.train import CheckpointError
    parser = commands.parser("python -m experiment.tools.predict", __doc__)
    parser.add_argument("video", type=cli.existing_file, help="a video file (UCF-101-like: AVI, 320x240, any length)")
    parser.add_argument("--results", required=True, type=cli.existing_dir, help="a results folder of `make train`")
    parser.add_argument("--model", help="which model (default: the best on validation)")
    parser.add_argument("--weights", type=cli.existing_file, help="CaffeNet .caffemodel (default: the one the results "
                                          "were made with, checked by SHA1)")
    parser.add_argument("--top", type=cli.integer(1, 1000), default=5)
    commands.add_runtime(parser, device="auto", threads=False, progress=False)
    args = parser.parse_args(argv)
    return commands.guarded(lambda: predict_and_print(args),
                            (OSError, ValueError, VideoReadError, CaffeModelError,
                             CheckpointError, devices.DeviceError))


def predict_and_print(args):
    """The top classes of ``args.video`` printed; status 0."""
    from common import devices
    device = devices.resolve(args.device)
    devices.configure(device)
    model, ranked = predict(args.video, args.results, args.model, args.weights, device, args.top)
    print(f"{args.video}: top {len(ranked)} of {model} (results {args.results}, on {device})")
    for rank, (name, probability) in enumerate(ranked, start=1):
        print(f"{rank}. {name:<24} {probability:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
