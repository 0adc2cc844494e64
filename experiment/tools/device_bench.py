"""What one machine does per second, and what that means for the whole job (`make bench DEVICE=`).

    python -m experiment.tools.device_bench --device cuda --out bench/device-cuda.md

Measured on ``--device`` in one run: the CaffeNet port's images/s (batches of 10 and 320
frames), the extraction pipeline's videos/s in steady state (decoding workers -> preprocessing
-> port -> chunk files, on ``--videos`` generated 320x240 XviD videos) and each paper model's
seconds per epoch at split 1's size, timed as ``bench.time_epoch`` times them. Projected: all
13,320 videos' extraction and one split's four-model table as `make train` runs it, against
the goals on one H200-class GPU with 16 cores (docs/hardware.md, "GPUs").
"""
import os
import tempfile
from unittest import mock

import numpy as np
import torch

from caffe_extract.backends import open_backend
from caffe_extract.bench import images_per_second, machine, steady_state
from caffe_extract.jobs import user_errors
from caffe_extract.pipeline import ExtractSettings
from caffe_extract.preprocessing import preprocess
from caffe_extract.random_model import cached_random_caffemodel
from caffe_extract.synthetic import CLASSES, make_dataset, render_frames
from common import cli, commands, devices
from common.files import emit
from common.reproducible import training_threads
from experiment.train import ERRORS, graphs

from .bench import time_epoch
from .workload import EPOCHS, MODELS, RUNS_PER_MODEL, SPLIT1_TRAIN, SPLIT1_TRAIN_LIST, split1_sample

UCF101_VIDEOS = 13_320


