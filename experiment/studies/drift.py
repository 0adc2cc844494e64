"""The drift ledger: what each difference between the 2015 stack and today's costs, measured
(the method and the demo's ledger: docs/faithfulness.md, "The drift ledger").

    python -m experiment.studies.drift --videos demo/data/videos --splits demo/data/splits \
        --work demo/drift --out results/drift                                  # make drift

Each row changes one knob of the ``paper`` configuration and measures the relative difference
of the FC7 codes and/or the test accuracy of the knob's model on both settings, its difference
with its 95% interval and sign-flip p, Holm over the rows (``experiment.analysis.stats``).
A variant whose decoded frames are bitwise the baseline's is not run (the ledger says so).
Writes OUT/drift.md, OUT/drift.json and OUT/drift.png; every store and run is cached under
WORK: a rerun after an interruption continues.
"""
import json
import os
import sys
import time
from dataclasses import replace

import numpy as np

from caffe_extract.jobs import user_errors
from caffe_extract.weights import file_sha1, resolve_weights
from common.files import write_atomic
from experiment.analysis import stats
from experiment.train import ERRORS
from configurations import PAPER, TRAINING


def code_difference(a, b):
    """{"max_rel", "mean_rel", "frames"}: the max and mean over the frames of ||a - b|| / ||a||,
    codes (N, T, D), and the number of frames N T; frames whose baseline code is all zero count
    as 0 when the variant's is zero too, and are skipped otherwise."""
    a = a.reshape(-1, a.shape[-1]).astype(np.float64)
    b = b.reshape(-1, b.shape[-1]).astype(np.float64)
    num, den = np.linalg.norm(a - b, axis=1), np.linalg.norm(a, axis=1)
    ok = (den > 0) | (num == 0)
    rel = np.divide(num, den, out=np.zeros_like(num), where=den > 0)[ok]
    return {"max_rel": float(rel.max()), "mean_rel": float(rel.mean()), "frames": len(a)}


def _test_codes(store_path, split=TRAINING.split):
    """{video: codes (T, D)} of split ``split``'s test videos in an all-splits store."""
    from caffe_extract.store import read_store
    from caffe_extract.ucf101 import TEST
    data = read_store(store_path)
    test = data["split_membership"][:, split - 1] == TEST
    return dict(zip(data["video"][test], data["features"][test]))


def compare_stores(base_path, other_path):
    """Code difference over the test videos both stores hold (failures may differ)."""
    base, other = _test_codes(base_path), _test_codes(other_path)
    common = sorted(set(base) & set(other))
    return code_difference(np.stack([base[v] for v in common]),
                           np.stack([other[v] for v in common]))


def frames_identical(videos, splits, decoders=("pyav", "moviepy"), progress=True):
    """Whether two decoders give bitwise identical frames on every listed video (and the count)."""
    from caffe_extract.frames import VideoReadError, read_clip
    from caffe_extract.ucf101 import VideoIndex, read_all_splits
    from tqdm import tqdm
    _, listed, _ = read_all_splits(splits)
    index = VideoIndex(videos)
    same = 0
    for video in tqdm(listed, desc="frames pyav vs moviepy", leave=False, disable=not progress):
        path = index.locate(video.path)
        try:
            clips = [read_clip(path, decoder=d) for d in decoders]
        except VideoReadError:
            continue
        same += all(np.array_equal(c.frames, clips[0].frames) and
                    np.array_equal(c.times, clips[0].times) for c in clips[1:])
    return same, len(listed)


def extract_variant(args, name, **knobs):
    """The all-splits store of the baseline with ``knobs`` changed (cached in WORK/name)."""
    from caffe_extract.pipeline import ExtractSettings, extract
    out = os.path.join(args.work, name, f"all_splits_{args.layer}.h5")
    if os.path.exists(out):
        return out
    os.makedirs(os.path.dirname(out), exist_ok=True)
    settings = {"backend": "caffe", **PAPER.extraction(), **knobs}
    config = ExtractSettings(videos=args.videos, splits=args.splits, out=out, weights=args.weights,
                           subset="all", layer=args.layer, workers=args.workers,
                           weights_note=args.weights_note, config=f"paper, {name}",
                           progress=not args.no_progress, **settings)
    print(f"== codes: {name}", file=sys.stderr)
    return extract(config)[0]


