"""Train the paper's models on CaffeNet codes; select on validation; test once.

    python -m experiment.train --features features --out results          # or: make train
    python -m experiment.train --splits 1 2 3 --config modern ...
    python -m experiment.train --jobs 4 ...      # the grid's runs, then the seeds', 4 at once

Configuration (``--config``, see ``configurations``): ``paper`` (the default) trains the
models of the paper's equations with the nntools code of its weeks where the text is silent
(Glorot initial values, a learnt initial state of the backward layer, the LSTM's output-gate
quirk, ReLU gradient 0.5 at 0, float32); ``nntools-2015`` and ``lasagne-0.1`` are the two codes
exactly; ``modern`` trains today's variants. The loss is the cross-entropy of the averaged
prediction (``training_loss``; the paper states only the prediction rule). Splits
(``--splits``): each official split is trained and tested on its own (results in
OUT/split{K}/ when there are several) and the table reports each and the mean over splits.

For each model: a grid search over the hyperparameters (``--lr``, ``--hidden``) with seed 0,
selected by validation accuracy; then the chosen setting trained with ``--seeds`` seeds, each
seed's best-validation epoch evaluated once on the test split; mean and standard deviation
reported. The validation split is carved from the train store by whole UCF-101 groups
(``caffe_extract.ucf101.validation_split``), never from the test store.

Optimiser: SGD with Nesterov momentum (momentum 0.9, learning rate searched), ``lasagne.updates.
nesterov_momentum`` as a 2015 Lasagne user called it (the parity tests show the two equal);
minibatches of 64 videos, up to 80 epochs (the paper: >90% train accuracy after 50-80
epochs), stopping early after 25 epochs without a better validation accuracy; the model kept
is the best-validation epoch's. The paper gives no hyperparameters; these are our choices,
all configurable. Learning-rate grid {0.003, 0.001}: on codes of order 1 in 4096 dimensions
one step moves a pre-activation by about lr x |x|^2, and on the demo's codes lr = 0.01 killed
every ReLU unit of the Average model and the bidirectional RNN within an epoch.

Deterministic on the CPU: seeded initialisation, shuffling and dropout; the same command twice
gives the same numbers, and so does ``--jobs N``, which trains the grid's runs and then the
seeds' runs N at once, each in its own process. Runs are checkpointed atomically (a plain
state dict, loadable with ``torch.load(weights_only=True)``) after their last epoch and after
any epoch that ends ``CHECKPOINT_SECONDS`` after the previous save (each LSTM epoch at
UCF-101's size); a killed run resumes from its last checkpoint and ends with the same result as
an uninterrupted one.
"""
import os
import sys

from common import cli, commands, devices
from configurations import TRAINING
from rnn_models import MODELS

from .cluster import protocol_of, run_stage, split_folder
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
                        help="paper (default): the paper's text, and the nntools code of its "
                             "weeks where the text is silent; nntools-2015, lasagne-0.1, modern "
                             "(python -m configurations prints every knob)")
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
                        help="on a cluster (scripts/slurm_train.sh): 'search' trains one grid "
                             "point (seed 0), 'seeds' one seed of the chosen setting, as job-"
                             "array task --task; 'all' (default) does everything and reports, "
                             "reusing every run already done")
    parser.add_argument("--task", type=cli.integer(0, 10_000_000), default=None,
                        help="the job-array task (0-based)")
    parser.add_argument("--count", action="store_true", help="print the number of tasks of "
                        "--stage and exit")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    args.splits = list(dict.fromkeys(args.splits))
    if args.stage != "all":
        return run_stage(args)
    return commands.guarded(lambda: train_and_report(args), ERRORS)


def train_and_report(args):
    """Every split's table (and, for several, the summary over splits); exit status 0."""
    from configurations import get

    from experiment.analysis.report import banner, write_results, write_split_summary
    device = devices.resolve(args.device)
    outputs.claim(args.out, "experiment.train", {"--features": args.features})
    set_deterministic(device, args.fast, args.threads)
    if args.jobs > 1:
        from .parallel import train_in_parallel
        train_in_parallel(args, device)
    era = get(args.config)
    settings = {k: v for k, v in vars(args).items() if k not in RUNTIME}
    settings["device"] = devices.describe(device, args.fast)
    per_split = []
    for split in args.splits:
        out = split_folder(args.out, split, len(args.splits) > 1)
        data = load_data(args.features, split, args.layer, args.val_groups, stream=args.stream)
        note = banner(data.info["attrs"])
        if note:
            print(note, file=sys.stderr)
        os.makedirs(out, exist_ok=True)
        results = []
        for model in args.models:
            print(f"== split {split}, {model} ({era.name}): search lr {args.lr} x hidden "
                  f"{args.hidden}, then {args.seeds} seeds", file=sys.stderr)
            results.append(run_model(model, protocol_of(args), data, out,
                                     Runtime(device, not args.no_progress)))
        finite_history(results)
        print(write_results(out, results, data.info, {**settings, "splits": [split]},
                            data, era))
        per_split.append((split, results, data.info))
    if len(args.splits) > 1:
        print(write_split_summary(args.out, per_split, settings, era))
    return 0