def port_rates(caffemodel, device, repeats=5):
    """{batch size: images/s} of the port on ``device``."""
    backend = open_backend("torch", caffemodel, device)
    frames = preprocess(render_frames(10, seed=3))
    return {n: images_per_second(backend, np.concatenate([frames] * (n // 10)), repeats)
            for n in (10, 320)}


def pipeline_rate(caffemodel, device, n_videos, workers, batch_videos):
    """Videos/s of the real pipeline (steady state: after the first chunk; ``steady_state``)."""
    with tempfile.TemporaryDirectory() as root:
        groups = max(8, -(-n_videos // len(CLASSES)))
        make_dataset(root, n_groups=groups, classes=CLASSES)
        config = ExtractSettings(videos=os.path.join(root, "videos"), splits=os.path.join(root, "splits"),
                               out=os.path.join(root, "all.h5"), weights=caffemodel, subset="all",
                               backend="torch", device=device, workers=workers,
                               batch_videos=batch_videos, chunk=batch_videos, progress=False)
        videos, n, wall, _ = steady_state(config, open_backend("torch", caffemodel, device))
    return n / wall, len(videos)


def epoch_seconds(model, device, videos, epoch=1):
    """Seconds per epoch of ``train_run`` at split 1's size, timed on ``videos`` training videos
    after a warm-up epoch, as ``bench.time_epoch`` times them (its epoch ``epoch``)."""
    train, val, scale = split1_sample(videos, device)
    with tempfile.TemporaryDirectory() as out:
        time_epoch(model, train, val, device, out)                       # warm-up
        return time_epoch(model, train, val, device, out, scale, epoch)


def report(args, device):
    ports = port_rates(args.caffemodel, device)
    rate, n = pipeline_rate(args.caffemodel, device, args.videos, args.workers, args.batch_videos)
    extraction_threads = torch.get_num_threads()
    torch.set_num_threads(training_threads())                 # as `make train` runs
    epochs = {m: epoch_seconds(m, device, args.train_videos) for m in MODELS}
    graphed = {}
    if device.startswith("cuda"):           # training through CUDA graphs (``graphs.SWITCH``)
        with mock.patch.dict(os.environ, {graphs.SWITCH: "1"}):
            graphed = {m: epoch_seconds(m, device, args.train_videos, epoch=2) for m in MODELS}
    extraction_min = UCF101_VIDEOS / rate / 60
    table_min = sum(RUNS_PER_MODEL * EPOCHS * s for s in epochs.values()) / 60
    lines = [f"Device: {devices.describe(device)}; {machine()}; extraction: torch on "
             f"{extraction_threads} thread(s), {args.workers} decoding workers, batches of "
             f"{args.batch_videos} videos", "",
             "| what | measured |", "|---|---|",
             f"| CaffeNet port, batch 10 frames | {ports[10]:.0f} images/s |",
             f"| CaffeNet port, batch 320 frames | {ports[320]:.0f} images/s |",
             f"| extraction pipeline ({n} videos, steady state) | {rate:.1f} videos/s |"]
    lines += [f"| training epoch, {m} (split 1 size, hidden 512) | {s:.2f} s"
              + (f"; {graphed[m]:.2f} s with CUDA graphs |" if graphed else " |")
              for m, s in epochs.items()]
    scaled = "" if args.train_videos >= SPLIT1_TRAIN else \
        f" (timed on {args.train_videos} training videos, scaled to {SPLIT1_TRAIN:,})"
    lines += ["", f"Projected: all {UCF101_VIDEOS:,} videos extracted in {extraction_min:.1f} min "
              f"(goal on one H200-class GPU with 16 cores: < 1.5 min); the four-model table of "
              f"one split, {RUNS_PER_MODEL} runs x up to {EPOCHS} epochs per model, one run at a "
              f"time, in {table_min:.1f} min (goal: < 3 min){scaled}."]
    if graphed:
        graphed_min = sum(RUNS_PER_MODEL * EPOCHS * s for s in graphed.values()) / 60
        lines[-1] += f" With CUDA graphs: {graphed_min:.1f} min, one run at a time."
    return "\n".join(lines)


def parser():
    parser = commands.parser("python -m experiment.tools.device_bench", __doc__)
    parser.add_argument("--caffemodel", type=cli.existing_file, help="default: the seeded random-weight CaffeNet")
    parser.add_argument("--videos", type=cli.integer(1, 100_000), default=None,
                        help="generated videos for the pipeline (default: 64 on the CPU, 512 on a GPU)")
    parser.add_argument("--train-videos", type=cli.integer(1, 100_000), default=None,
                        help="training videos per timed epoch, at most split 1's 7,947, and "
                             "validation videos in proportion (default: 1,024 on the CPU, all "
                             "on a GPU)")
    parser.add_argument("--workers", type=cli.integer(1, 256), default=None, help="decoding workers (default: "
                        "all cores but one on a GPU, at most 16; 1 on the CPU)")
    parser.add_argument("--batch-videos", type=cli.integer(1, 1024), default=None)
    parser.add_argument("--out", type=cli.writable_file, help="also write the table to this Markdown file")
    commands.add_runtime(parser, device="auto", threads=False, progress=False)
    return parser


def with_defaults(args, device):
    """``args`` with the defaults for ``device`` filled in (sizes, workers, the CaffeNet)."""
    gpu = device.startswith("cuda")
    args.videos = args.videos or (512 if gpu else 64)
    args.train_videos = args.train_videos or (SPLIT1_TRAIN_LIST if gpu else 1024)
    workers, batch_videos = devices.extraction_defaults(device)
    args.workers = args.workers or workers
    args.batch_videos = args.batch_videos or batch_videos
    if args.caffemodel is None:
        args.caffemodel = cached_random_caffemodel(seed=0)
    return args


def main(argv=None):
    args = parser().parse_args(argv)
    device = devices.resolve(args.device)
    devices.configure(device)
    return commands.guarded(lambda: measure_and_emit(args, device), ERRORS + user_errors())


def measure_and_emit(args, device):
    """``main``'s table, measured, printed and written to ``args.out``."""
    emit(report(with_defaults(args, device), device), args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