def train_variant(args, name, store, model, **knobs):
    """``run_model`` of one model on one store, with training knobs changed (cached)."""
    from experiment.train import Protocol, Runtime, RunSettings, load_data, run_model
    out = os.path.join(args.work, "runs", name)
    data = load_data(os.path.dirname(store), 1, args.layer, args.val_groups)
    era = replace(PAPER, name=f"paper-{name}", **knobs)    # the paper's, one knob changed
    base = RunSettings(config=era.name, epochs=args.epochs, patience=0, batch_size=args.batch_size)
    print(f"== accuracy: {model}, {name}", file=sys.stderr)
    result = run_model(model, Protocol(base, (args.lr,), (args.hidden,), tuple(range(args.seeds)),
                                       era), data, out, Runtime("cpu", not args.no_progress))
    return {**result, "test_videos": data.info["test_videos"]}, data.test.y.numpy()


def accuracy_row(base, other, labels):
    comparison = stats.compare_matrices(
        other["model"], base["model"], stats.correct_matrix(other, labels),
        stats.correct_matrix(base, labels), stats.groups_of(base["test_videos"]))
    return {"model": base["model"], "seeds": len(base["runs"]),
            "paper_acc": base["test_acc_mean"], "variant_acc": other["test_acc_mean"],
            **{k: comparison[k] for k in ("difference", "low", "high", "p")}}


def codes_640(args, n_clips=12):
    """Resize with vs without anti-aliasing on 640 x 480 frames (synthetic scenes), codes only."""
    from caffe_extract.backends import open_backend
    from caffe_extract.preprocessing import preprocess
    from caffe_extract.synthetic import CLASSES, RADIUS, render_frames
    net = open_backend("caffe", args.weights)
    base, other, pixels = [], [], 0.0
    for k in range(n_clips):
        _, shape, color, _ = CLASSES[k % len(CLASSES)]
        frames = render_frames(10, shape, color, (0.3, 0.5), (0.2, 0.0), radius=RADIUS, seed=k,
                               height=480, width=640)
        x0, x1 = preprocess(frames, anti_aliasing=False), preprocess(frames, anti_aliasing=True)
        pixels = max(pixels, float(np.abs(x0 - x1).max()))
        base.append(net.forward(x0, ("relu7",))["relu7"])
        other.append(net.forward(x1, ("relu7",))["relu7"])
    return {**code_difference(np.stack(base), np.stack(other)), "max_pixel_diff": pixels}


