"""Train the paper's models on CaffeNet codes; select on validation; test once.

    python -m experiment.train --features features --out results          # or: make train
    python -m experiment.train --splits 1 2 3 --config modern ...
    python -m experiment.train --jobs 4 ...      # the grid's runs, then the seeds', 4 at once

For each model and split (``--splits``; OUT/split{K}/ when there are several): a grid search
(``--lr`` x ``--hidden``) with seed 0, selected by validation accuracy on whole UCF-101 groups
carved from the train list (never the test list); the chosen setting trained with ``--seeds``
seeds, each seed's best-validation epoch tested once; mean and standard deviation reported.
SGD with Nesterov momentum, early stopping (``--patience``); ``--config`` picks the models'
variants and precision (``python -m configurations`` prints every knob). The same numbers with
any ``--jobs`` or ``--threads``; runs are checkpointed, and a killed run resumes to the same
result. The protocol, the optimiser's settings and why they were chosen: docs/training.md.
"""
import os
import sys

from common import cli, commands, devices
from configurations import TRAINING, get
from rnn_models import MODELS

from .cluster import (check_before_training, protocol_of, run_stage, split_folder,
                      train_in_parallel)
from .data import features_dir, load_data
from . import outputs
from .loop import ERRORS, set_deterministic
from .protocol import Runtime, finite_history, run_model
from .settings import PAPER_MODELS

#: Options that change how fast, never what: left out of the tables' settings.
RUNTIME = ("no_progress", "stage", "task", "count", "threads", "jobs")


def build_parser():
    from configurations import CONFIGS, DEFAULT
    parser = commands.parser("python -m experiment.train", __doc__)
    parser.add_argument("--features", default="features", type=features_dir,
                        help="folder of the HDF5 stores (%(default)s)")
    parser.add_argument("--config", default=DEFAULT, choices=sorted(CONFIGS),
                        help="paper (default): the paper's text, and its weeks' nntools code "
                             "where it is silent (python -m configurations prints every knob)")
    parser.add_argument("--splits", nargs="+", type=int, default=[TRAINING.split], choices=(1, 2, 3),
                        help="official splits to train and test on, each on its own (%(default)s)")
    parser.add_argument("--layer", default="fc7", choices=("fc7", "fc6"))
    parser.add_argument("--stream", default="rgb", choices=("rgb", "flow"),
                        help="the frames' codes (%(default)s) or the optical flow's (the motion "
                             "stream: `caffe_extract extract --stream flow`)")
    parser.add_argument("--out", default="results", type=cli.writable_dir,
                        help="results folder (%(default)s)")
    parser.add_argument("--models", nargs="+", default=list(PAPER_MODELS), choices=MODELS,
                        metavar="MODEL",
                        help="models to train (%(default)s; also bilstm, rnn2, tconv)")
    grid = commands.add_grid(parser, lr=TRAINING.lrs, hidden=TRAINING.hidden,
                             seeds=TRAINING.seeds, epochs=TRAINING.epochs,
                             patience=TRAINING.patience)
    grid.add_argument("--batch-size", type=cli.integer(1, 1_000_000), default=TRAINING.batch_size)
    grid.add_argument("--momentum", type=cli.fraction, default=TRAINING.momentum)
    grid.add_argument("--dropout", type=cli.fraction, default=TRAINING.dropout,
                      help="the Average model's")
    grid.add_argument("--val-groups", type=cli.integer(1, 99), default=TRAINING.val_groups,
                      help="groups held out for validation")
    commands.add_runtime(parser, device="auto")
    parser.add_argument("--fast", action="store_true",
                        help="allow TF32 on the GPU (faster, not exact float32; tables say so)")
    commands.add_jobs(parser, "runs trained")
    parser.add_argument("--stage", choices=("all", "search", "seeds"), default="all",
                        help="on a cluster (scripts/slurm_train.sh): job-array task --task trains "
                             "one grid point (search) or one seed (seeds); all (default): "
                             "everything, reusing the runs done, and the report")
    parser.add_argument("--task", type=cli.integer(0, 10_000_000), default=None,
                        help="the job-array task (0-based)")
    parser.add_argument("--count", action="store_true", help="print --stage's task count and exit")
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.stage == "all" and (args.count or args.task is not None):
        parser.error(f"{'--count' if args.count else '--task'} is for a cluster's job-array "
                     "tasks: give it with --stage search or --stage seeds")
    args.splits, args.models = list(dict.fromkeys(args.splits)), list(dict.fromkeys(args.models))
    if args.stage != "all":
        return run_stage(args)
    return commands.guarded(lambda: train_and_report(args), ERRORS)


def train_and_report(args):
    """Every split's table (and, for several, the summary over splits); exit status 0."""
    from experiment.analysis.report import write_split_summary
    device = devices.resolve(args.device)
    settings = {k: v for k, v in vars(args).items() if k not in RUNTIME}
    set_deterministic(device, args.fast, args.threads)
    with outputs.claimed(args.out, "experiment.train", {"--features": args.features}):
        check_before_training(args)            # with --out held: no table replaced meanwhile
        if args.jobs > 1:
            train_in_parallel(args, device)
        settings["device"] = devices.describe(device, args.fast)
        per_split = [train_split(args, split, settings, device) for split in args.splits]
        if len(args.splits) > 1:
            print(write_split_summary(args.out, per_split, settings, get(args.config)))
    return 0


def train_split(args, split, settings, device):
    """One split's table written and printed (its runs trained, or read back where they are
    done); returns (split, results, info) for the summary over splits."""
    from experiment.analysis.report import banner, write_results
    out = split_folder(args.out, split, len(args.splits) > 1)
    data = load_data(args.features, split, args.layer, args.val_groups, stream=args.stream)
    note = banner(data.info["attrs"])
    if note:
        print(note, file=sys.stderr)
    os.makedirs(out, exist_ok=True)
    results = []
    for model in args.models:
        print(f"== split {split}, {model} ({args.config}): search lr {args.lr} x hidden "
              f"{args.hidden}, then {args.seeds} seeds", file=sys.stderr)
        results.append(run_model(model, protocol_of(args), data, out,
                                 Runtime(device, not args.no_progress)))
    finite_history(results)
    print(write_results(out, results, data.info, {**settings, "splits": [split]}, data,
                        get(args.config)))
    return split, results, data.info
