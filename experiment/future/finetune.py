"""Fine-tune CaffeNet's fc6 and fc7 jointly with a trained recurrent model (the paper's Future
Work, "fine-tuning"; docs/future.md, "Fine-tuning fc6 and fc7").

    python -m experiment.future.finetune --features demo/features-paper --init results/demo-paper \
        --out results/demo-finetune --model birnn --random-weights 0 --seeds 3

Input: each frame's pool5 code (``caffe_extract extract --layer pool5``). Each seed starts from
the main table's trained model of its chosen setting (INIT/checkpoints/RUN.pt, best-validation
epoch) on top of fc6 and fc7 of the .caffemodel that made the codes (``FineTuned``, which in
eval mode computes the stored fc7 codes, to float32 rounding) and trains with ``fit``: fc6/fc7 at
``fc_lr_scale`` times the head's learning rate, CaffeNet's dropout on both, ``epochs`` epochs
without early stopping; the best-validation epoch is tested once.
"""
import json
import os
import sys
from dataclasses import asdict, dataclass

from caffe_extract.store import store_name
from caffe_extract.weights import add_weights_arguments, file_sha1, resolve_weights
from common import cli, commands
from configurations import FUTURE, TRAINING
from rnn_models import MODELS, build
from rnn_models.finetune import FC_DIM, POOL5_DIM, FineTuned

from experiment.train import (CheckpointError, Classification, Runtime, RunSettings, evaluate,
                              features_dir, fit, load_checkpoint, load_data, model_options,
                              outputs, sgd, summary, tested_run)
from experiment.train.stores import check_together

from . import command

EPOCHS = FUTURE.finetune_epochs               # fine-tuning epochs (module docstring)
FC_LR_SCALE = FUTURE.finetune_fc_lr_scale     # fc6/fc7's learning rate / the head's


@dataclass
class FineTuneSettings(RunSettings):
    """One fine-tuning run: the head's ``RunSettings`` (its chosen setting and seed; ``epochs``
    the fine-tuning's) plus what fine-tuning adds. Saved in every checkpoint: a resume with
    another caffemodel or learning rate is refused."""

    fc_lr_scale: float = FC_LR_SCALE     # fc6/fc7's learning rate = fc_lr_scale x lr
    fc_dropout: float = FUTURE.finetune_fc_dropout     # drop6 and drop7 in training
    caffemodel_sha1: str = ""            # the CaffeNet whose fc6/fc7 start the run
    start: str = ""                      # the run id of the head's checkpoint it starts from

    def run_id(self):
        return (f"{self.model}-finetune-{self.config}-h{self.hidden_dim}-lr{self.lr:g}"
                f"-x{self.fc_lr_scale:g}-seed{self.seed}")


def caffenet_fc(caffemodel):
    """CaffeNet's fc6 and fc7 of ``caffemodel``: {"fc6": (W (4096, 9216), b), "fc7": (W (4096,
    4096), b)} float32 tensors, read by the port's strict loader (every layer and shape of
    CaffeNet checked; a CaffeModelError names what is wrong)."""
    from caffe_extract.caffemodel import read_blobs
    from caffe_extract.caffenet import CaffeNet
    net = CaffeNet()
    net.load_blobs(read_blobs(caffemodel), source=str(caffemodel))
    return {name: (net.layers[name].weight.detach(), net.layers[name].bias.detach())
            for name in ("fc6", "fc7")}


def main_table(init_dir):
    """(path, contents or None) of INIT/table.json, the main table ``experiment.train`` wrote."""
    path = os.path.join(init_dir, "table.json")
    if not os.path.isfile(path):
        return path, None
    with open(path) as f:
        return path, json.load(f)


def chosen_setting(init_dir, model):
    """The ``RunSettings`` the main table chose for ``model`` (INIT/table.json), seed 0."""
    path, table = main_table(init_dir)
    if table is None:
        raise FileNotFoundError(f"{path} does not exist: train the models first "
                                f"(`python -m experiment.train --models {model} --out {init_dir}`)")
    chosen = {r["model"]: r["chosen"] for r in table.get("models", [])}
    if model not in chosen:
        raise ValueError(f"{path} has no {model} (it has {', '.join(chosen) or 'no model'}): "
                         f"train it first (`python -m experiment.train --models {model}`)")
    return RunSettings(**chosen[model])