def run(args):
    """Measure every row; returns the ledger (a list of dicts)."""
    from experiment.train import set_deterministic
    set_deterministic()
    baseline = extract_variant(args, "paper")
    trained = {}

    def versus_paper(model, name, store, **knobs):
        """``accuracy_row`` of ``model`` trained on ``store`` with ``knobs`` (run ``name``)."""
        if model not in trained:
            trained[model] = train_variant(args, "paper", baseline, model)
        base, labels = trained[model]
        return accuracy_row(base, train_variant(args, name, store, model, **knobs)[0], labels)

    ledger = []
    code_rows = [("resize: anti-aliasing (today's caffe.io) instead of none", {"anti_aliasing": True}),
                 ("ImageNet mean: per pixel instead of per channel", {"mean": "pixel"}),
                 ("CNN: the PyTorch port instead of pycaffe", {"backend": "torch"})]
    for knob, change in code_rows:
        name = "-".join(f"{k}={v}" for k, v in change.items())
        store = extract_variant(args, name, **change)
        ledger.append({"knob": knob, "codes": compare_stores(baseline, store),
                       "accuracy": versus_paper("rnn", name, store)})
    ledger.append({"knob": "resize at 640x480: anti-aliasing instead of none (codes only)",
                   "codes": codes_640(args), "accuracy": None})
    same, total = frames_identical(args.videos, args.splits, progress=not args.no_progress)
    row = {"knob": "frames: moviepy instead of PyAV", "frames_identical": f"{same}/{total}"}
    if same == total:
        row.update(codes={"max_rel": 0.0, "mean_rel": 0.0, "frames": 10 * total},
                   accuracy="identical (frames bitwise equal on every video)")
    else:
        store = extract_variant(args, "decoder=moviepy", decoder="moviepy")
        row.update(codes=compare_stores(baseline, store),
                   accuracy=versus_paper("rnn", "decoder=moviepy", store))
    ledger.append(row)
    model_rows = [
        # the paper's weeks' code (nntools, March 2015) where the paper's text speaks otherwise
        ("RNN step: nntools' relu(W_ih x_t + b_h) + relu(W_hh h_{t-1}) instead of the paper's "
         "equation", "rnn", {"rnn_step": "nntools"}),
        # what the paper does not say, and the later release or today decides differently
        ("BiRNN backward layer's initial state: 0 instead of learnt", "birnn",
         {"learn_init": False}),
        ("initial values: Lasagne 0.1's (W U(+-0.01)) instead of nntools' (Glorot)", "rnn",
         {"init": "lasagne-0.1"}),
        ("initial values: Lasagne 0.1's (biases 0) instead of nntools' (N(0, 0.1))", "lstm",
         {"init": "lasagne-0.1"}),
        ("loss: mean of per-step cross-entropies instead of the averaged prediction's", "rnn",
         {"loss": "per-step"}),
        ("LSTM output gate: Graves' instead of Lasagne 0.1's", "lstm",
         {"lasagne_output_gate": False}),
        ("ReLU gradient at 0: 0 (torch.relu) instead of 0.5 (rectify)", "rnn",
         {"relu_grad_at_zero": 0.0}),
        ("training precision: float64 instead of float32", "rnn", {"dtype": "float64"}),
    ]
    for knob, model, change in model_rows:
        name = "-".join(f"{k}={v}" for k, v in change.items())
        ledger.append({"knob": knob, "codes": None,
                       "accuracy": versus_paper(model, name, baseline, **change)})
    stats.adjust([row["accuracy"] for row in ledger if isinstance(row["accuracy"], dict)])
    return ledger


def markdown(ledger, args, note):
    lines = ([note, ""] if note else []) + [
        "Each row changes one knob of the `paper` configuration. Codes: over every frame of "
        "split 1's test videos, the relative difference ||a - b|| / ||a|| of the FC7 code "
        "(max / mean). Accuracy: test accuracy (mean over seeds) of the model trained on the "
        "paper's setting and on the variant, the difference variant - paper in points with its "
        "95% interval, p and Holm's p over the rows. " + stats.METHOD, "",
        "| difference | codes: max rel. | codes: mean rel. | model | paper % | variant % "
        "| difference [95% interval] | p (Holm) | larger than noise? |",
        "|---|---|---|---|---|---|---|---|---|"]
    for row in ledger:
        codes = row["codes"]
        cells = [f"{codes['max_rel']:.2e}", f"{codes['mean_rel']:.2e}"] if codes else ["-", "-"]
        acc = row["accuracy"]
        if isinstance(acc, dict):
            noise = "no" if acc["verdict"] == "not shown" else "yes"
            cells += [acc["model"], f"{100 * acc['paper_acc']:.1f}", f"{100 * acc['variant_acc']:.1f}",
                      f"{100 * acc['difference']:+.1f} [{100 * acc['low']:+.1f}, {100 * acc['high']:+.1f}]",
                      f"{acc['p']:.2g} ({acc['p_holm']:.2g})", noise]
        else:
            cells += ["-", "-", "-", acc or "not measured (codes only)", "-", "-"]
        lines.append(f"| {row['knob']} | " + " | ".join(cells) + " |")
    for r in ledger:
        if "max_pixel_diff" in (r["codes"] or {}):
            lines += ["", f"At 640x480 the anti-aliased input differs by up to "
                      f"{r['codes']['max_pixel_diff']:.2f} grey levels ({r['codes']['frames']} frames)."]
        if "frames_identical" in r:
            lines += ["", f"moviepy vs PyAV: frames bitwise identical on {r['frames_identical']} videos."]
    lines += ["", f"Settings: {json.dumps(portable(args), sort_keys=True)}"]
    return "\n".join(lines)


