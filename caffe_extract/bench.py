"""Benchmarks, each measured as ratios within one run (docs/performance.md):

    python -m caffe_extract.bench [--caffemodel PATH] [--repeats 5]     # or: make bench
    python -m caffe_extract.bench --pipeline [--videos 40]

Default: CaffeNet images/s, real pycaffe vs the PyTorch port, on the same preprocessed frames
to ``relu7`` (the codes), batch sizes 1 and 10, on the CPU (and CUDA where PyTorch sees a GPU);
the median of ``--repeats`` timed runs after one warm-up run. ``--pipeline``: end-to-end
videos/s of the extraction pipeline on generated UCF-101-like videos, against its bound (the
network's forward alone on the same frames and batches) and the naive way (moviepy
``get_frame`` per frame, caffe.io's Transformer, one pycaffe forward per image).

Without ``--caffemodel`` both use the seeded random-weight CaffeNet (same arithmetic, same
speed as the real weights).
"""
import contextlib
import multiprocessing
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import replace

import numpy as np
import torch

from common import cli, commands, cpu, pinned, reproducible
from common.files import emit
from common.processes import Task, run_all
from .backends import open_backend
from .frames import read_frames, sample_times, video_file_clip
from .jobs import user_errors
from .paths import DEPLOY_PROTOTXT, MEAN_FILE
from .pipeline import Extraction, ExtractSettings, run_chunks, saved_chunks, shard_path
from .preprocessing import preprocess
from .pycaffe import import_caffe
from .random_model import cached_random_caffemodel
from .store import store_name
from .synthetic import CLASSES, make_dataset, render_frames


def images_per_second(backend, batch, repeats):
    backend.forward(batch)  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        backend.forward(batch)
        if getattr(backend, "device", None) is not None and backend.device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return len(batch) / statistics.median(times)


def run(caffemodel, repeats=5, batch_sizes=(1, 10)):
    """Rows (backend, device, batch size, images/s)."""
    batch = preprocess(render_frames(10, seed=3))
    configs = [("caffe", "cpu"), ("torch", "cpu")]
    if torch.cuda.is_available():
        configs.append(("torch", "cuda"))
    rows = []
    for name, device in configs:
        try:
            backend = open_backend(name, caffemodel, device)
        except ImportError as error:  # pycaffe not built: say so in the table
            print(f"skipping {name}: {error}", file=sys.stderr)
            continue
        for n in batch_sizes:
            rows.append((name, device, n, images_per_second(backend, batch[:n], repeats)))
    return rows


def table(rows):
    caffe = {n: ips for name, _, n, ips in rows if name == "caffe"}
    lines = ["| backend | device | batch | images/s | vs pycaffe |", "|---|---|---|---|---|"]
    for name, device, n, ips in rows:
        ratio = f"{ips / caffe[n]:.2f}x" if n in caffe else "-"
        lines.append(f"| {name} | {device} | {n} | {ips:.1f} | {ratio} |")
    return "\n".join(lines)


