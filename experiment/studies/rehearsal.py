"""A rehearsal at UCF-101's scale: every step of `make train` on a store the size of the real one
(docs/performance.md, "Rehearsal at UCF-101's scale").

    python -m experiment.studies.rehearsal [--out rehearsal] [--epochs 2]      # or: make rehearsal

It writes, once, a synthetic store shaped exactly like the real ``all_splits_fc7.h5`` (per
class a sparse non-negative prototype, per video a random strength of it plus noise, through a
ReLU like FC7's, so that the models learn something and the confusion matrix has structure);
runs ``python -m experiment.train`` on it with a short schedule as a child process whose peak
memory is measured; and reports (OUT/rehearsal.md) the store's load time, the peak memory, the
seconds per epoch of each model and the projected full run. The numbers in the results are of
synthetic codes: they say nothing about the paper.
"""
import glob
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

from configurations import TRAINING

#: UCF-101's classInd.txt, in order (label = index; class 37 as the split lists spell it).
UCF101_CLASSES = (
    "ApplyEyeMakeup ApplyLipstick Archery BabyCrawling BalanceBeam BandMarching BaseballPitch "
    "Basketball BasketballDunk BenchPress Biking Billiards BlowDryHair BlowingCandles "
    "BodyWeightSquats Bowling BoxingPunchingBag BoxingSpeedBag BreastStroke BrushingTeeth "
    "CleanAndJerk CliffDiving CricketBowling CricketShot CuttingInKitchen Diving Drumming Fencing "
    "FieldHockeyPenalty FloorGymnastics FrisbeeCatch FrontCrawl GolfSwing Haircut Hammering "
    "HammerThrow HandStandPushups HandstandWalking HeadMassage HighJump HorseRace HorseRiding "
    "HulaHoop IceDancing JavelinThrow JugglingBalls JumpingJack JumpRope Kayaking Knitting "
    "LongJump Lunges MilitaryParade Mixing MoppingFloor Nunchucks ParallelBars PizzaTossing "
    "PlayingCello PlayingDaf PlayingDhol PlayingFlute PlayingGuitar PlayingPiano PlayingSitar "
    "PlayingTabla PlayingViolin PoleVault PommelHorse PullUps Punch PushUps Rafting "
    "RockClimbingIndoor RopeClimbing Rowing SalsaSpin ShavingBeard Shotput SkateBoarding Skiing "
    "Skijet SkyDiving SoccerJuggling SoccerPenalty StillRings SumoWrestling Surfing Swing "
    "TableTennisShot TaiChi TennisSwing ThrowDiscus TrampolineJumping Typing UnevenBars "
    "VolleyballSpiking WalkingWithDog WallPushups WritingOnBoard YoYo").split()
#: Videos per block of groups: the published test lists' sizes (groups 1-7, 8-14, 15-21) and
#: the rest (22-25), so that split K's train list has 13,320 minus its test list's videos.
BLOCKS = (((1, 8), 3_783), ((8, 15), 3_734), ((15, 22), 3_696), ((22, 26), 2_107))
N_VIDEOS, T, D = 13_320, 10, 4096
FULL_RUNS, FULL_EPOCHS = TRAINING.runs(), TRAINING.epochs     # `make train`'s, per model


def layout():
    """(video paths, labels, groups, split membership (N, 3)) in the published sizes: each
    block's videos spread over its groups x classes as evenly as can be (5 or 6 clips)."""
    from caffe_extract.ucf101 import TEST, TRAIN
    videos, labels, groups = [], [], []
    for (first, stop), total in BLOCKS:
        cells = [(g, c) for g in range(first, stop) for c in range(len(UCF101_CLASSES))]
        base, extra = divmod(total, len(cells))
        for i, (g, c) in enumerate(cells):
            name = UCF101_CLASSES[c]
            for clip in range(1, base + (i < extra) + 1):
                videos.append(f"{name}/v_{name}_g{g:02d}_c{clip:02d}.avi")
                labels.append(c)
                groups.append(g)
    groups = np.array(groups)
    membership = np.full((len(videos), 3), TRAIN, np.int8)
    for k in range(3):
        first, stop = BLOCKS[k][0]
        membership[(groups >= first) & (groups < stop), k] = TEST
    return videos, np.array(labels), groups, membership


def synthetic_codes(labels, seed=0, block=512, strength=1.2):
    """Yields (n, T, D) float32 blocks: ReLU(strength_i * prototype_c + noise), prototypes
    sparse (5% of units) and non-negative, one per class; the strength varies per video."""
    rng = np.random.default_rng(seed)
    prototypes = (rng.random((len(UCF101_CLASSES), D)) < 0.05) * rng.exponential(
        2.0, (len(UCF101_CLASSES), D))
    prototypes = prototypes.astype(np.float32)
    for start in range(0, len(labels), block):
        y = labels[start:start + block]
        a = rng.uniform(0.0, strength, (len(y), 1, 1)).astype(np.float32)
        x = rng.standard_normal((len(y), T, D), dtype=np.float32)
        x += a * prototypes[y][:, None, :]
        yield np.maximum(x, 0.0, out=x)