def plot(ledger, path, note=""):
    from experiment.analysis.plots import pyplot, save_figure
    rows = [r for r in ledger if isinstance(r["accuracy"], dict)]
    fig, ax = pyplot().subplots(figsize=(8, 0.5 * len(rows) + 1.8))
    for y, r in enumerate(rows):
        a = r["accuracy"]
        ax.errorbar(100 * a["difference"], y, xerr=[[100 * (a["difference"] - a["low"])],
                                                    [100 * (a["high"] - a["difference"])]],
                    fmt="o", color="C0", capsize=3)
    ax.axvline(0, color="grey", linestyle=":")
    ax.set_yticks(range(len(rows)), [f"{r['knob']} ({r['accuracy']['model']})" for r in rows],
                  fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("test accuracy, variant - paper (points), 95% interval (groups and seeds)")
    save_figure(fig, path, note, 110)


def portable(args):
    """The command's settings as any machine records them: the weights by file name and SHA-1
    (as the stores do), not by the path of the machine that ran it."""
    settings = vars(args)
    if settings.get("weights"):
        settings = {**settings, "weights": f"{os.path.basename(args.weights)} (SHA1 "
                                          f"{file_sha1(args.weights)})"}
    return settings


def main(argv=None):
    from common import cli, commands
    parser = commands.parser("python -m experiment.studies.drift", __doc__)
    parser.add_argument("--videos", required=True, type=cli.existing_dir, help="folder of the class folders of videos")
    parser.add_argument("--splits", required=True, type=cli.existing_dir, help="folder of the split files (1-3)")
    parser.add_argument("--work", default="demo/drift", type=cli.writable_dir, help="stores and runs (cached)")
    parser.add_argument("--out", default="results/drift", type=cli.writable_dir, help="where drift.md/json/png go")
    weights = parser.add_mutually_exclusive_group()
    weights.add_argument("--weights", type=cli.existing_file, help="CaffeNet .caffemodel (default: random weights, seed 0)")
    weights.add_argument("--random-weights", type=cli.seed, default=0, metavar="SEED")
    parser.add_argument("--layer", default="fc7", choices=("fc7", "fc6"))
    parser.add_argument("--workers", type=cli.workers, default=1, help="decoding processes")
    parser.add_argument("--seeds", type=cli.integer(1, 1000), default=TRAINING.seeds)
    parser.add_argument("--hidden", type=cli.integer(1, 16384), default=128)
    parser.add_argument("--lr", type=cli.learning_rate, default=0.003)
    parser.add_argument("--epochs", type=cli.integer(1, 100_000), default=60)
    parser.add_argument("--batch-size", type=cli.integer(1, 1_000_000), default=TRAINING.batch_size)
    parser.add_argument("--val-groups", type=cli.integer(1, 99), default=TRAINING.val_groups)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    if args.weights:
        args.random_weights = None
    args.weights, args.weights_note = resolve_weights(args)
    return commands.guarded(lambda: run_and_write(args), ERRORS + user_errors())


def run_and_write(args):
    """The ledger run, then drift.md, drift.json and drift.png written into ``args.out``."""
    from experiment.analysis.report import banner
    from experiment.train import outputs
    start = time.monotonic()
    with outputs.claimed(args.out, "experiment.studies.drift", {"--work": args.work}), \
            outputs.claimed(args.work, "experiment.studies.drift", option="--work"):  # parts swept
        ledger = run(args)
        note = banner({"weights": args.weights_note or os.path.basename(args.weights),
                       "weights_sha1": file_sha1(args.weights)})
        table = markdown(ledger, args, note)
        write_atomic(os.path.join(args.out, "drift.md"), table + "\n")
        write_atomic(os.path.join(args.out, "drift.json"), json.dumps(
            {"banner": note, "settings": portable(args), "ledger": ledger,
             "elapsed_s": round(time.monotonic() - start, 1)}, indent=1))
        plot(ledger, os.path.join(args.out, "drift.png"), note)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
