"""Command line: extract CaffeNet codes from UCF-101 videos, merge shards.

    python -m caffe_extract extract --videos data/UCF-101 --splits data/ucfTrainTestlist
    python -m caffe_extract merge --out features/split1_train_fc7.h5 features/split1_train_fc7.h5.shard*
"""
import argparse
import contextlib
import os
import sys

from common import cli, commands
from configurations import CONFIGS

from .weights import add_weights_arguments, resolve_weights

MAX_SHARDS = 100_000
DESCRIPTION = """\
Extract CaffeNet codes of UCF-101 videos, as Giel & Diaz (2015) did: 10 frames evenly over the
first 2 seconds of each video, each whole frame resized to 227x227 with caffe.io's
preprocessing, through BVLC CaffeNet, keeping FC7 (post-ReLU; --layer fc6 for FC6). By default
every video of the three official splits is extracted once into OUT_DIR/all_splits_{layer}.h5,
which records each video's role in splits 1-3 (training applies the split lists); --split K
writes the older per-split stores OUT_DIR/split{K}_{train,test}_{layer}.h5 instead. --stream
flow and --views oversample write stores of their own beside these (docs/data.md: "The feature
store", "The motion stream"). Resumable: rerun the same command after a crash or kill and it
continues where it stopped. On a cluster, run one --shard i/n per job and `merge` the shard
files; on one machine, --jobs N does both (N shards at once, then the merge: the same store)."""


def parse_shard(text):
    try:
        i, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--shard takes i/n, e.g. 0/4, not {text!r}") from None
    if not 0 <= i < n <= MAX_SHARDS:
        raise argparse.ArgumentTypeError(f"--shard i/n needs 0 <= i < n <= {MAX_SHARDS}, got {text}")
    return i, n


def build_parser():
    parser = commands.parser("python -m caffe_extract", DESCRIPTION)
    subcommands = parser.add_subparsers(dest="command", required=True)
    ex = subcommands.add_parser("extract", help="videos -> codes (resumable)", description=DESCRIPTION,
                             formatter_class=argparse.RawDescriptionHelpFormatter)
    ex.add_argument("--videos", required=True, type=cli.existing_dir, help="folder holding the class folders of .avi files")
    ex.add_argument("--splits", required=True, type=cli.existing_dir,
                    help="folder holding classInd.txt, trainlist0K.txt, testlist0K.txt")
    ex.add_argument("--split", choices=("all", "1", "2", "3"),
                    help="all: one store of every video of splits 1-3 (the default); K: split "
                         "K's lists only, one store per subset")
    ex.add_argument("--subset", choices=("train", "test", "both"),
                    help="per-split stores of split K (--split, default 1): which list(s)")
    ex.add_argument("--config", default="paper", choices=tuple(CONFIGS),
                    help="the configuration's preprocessing: 2015's caffe.io (paper, the "
                         "default; nntools-2015, lasagne-0.1) or modern (anti-aliased resize)")
    ex.add_argument("--layer", default="fc7", choices=("fc7", "fc6", "pool5"),
                    help="fc7 (the paper's, %(default)s), fc6, or pool5: fc6's input, 9216 "
                         "values per frame, for fine-tuning fc6/fc7 (experiment.future.finetune)")
    ex.add_argument("--stream", default="rgb", choices=("rgb", "flow"),
                    help="rgb: the sampled frames (the paper's, %(default)s); flow: their "
                         "optical flow to the next frame, into ..._{layer}_flow.h5")
    ex.add_argument("--views", default=None, choices=("oversample",),
                    help="oversample: each frame's 10 views (caffe.Classifier's crops and "
                         "mirrors) into ..._{layer}_oversample.h5 (default: the whole frame)")
    ex.add_argument("--store-dtype", default="float32", choices=("float32", "float16"),
                    help="a views store's features: float32 (%(default)s) or float16 (half "
                         "the disk; training reads them back as float32)")
    ex.add_argument("--out-dir", default="features", type=cli.writable_dir, help="where the stores go (%(default)s)")
    add_weights_arguments(ex)
    ex.add_argument("--backend", default="caffe", choices=("caffe", "torch"),
                    help="caffe: real pycaffe on the CPU (the reference); torch: the PyTorch port")
    ex.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                    help="torch backend: auto = CUDA when available (%(default)s); the caffe "
                         "backend runs on the CPU")
    ex.add_argument("--fast", action="store_true",
                    help="torch backend on a GPU: allow TF32 (faster, not exact float32; the "
                         "store says so)")
    ex.add_argument("--workers", type=cli.workers, default=None,
                    help="decoding processes (default: 1 on the CPU; on a GPU all cores but one, "
                         "at most 16, so that decoding keeps up with the GPU)")
    ex.add_argument("--batch-videos", type=cli.integer(1, 1024), default=None,
                    help="videos per CNN batch (default: 4 on the CPU, 32 on a GPU)")
    ex.add_argument("--chunk", type=cli.integer(1, 100_000), default=32,
                    help="videos per resumable chunk: a kill loses at most one chunk (%(default)s)")
    ex.add_argument("--shard", type=parse_shard, default=(0, 1), metavar="I/N",
                    help="process chunks I, I+N, ... only; then `merge` (default 0/1: all)")
    ex.add_argument("--jobs", type=cli.integer(1, 256), default=1,
                    help="CPU: run JOBS shards at once (--shard i/JOBS, one network thread "
                         "each), then merge them into the store one run writes (default: 1)")
    ex.add_argument("--no-progress", action="store_true", help="no progress bar")
    mg = subcommands.add_parser("merge", help="join shard stores into one store")
    mg.add_argument("--out", required=True, type=cli.writable_file, help="the merged store to write")
    mg.add_argument("shards", nargs="+", type=cli.existing_file, help="the shard stores (…h5.shard0of4, …)")
    return parser


