"""Training on the ten views of each frame (issue 24: augmentation at extraction).

    python -m experiment.future.augment --features demo/features-paper --out results/demo-crops \\
        --model rnn --hidden 128 --lr 0.003 --epochs 100 --patience 0 --seeds 3

The codes come from a views store (``caffe_extract extract --views oversample``): V = 10 views
of each frame, x (N, V, T, D) (``caffe_extract.views``: 4 corners, centre, their mirrors).
Training draws one view per video per epoch,

    v_n(s, e) ~ Uniform{0, .., V - 1},   from numpy's SeedSequence((s, e)) (run seed s, epoch e)

so an epoch sees x[n, v_n] (N, T, D); the draw depends on (s, e) alone, so a killed run resumes
to the same result with no random state in the checkpoint. Validation uses the centre view
(v = 4). Each test run is reported twice, in the format of ``experiment.train.run_model``:

    "MODEL+crops (centre)":     p_n = (1/T) sum_t P_t[n]  on the centre view
    "MODEL+crops (mean of 10)": p_n = (1/V) sum_v (1/T) sum_t P_t^(v)[n]
                                (caffe.Classifier.predict(oversample=True)'s mean over crops)

predicted label argmax_c p_n[c]. Runs go to OUT/oversample/ (apart from the plain runs').
"""
import os
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch

from caffe_extract.views import CENTRE, NAMES
from common import cli, commands
from configurations import TRAINING, get
from rnn_models import MODELS

from experiment.train import (Protocol, Runtime, RunSettings, Split, evaluate, load_data,
                              search_then_seeds, searched, summary, tested_run)
from experiment.train.stores import check_configuration, check_together, store_paths

from . import command

VIEWS = "oversample"


def draw_views(n, n_views, seed, epoch):
    """The view v_n (n,) int64 of each of ``n`` videos in ``epoch`` of the run seeded ``seed``:
    uniform over 0 .. n_views - 1, a function of (seed, epoch) only."""
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence((seed, epoch))))
    return torch.from_numpy(rng.integers(0, n_views, size=n))


@dataclass
class ViewSplit(Split):
    """A training split with every view: x (N, V, T, D); a minibatch takes each video's view
    of the epoch (``draw_views``)."""

    def batch(self, index, seed, epoch):
        views = draw_views(len(self.y), self.x.shape[1], seed, epoch).to(self.x.device)   # (N,)
        return self.x[index, views[index]]                                      # (B, T, D)


def view(split, v):
    """The (N, T, D) Split of view ``v`` of a views split x (N, V, T, D)."""
    return Split(split.x[:, v].contiguous(), split.y)


def evaluate_views(model, split):
    """(accuracy, mean loss, p (N, C)) of ``model`` on a views split x (N, V, T, D), with the
    probabilities averaged over the views: p = (1/V) sum_v p^(v)."""
    p = torch.stack([evaluate(model, view(split, v))[2] for v in range(split.x.shape[1])]).mean(0)
    y = split.y.cpu()
    loss = float(torch.nn.functional.nll_loss(p.log(), y)) if len(y) else 0.0
    accuracy = int((p.argmax(dim=1) == y).sum()) / max(len(y), 1)
    return accuracy, loss, p


def check_views(data):
    """A clear error when ``data`` (train, val, test) is not read from a views store."""
    shapes = [tuple(s.x.shape) for s in data]
    if any(len(shape) != 4 for shape in shapes):
        raise ValueError(f"run_augmented needs every view: x (N, V, T, D), got shapes {shapes}; "
                         f"read the store with load_data(..., views={VIEWS!r})")
    if len({shape[1] for shape in shapes}) != 1 or shapes[0][1] <= CENTRE:
        raise ValueError(f"train, val and test must hold the same 10 views, got shapes {shapes}")


def run_augmented(model, protocol, data, out_dir, runtime=Runtime(), mirrors=True):
    """``experiment.train.run_model`` with one view drawn per video per epoch, on ``data`` of
    ``load_data(..., views="oversample")``, x (N, V, T, D): (result_centre, result_mean10), as
    the module docstring says. ``mirrors=False``: the five unmirrored views alone (caffe.io's
    order puts the mirrors last), "MODEL+crops, no mirrors (centre)" and "(mean of 5)": a
    mirror reverses left and right, and with them the direction of every motion."""
    check_views(data.splits())
    kept = slice(None) if mirrors else slice(0, len(NAMES))
    train, val, test = (Split(s.x[:, kept], s.y).to(runtime.device) for s in data.splits())
    views = data._replace(train=ViewSplit(train.x, train.y), val=view(val, CENTRE), test=test)
    out_dir = os.path.join(out_dir, VIEWS if mirrors else f"{VIEWS}-no-mirrors")
    name = "crops" if mirrors else "crops, no mirrors"
    mean = f"mean of {test.x.shape[1]}"

    def test_both(seed, record, net):
        return (tested_run(seed, record, evaluate(net, view(test, CENTRE))),
                tested_run(seed, record, evaluate_views(net, test)))

    search, chosen, tested = search_then_seeds(protocol.of(model), protocol, views, out_dir,
                                               test_both, runtime)
    return tuple({"model": f"{model}+{name} ({key})", "chosen": asdict(chosen),
                  "search": searched(search), "runs": list(runs), **summary(runs)}
                 for key, runs in zip(("centre", mean), zip(*tested)))


def main(argv=None):
    """Train one model on a views store and print both test accuracies (mean +- std)."""
    parser = commands.parser("python -m experiment.future.augment", __doc__)
    parser.add_argument("--features", required=True, type=cli.existing_dir,
                        help="folder of the views store (all_splits_fc7_oversample.h5)")
    parser.add_argument("--out", required=True, type=cli.writable_dir, help="results folder")
    parser.add_argument("--model", default="rnn", choices=MODELS)
    parser.add_argument("--split", type=int, default=TRAINING.split, choices=(1, 2, 3))
    commands.add_grid(parser, lr=TRAINING.lrs, hidden=TRAINING.hidden, seeds=TRAINING.seeds,
                      epochs=TRAINING.epochs, patience=TRAINING.patience)
    commands.add_runtime(parser, device="cpu")
    return command(parser, argv, train_and_print, ["--features"])


def train_and_print(args, runtime):
    """The crops rows of ``args.model`` trained, and their test accuracies printed."""
    start = time.perf_counter()
    check_together(args.features, args.split, {"views": VIEWS})          # its recipe's shape
    base = RunSettings(epochs=args.epochs, patience=args.patience)
    check_configuration(store_paths(args.features, args.split, views=VIEWS).values(),
                        get(base.config))
    data = load_data(args.features, args.split, views=VIEWS)
    protocol = Protocol(base, tuple(args.lr), tuple(args.hidden), tuple(range(args.seeds)))
    for result in run_augmented(args.model, protocol, data, args.out, runtime):
        print(f"{result['model']}: test accuracy {result['test_acc_mean']:.4f} +- "
              f"{result['test_acc_std']:.4f} ({len(result['runs'])} seeds)")
    print(f"{time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