def start_state(init_dir, config):
    """The head's weights at the best-validation epoch of run ``config`` (a finished run of
    ``experiment.train`` in INIT/checkpoints), and that run's id."""
    path = os.path.join(init_dir, "checkpoints", config.run_id() + ".pt")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path} does not exist: fine-tuning starts from the trained "
                                f"model of this seed; train it first (`python -m "
                                f"experiment.train --models {config.model} --seeds "
                                f"{config.seed + 1} --out {init_dir}` with the table's settings)")
    saved = load_checkpoint(path, config)
    if not (saved["stopped"] or saved["epoch"] >= config.epochs):
        raise CheckpointError(f"{path} stopped at epoch {saved['epoch']} of {config.epochs}: "
                              "finish its training first (rerun experiment.train)")
    return saved["best"]["model"], config.run_id()


def check_weights(init_dir, sha1, caffemodel):
    """Refuse a caffemodel other than the one whose codes trained INIT's models (its table's
    provenance, where there is one)."""
    trained_on = (main_table(init_dir)[1] or {}).get("provenance", {}).get("weights_sha1")
    if trained_on and trained_on != sha1:
        raise ValueError(f"{caffemodel} (SHA1 {sha1}) is not the CaffeNet whose codes trained "
                         f"the models of {init_dir} (SHA1 {trained_on}): pass that caffemodel")


@dataclass(frozen=True)
class FineTuning:
    """What fine-tuning starts from and how it trains: the ``caffemodel`` that made the codes
    (its fc6/fc7 start the run), ``init_dir`` (``experiment.train``'s results folder, whose
    trained heads start it), the epochs and fc6/fc7's learning-rate scale."""

    caffemodel: str
    init_dir: str
    epochs: int = EPOCHS
    fc_lr_scale: float = FC_LR_SCALE


def run_finetune(base, seeds, data, recipe, out_dir, runtime=Runtime()):
    """Fine-tune fc6/fc7 with the model of ``base`` (its chosen ``RunSettings``; a model name:
    read ``recipe.init_dir``/table.json) for every seed, starting from the init folder's
    trained runs of that setting, and test each best-validation epoch once. ``data``: the
    ``Data`` of pool5 codes (``load_data(..., layer="pool5")``); ``recipe``: a ``FineTuning``.
    Returns ``run_model``'s format, "model" named "<model>+fine-tuned fc6/fc7" and "search"
    empty (nothing is searched)."""
    device = runtime.device
    train, val, test = (s.to(device) for s in data.splits())
    if train.x.shape[-1] != POOL5_DIM:
        raise ValueError(f"the codes are {train.x.shape[-1]}-dimensional, not pool5's "
                         f"{POOL5_DIM}: fine-tuning reads pool5 codes (`python -m caffe_extract "
                         "extract --layer pool5`, then load_data(..., layer='pool5'))")
    base = chosen_setting(recipe.init_dir, base) if isinstance(base, str) else base
    fc, sha1 = caffenet_fc(recipe.caffemodel), file_sha1(recipe.caffemodel)
    check_weights(recipe.init_dir, sha1, recipe.caffemodel)
    runs, configs = [], {}
    for seed in seeds:
        head = RunSettings(**{**asdict(base), "seed": seed})
        state, start = start_state(recipe.init_dir, head)
        config = FineTuneSettings(**{**asdict(head), "epochs": recipe.epochs, "patience": 0,
                                   "fc_lr_scale": recipe.fc_lr_scale, "caffemodel_sha1": sha1,
                                   "start": start})
        configs[seed] = config

        def make(config, device, state=state):
            return finetuned(config, state, fc, data.n_classes, device)

        record = fit(config, make, (train, val), out_dir, Classification(config.loss),
                     runtime.progress, device)
        net = make(config, device)[0]
        net.load_state_dict(record["best"]["model"])
        runs.append(tested_run(seed, record, evaluate(net, test)))       # once, at the end
    chosen = FineTuneSettings(**{**asdict(configs[seeds[0]]), "seed": 0})
    return {"model": f"{base.model}+fine-tuned fc6/fc7", "chosen": asdict(chosen), "search": [],
            "runs": runs, **summary(runs)}