def main(argv=None):
    from .jobs import user_errors
    args = build_parser().parse_args(argv)
    return commands.guarded(lambda: run(args), user_errors())


def run(args):
    from .pipeline import extract, merge, summarize
    if args.command == "merge":
        print(merge(args.shards, args.out))
        return 0
    if args.jobs > 1:
        return run_jobs(args)
    weights, note = resolve_weights(args)
    if note:
        print(f"*** {note} ***", file=sys.stderr)
    for config in extract_configs(args, weights, note):
        path, failures, damaged = extract(config)
        summarize(failures, damaged)
        print(path)
    return 0


def store_paths(args):
    """[(subset, split, path)] of the stores this command writes (``args.split`` resolved)."""
    from .store import store_name
    if args.split is None:
        args.split = "all" if args.subset is None else "1"
    if args.split == "all" and args.subset is not None:
        raise ValueError("--subset needs --split K (--split all stores every video)")
    if args.split == "all":   # the folder is made once the inputs are checked (extract's lock)
        return [("all", 1, os.path.join(args.out_dir, store_name(args.layer, args.stream,
                                                                 views=args.views)))]
    subsets = ("train", "test") if args.subset in (None, "both") else (args.subset,)
    return [(subset, int(args.split),
             os.path.join(args.out_dir, store_name(args.layer, args.stream, args.split, subset,
                                                   args.views)))
            for subset in subsets]


def run_jobs(args):
    """``--jobs N``: the N shards of each store at once (``--shard i/N`` each, one network thread
    each), then ``merge`` of each store's shards (the shard files removed): every bit kept
    (README, "Bit for bit"). A killed run resumes: the shards resume their chunks, then merge."""
    from common.processes import Task, run_all
    from .jobs import extract_shard, video_bar
    from .pipeline import Extraction, check_views, finished, kept_note, merge, shard_path, summarize
    if args.shard != (0, 1):
        raise ValueError("--jobs runs the shards itself: give --jobs or --shard, not both")
    if args.backend == "torch" and args.device != "cpu":
        raise ValueError("--jobs is for extraction on the CPU: with --backend torch add "
                         "--device cpu (a GPU runs one process)")
    n = args.jobs
    check_views(args.views, args.store_dtype, args.stream)   # said once, before any shard starts
    stores = [path for _, _, path in store_paths(args)]
    weights, note = resolve_weights(args)   # a missing file said once; the random model made once
    configs = extract_configs(args, weights, note, (0, 1))
    kept = [finished(config) for config in configs]
    if all(kept):                           # every store done before: nothing to start
        for path, failures, damaged in kept:
            print(kept_note(path), file=sys.stderr)
            summarize(failures, damaged)
            print(path)
        return 0
    if note:
        print(f"*** {note} ***", file=sys.stderr)
    # the split lists read once, before any shard starts (and the videos for the progress bar)
    extractions = [Extraction(config) for config in configs]
    n_videos = sum(len(extraction.videos) for extraction in extractions)
    with contextlib.ExitStack() as held:      # each store's lock, as one process holds it: a
        for extraction in extractions:         # plain run or another --jobs N is refused
            held.enter_context(extraction.lock())
        print(f"extracting in {n} processes at once (shards 0/{n} .. {n - 1}/{n}), then merging",
              file=sys.stderr)
        args.no_progress, progress = True, not args.no_progress     # no bar per shard: one here
        tasks = [Task(f"{i}/{n}", extract_shard, (extract_configs(args, weights, note, (i, n)),))
                 for i in range(n)]
        parts = [shard_path(path, (i, n)) + ".parts" for path in stores for i in range(n)]
        with video_bar(parts, n_videos, args.chunk, progress) as bar:
            results = run_all(tasks, n, threads=1, desc="shards", progress=False,
                              rerun_hint="rerun the same command to resume")
            failed = {name: error for name, (_, error) in results.items() if error is not None}
            if not failed:
                bar.update(n_videos - bar.n)
        if failed:
            raise RuntimeError(f"shard(s) {', '.join(failed)} failed ("
                               + "; ".join(f"{name}: {error}" for name, error in failed.items())
                               + "); rerun the same command to resume")
        for k, path in enumerate(stores):
            shards = [shard_path(path, (i, n)) for i in range(n)]
            print(merge(shards, path))
            for shard in shards:
                os.remove(shard)
            done = [results[f"{i}/{n}"][0][k] for i in range(n)]   # (path, failures, damaged)
            summarize(sorted(item for _, failures, _ in done for item in failures),
                      sorted(item for _, _, damaged in done for item in damaged))
    return 0


def extract_configs(args, weights, note, shard=None):
    """The ``ExtractSettings`` of each store this command writes (``shard``: instead of
    ``args.shard``)."""
    from common import devices
    from .pipeline import ExtractSettings
    import configurations as configs
    device = "cpu" if args.backend == "caffe" and args.device == "auto" else devices.resolve(args.device)
    default_workers, default_batch = devices.extraction_defaults(device)
    era = configs.get(args.config)
    return [ExtractSettings(videos=args.videos, splits=args.splits, out=out, weights=weights,
                          subset=subset, split=split, layer=args.layer, stream=args.stream,
                          views=args.views, store_dtype=args.store_dtype,
                          backend=args.backend, device=device, fast=args.fast,
                          workers=args.workers if args.workers is not None else default_workers,
                          batch_videos=args.batch_videos or default_batch,
                          chunk=args.chunk, shard=shard or args.shard,
                          weights_note=note, progress=not args.no_progress,
                          config=era.name, **era.extraction())
            for subset, split, out in store_paths(args)]


if __name__ == "__main__":
    sys.exit(main())