def write_rehearsal_store(path, seed=0):
    """The synthetic all-splits store (skipped when ``path`` exists). Returns seconds taken."""
    from caffe_extract.store import write_store
    if os.path.exists(path):
        return 0.0
    start = time.perf_counter()
    videos, labels, groups, membership = layout()
    assert len(videos) == N_VIDEOS
    records = {"features": list(synthetic_codes(labels, seed)), "labels": labels,
               "video": videos, "group": groups, "split_membership": membership,
               "frame_times": np.tile(np.arange(T, dtype=np.float32) * 0.2, (N_VIDEOS, 1))}
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    write_store(path, records, [], list(UCF101_CLASSES),
                {"weights": "RANDOM weights: SYNTHETIC codes of the UCF-101-scale rehearsal",
                 "layer": "fc7", "config": "paper", "n_videos_listed": N_VIDEOS})
    return time.perf_counter() - start


def load_seconds(features):
    """Seconds to load split 1 as `make train` does (``train.load_data``), in this process."""
    from experiment.train import load_data
    start = time.perf_counter()
    train, val, test, _ = load_data(features, 1)
    return time.perf_counter() - start, (len(train.y), len(val.y), len(test.y))


def epoch_seconds(results):
    """{model: median seconds per epoch} from train_run's timing logs."""
    out = {}
    for path in sorted(glob.glob(os.path.join(results, "logs", "*.seconds.jsonl"))):
        model = os.path.basename(path).split("-")[0]
        with open(path) as f:
            rows = [json.loads(line) for line in f]
        out.setdefault(model, []).extend(r["train_s"] + r["val_s"] + r["checkpoint_s"]
                                         for r in rows)
    return {m: float(np.median(v)) for m, v in out.items()}


def main(argv=None):
    from common import cli, commands
    parser = commands.parser("python -m experiment.studies.rehearsal", __doc__)
    from rnn_models import MODELS
    parser.add_argument("--out", default="rehearsal", type=cli.writable_dir,
                        help="folder (%(default)s)")
    parser.add_argument("--epochs", type=cli.integer(1, 10_000), default=2)
    parser.add_argument("--models", nargs="+", default=["average", "rnn", "lstm", "birnn"],
                        choices=MODELS)
    commands.add_runtime(parser, device="auto", threads=False, progress=False)
    args = parser.parse_args(argv)
    return commands.guarded(lambda: rehearse(args), (OSError, ValueError))


def rehearse(args):
    """``main``'s rehearsal: the store, its load, the training command, the report."""
    from common.files import emit
    features = os.path.join(args.out, "features")
    results = os.path.join(args.out, "results")
    store = os.path.join(features, "all_splits_fc7.h5")
    print(f"== writing the synthetic store {store} (13,320 x 10 x 4096, 2.2 GB)", file=sys.stderr)
    written = write_rehearsal_store(store)
    load, sizes = load_seconds(features)
    print(f"== split 1 loaded in {load:.1f} s: {sizes[0]} train, {sizes[1]} validation, "
          f"{sizes[2]} test", file=sys.stderr)
    command = [sys.executable, "-m", "experiment.train", "--features", features, "--out",
               results, "--models", *args.models, "--lr", "0.001", "--seeds", "1", "--epochs",
               str(args.epochs), "--patience", "0", "--device", args.device, "--no-progress"]
    print("== " + " ".join(command), file=sys.stderr)
    start = time.perf_counter()
    done = subprocess.run(command)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        return done.returncode
    peak_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2 ** 20
    epochs = epoch_seconds(results)
    full_min = sum(FULL_RUNS * FULL_EPOCHS * s for s in epochs.values()) / 60
    lines = ["UCF-101-scale rehearsal (synthetic codes; the accuracies mean nothing)", "",
             "| what | measured |", "|---|---|",
             f"| store written (13,320 x 10 x 4096 float32, {os.path.getsize(store) / 2**30:.2f} "
             f"GiB) | {written:.0f} s{' (already there)' if not written else ''} |",
             f"| split 1 loaded ({sizes[0]:,} train, {sizes[1]:,} validation, {sizes[2]:,} "
             f"test) | {load:.1f} s |",
             f"| peak memory of `python -m experiment.train` | {peak_gb:.2f} GiB |",
             f"| the training command, {len(args.models)} models x {args.epochs} epochs, "
             f"reports included | {wall / 60:.1f} min |"]
    lines += [f"| epoch, {m} (train + validation + checkpoint) | {s:.1f} s |"
              for m, s in epochs.items()]
    lines += ["", f"Projected full run of split 1 (`make train`: {FULL_RUNS} runs x up to "
              f"{FULL_EPOCHS} epochs per model): {full_min:.0f} min.", "",
              f"Outputs in {results}/: table.md, table.tex, per_class.csv, confusion_*.png, "
              "figure7_pca.png, curves.png."]
    emit("\n".join(lines), os.path.join(args.out, "rehearsal.md"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