def finetuned(config, head_state, fc, n_classes, device="cpu"):
    """(model, optimizer) of a fine-tuning run: ``FineTuned`` with the trained head's weights
    ``head_state`` and CaffeNet's ``fc``; ``sgd``, the head at ``config.lr``, fc6/fc7 at
    ``config.fc_lr_scale`` times it."""
    head = build(config.model, FC_DIM, config.hidden_dim, n_classes, init=config.init,
                 **model_options(config))
    head.load_state_dict(head_state)
    model = FineTuned(head, dropout=config.fc_dropout)
    model.load_fc(fc)
    model.to(device=device, dtype=config.torch_dtype())
    return model, sgd(model, config, device, [
        {"params": list(model.head.parameters()), "lr": config.lr},
        {"params": [model.W6, model.b6, model.W7, model.b7], "lr": config.lr * config.fc_lr_scale}])


def main(argv=None):
    parser = commands.parser("python -m experiment.future.finetune", __doc__)
    parser.add_argument("--features", default="features", type=features_dir,
                        help="folder holding all_splits_pool5.h5 (%(default)s)")
    parser.add_argument("--init", required=True, type=cli.existing_dir,
                        help="results folder of experiment.train: its table.json and checkpoints")
    parser.add_argument("--out", required=True, type=cli.writable_dir, help="results folder")
    parser.add_argument("--model", default=FUTURE.reference, choices=MODELS,
                        help="the head (%(default)s)")
    parser.add_argument("--seeds", type=cli.integer(1, 1000), default=TRAINING.seeds)
    parser.add_argument("--split", type=int, default=TRAINING.split, choices=(1, 2, 3))
    parser.add_argument("--val-groups", type=cli.integer(1, 99), default=TRAINING.val_groups,
                        help="as the head's training (%(default)s)")
    parser.add_argument("--epochs", type=cli.integer(1, 100_000), default=EPOCHS)
    parser.add_argument("--fc-lr-scale", type=cli.real(0.0, 1e6), default=FC_LR_SCALE,
                        help="fc6/fc7's learning rate / the head's (%(default)s)")
    add_weights_arguments(parser, ": the CaffeNet that made the codes")
    commands.add_runtime(parser, device="auto")
    return command(parser, argv, fine_tune_and_print, ["--init", "--features"])


def fine_tune_and_print(args, runtime):
    """Every seed of ``args.model`` fine-tuned and tested; the results printed."""
    outputs.check_input(args.init, "experiment.train", "--init")
    caffemodel, note = resolve_weights(args)
    store = os.path.join(args.features, store_name("pool5"))
    if not os.path.isfile(store):
        raise FileNotFoundError(f"no pool5 codes in {args.features} ({store_name('pool5')}): "
                                "extract them with `python -m caffe_extract extract --layer "
                                "pool5` and the weights that made the models' codes")
    check_together(args.features, args.split, {"layer": "pool5"}, [], file_sha1(caffemodel),
                   caffemodel, [os.path.join(args.init, "table.json")])
    data = load_data(args.features, args.split, "pool5", args.val_groups)
    recipe = FineTuning(caffemodel, args.init, args.epochs, args.fc_lr_scale)
    result = run_finetune(args.model, range(args.seeds), data, recipe, args.out, runtime)
    if note:
        print(f"*** {note} ***", file=sys.stderr)
    for run in result["runs"]:
        print(f"{result['model']} seed {run['seed']}: best epoch {run['best_epoch']}, val "
              f"{run['val_acc']:.3f}, test {run['test_acc']:.3f}")
    print(f"{result['model']}: test {result['test_acc_mean']:.3f} +- {result['test_acc_std']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