def pipeline_rows(caffemodel, n_videos, workers, batch_videos, chunk=8, jobs=1):
    """(what, videos/s) for the pipeline, its bound and the naive way, on the same videos; with
    ``jobs`` > 1 also ``extract --jobs``'s shards at once and their bound (that many forwards
    alone at once: the machine's limit when each network has one thread).

    The pipeline's rate is its steady state: videos after the first chunk divided by the time
    from the first chunk's end to the last's (start-up, a one-time cost, is left out).
    """
    with tempfile.TemporaryDirectory() as root:
        make_dataset(root, n_groups=7 + -(-n_videos // len(CLASSES)), classes=CLASSES)
        config = ExtractSettings(videos=os.path.join(root, "videos"),
                               splits=os.path.join(root, "splits"),
                               out=os.path.join(root, "train.h5"), weights=caffemodel,
                               subset="train", backend="caffe", workers=workers,
                               batch_videos=batch_videos, chunk=chunk, progress=False)
        rows = []
        for name, label in (("caffe", "pycaffe"), ("torch", "PyTorch port")):
            config.backend, config.out = name, os.path.join(root, f"{name}.h5")
            backend = open_backend(name, caffemodel)
            videos, n, wall, _ = steady_state(config, backend)
            paths = [os.path.join(root, "videos", v.path) for v in videos]
            rows += [(f"pipeline, {label} backend (steady state)", n / wall),
                     (f"bound: {label} forward alone, same batches",
                      forward_rate(backend, paths, batch_videos))]
        around = [around_the_network(config, w) for w in sorted({1, workers})]
        caffe = import_caffe()
        VideoFileClip = video_file_clip()
        net = caffe.Net(str(DEPLOY_PROTOTXT), caffemodel, caffe.TEST)
        transformer = caffe.io.Transformer({"data": (1, 3, 227, 227)})
        transformer.set_transpose("data", (2, 0, 1))
        transformer.set_channel_swap("data", (2, 1, 0))
        transformer.set_raw_scale("data", 255.0)
        transformer.set_mean("data", np.load(MEAN_FILE).mean(1).mean(1))
        net.blobs["data"].reshape(1, 3, 227, 227)
        naive_videos = paths[:max(4, len(paths) // 4)]  # it is slow: time a quarter of the videos
        start = time.perf_counter()
        for path in naive_videos:
            clip = VideoFileClip(path, audio=False)
            for t in sample_times(clip.duration, fps=clip.fps):
                image = clip.get_frame(t).astype(np.float32) / 255.0
                net.blobs["data"].data[...] = transformer.preprocess("data", image)
                net.forward(end="relu7")
            clip.close()
        rows.append(("naive: moviepy get_frame + caffe.io + pycaffe forward per image",
                     len(naive_videos) / (time.perf_counter() - start)))
        if jobs > 1:
            rows += [(f"pipeline, pycaffe backend, --jobs {jobs} (steady state)",
                      jobs_rate(root, caffemodel, jobs, workers, batch_videos, chunk)),
                     (f"bound: {jobs} pycaffe forwards alone at once, same batches",
                      concurrent_forward_rate(caffemodel, paths, jobs, batch_videos))]
    return rows, around


class Instant:
    """A network that answers at once (zero FC7 codes): what the pipeline costs around it."""

    provenance = {"backend": "instant", "weights_sha1": "0" * 40}

    def forward(self, images, blobs):
        return {blob: np.zeros((len(images), 4096), np.float32) for blob in blobs}


def steady_state(config, backend):
    """Run ``config``'s extraction through ``backend``, timed in steady state (from the first
    chunk's end to the last's): (its videos, the videos timed, wall seconds, this process's CPU
    seconds)."""
    extraction = Extraction(config)
    extraction.prepare_parts(backend.provenance["weights_sha1"])
    stamps = []
    run_chunks(extraction, backend, on_chunk=lambda k, n: stamps.append(
        (time.perf_counter(), time.process_time(), n)))
    (wall0, cpu0, _), (wall1, cpu1, _) = stamps[0], stamps[-1]
    return extraction.videos, sum(n for _, _, n in stamps[1:]), wall1 - wall0, cpu1 - cpu0


def around_the_network(config, workers):
    """(workers, the main process's CPU ms per video, videos/s, videos/s per worker) of the
    pipeline with a network that answers at once (``Instant``), in steady state: the main
    process's own cost (receiving, batching, checking, saving) and the workers' rate."""
    config = replace(config, workers=workers, out=config.out + f".instant-{workers}")
    _, n, wall, cpu = steady_state(config, Instant())
    return workers, 1000 * cpu / n, n / wall, n / wall / workers


def jobs_rate(root, caffemodel, jobs, workers, batch_videos, chunk):
    """Videos/s of ``extract --jobs`` in steady state, the shards' rates summed: the command
    runs as a user runs it while a thread times its shards' chunk files as they appear."""
    from .__main__ import main as extract_main
    out_dir = os.path.join(root, "jobs")
    store = os.path.join(out_dir, store_name("fc7", split=1, subset="train"))   # as --split 1
    parts = [shard_path(store, (i, jobs)) + ".parts" for i in range(jobs)]     # --subset train
    seen, finished = [{} for _ in range(jobs)], threading.Event()     # chunk file -> first seen

    def follow():
        while not finished.wait(0.05):
            now = time.perf_counter()
            for stamps, folder in zip(seen, parts):
                for name in saved_chunks(folder):
                    stamps.setdefault(name, now)

    watcher = threading.Thread(target=follow, daemon=True)
    watcher.start()
    try:
        with contextlib.redirect_stdout(sys.stderr):
            status = extract_main(
                ["extract", "--videos", os.path.join(root, "videos"), "--splits",
                 os.path.join(root, "splits"), "--split", "1", "--subset", "train", "--weights",
                 caffemodel, "--backend", "caffe", "--workers", str(workers), "--batch-videos",
                 str(batch_videos), "--chunk", str(chunk), "--out-dir", out_dir, "--no-progress",
                 "--jobs", str(jobs)])
    finally:
        finished.set()
        watcher.join()
    if status:
        raise RuntimeError("the --jobs benchmark's extraction failed")
    times = [sorted(stamps.values()) for stamps in seen]
    return sum(chunk * (len(t) - 1) / (t[-1] - t[0]) for t in times if len(t) > 1)


def forward_rate(backend, paths, batch_videos, barrier=None):
    """The bound: videos/s of the network alone on the videos' frames in the pipeline's
    batches, decoded and preprocessed first (then, with ``barrier``, waiting for the others)."""
    batches = [preprocess(np.concatenate([read_frames(p) for p in paths[i:i + batch_videos]]),
                          resize="torch") for i in range(0, len(paths), batch_videos)]
    if barrier is not None:
        barrier.wait()
    start = time.perf_counter()
    for batch in batches:
        backend.forward(batch, ("relu7",))
    return len(paths) / (time.perf_counter() - start)


def _forward_alone(caffemodel, paths, batch_videos, barrier):
    """One process of ``concurrent_forward_rate``: ``forward_rate`` of pycaffe."""
    return forward_rate(open_backend("caffe", caffemodel), paths, batch_videos, barrier)


def concurrent_forward_rate(caffemodel, paths, jobs, batch_videos):
    """The bound of ``--jobs``: ``jobs`` processes running pycaffe's forward alone at once (one
    thread each, as the shards), each on the same videos; their rates summed."""
    with multiprocessing.get_context("spawn").Manager() as manager:
        barrier = manager.Barrier(jobs)
        tasks = [Task(f"{i}", _forward_alone, (caffemodel, paths, batch_videos, barrier))
                 for i in range(jobs)]
        return sum(run_all(tasks, jobs, desc="forwards", progress=False).values())


def pipeline_table(rows, around):
    caffe, caffe_bound, port, port_bound, naive = (v for _, v in rows[:5])
    lines = ["| what | videos/s |", "|---|---|"] + [f"| {w} | {v:.2f} |" for w, v in rows]
    lines += ["", f"pycaffe pipeline: {caffe / caffe_bound:.2f}x its bound, {caffe / naive:.2f}x naive",
              f"PyTorch-port pipeline: {port / port_bound:.2f}x its bound, {port / naive:.2f}x naive"]
    if len(rows) > 5:                                       # --jobs and its bound
        jobs, jobs_bound = rows[5][1], rows[6][1]
        lines.append(f"pycaffe pipeline with --jobs: {jobs / jobs_bound:.2f}x its bound, "
                     f"{jobs / caffe:.2f}x one process")
    lines += ["", "With a network that answers at once (the pipeline's own cost):", "",
              "| decoding workers | main process CPU ms / video | videos/s | videos/s per worker |",
              "|---|---|---|---|"]
    lines += [f"| {w} | {ms:.2f} | {rate:.2f} | {each:.2f} |" for w, ms, rate, each in around]
    return "\n".join(lines)


def main(argv=None):
    parser = commands.parser("python -m caffe_extract.bench", __doc__)
    parser.add_argument("--caffemodel", type=cli.existing_file, help="a CaffeNet .caffemodel (default: seeded random weights)")
    parser.add_argument("--repeats", type=cli.integer(1, 1000), default=5)
    parser.add_argument("--out", type=cli.writable_file, help="also write the table to this Markdown file")
    parser.add_argument("--pipeline", action="store_true", help="benchmark the extraction pipeline")
    parser.add_argument("--videos", type=cli.integer(1, 100_000), default=40,
                        help="--pipeline: at least how many videos are timed (whole groups of 8 "
                             "classes; 64 at the default, where the test groups are a third)")
    parser.add_argument("--workers", type=cli.workers, default=1, help="--pipeline: decoding processes")
    parser.add_argument("--jobs", type=cli.integer(1, 256), default=None,
                        help="--pipeline: also time `extract --jobs JOBS` (default: one per core)")
    parser.add_argument("--modes", nargs="+", choices=pinned.MODES, default=None,
                        help="--pipeline: time it in these kernel modes, each in a process of its "
                             "own started with that mode's environment; fast's table goes to "
                             "OUT-fast.md (default: this process's mode, to OUT)")
    args = parser.parse_args(argv)
    if args.modes and not args.pipeline:
        parser.error("--modes: with --pipeline")
    return commands.guarded(lambda: measure_and_emit(args), user_errors())


def measure_and_emit(args):
    """``main``'s tables, measured, printed and written to ``args.out``."""
    if args.caffemodel is None:
        args.caffemodel = cached_random_caffemodel(seed=0)
    if args.modes:
        for mode, text in in_modes(args.modes, pipeline_report, args).items():
            emit(text, args.out and mode_path(args.out, mode))
    elif args.pipeline:
        emit(pipeline_report(args), args.out)
    else:
        rows = run(args.caffemodel, args.repeats)
        emit(f"CaffeNet forward to relu7, median of {args.repeats} runs; {machine()}\n\n"
             + table(rows), args.out)
    return 0


def pipeline_report(args):
    """``--pipeline``'s text: the machine, the pipeline's rates, the pipeline around an
    instant network."""
    return (f"Extraction pipeline, {args.workers} decoding worker(s) per process, the network "
            f"on one thread; {machine()}\n\n"
            + pipeline_table(*pipeline_rows(args.caffemodel, args.videos, args.workers, 4,
                                            jobs=args.jobs or reproducible.available_cores())))


def in_modes(modes, function, *args):
    """{mode: function(*args)}, each mode's in a process of its own (``common.processes``)
    started with that mode's environment (``common.pinned.mode_environment``), one after the
    other: the benches' pinned and fast kernels side by side in one run."""
    out = {}
    for mode in modes:
        print(f"==> {mode} kernels", file=sys.stderr)
        out[mode] = run_all([Task(mode, function, args)], 1, desc=f"{mode} kernels",
                            progress=False, env=pinned.mode_environment(mode, os.environ))[mode]
    return out


def mode_path(path, mode):
    """Where ``mode``'s table goes: ``path``, with ``-fast`` before its extension for fast."""
    root, ext = os.path.splitext(path)
    return path if mode == "pinned" else f"{root}-{mode}{ext}"


def machine():
    """What the numbers were measured on: the CPU, its cores, torch, the kernels' mode."""
    ident, isa = cpu.identity(), "AVX-512" if cpu.has_avx512() else "AVX2"
    return (f"{ident['vendor']} {ident['model'] or platform.machine()} ({isa}), "
            f"{os.cpu_count()} CPUs, torch {torch.__version__} ({torch.get_num_threads()} "
            f"threads), kernels {reproducible.mode()}")


if __name__ == "__main__":
    sys.exit(main())
