"""The protocol of every table (``run_model``; ``search_then_seeds``), and a run's record
(``tested_run``): its seed, its chosen (best-validation) epoch, accuracies, history, and its
validation and test class probabilities, so that a study (fusion, for one) reads finished runs
(``read_run``) and never trains to reload them.
"""
import os
from dataclasses import asdict, dataclass

import numpy as np

from .checkpoints import CheckpointError, load_checkpoint
from .classification import Classification, best_model, classifier, evaluate
from .data import trained_on
from .loop import NonFiniteLoss, fit
from .settings import RunSettings, grid, model_base


def train_run(config, train, val, n_classes, out_dir, progress=True, device="cpu", initial=None):
    """Train the classifier of run ``config`` (``fit``); returns its record. ``train``/``val``
    may live on ``device`` already. ``initial``: {name: tensor}, weights the run starts from
    instead of their drawn values (a pretrained encoder; an unknown name is an error)."""
    return fit(config, classifier(train.x.shape[-1], n_classes, initial), (train, val), out_dir,
               Classification(config.loss, config.model), progress, device)


def read_run(config, out_dir, data=None):
    """The record of run ``config`` from its checkpoint in ``out_dir`` when it has finished
    (its last epoch or its early stop), else None: nothing is trained. ``data``: the (train,
    val) ``Split``s the run must have trained on (``load_checkpoint`` refuses other codes)."""
    path = os.path.join(out_dir, "checkpoints", config.run_id() + ".pt")
    if not os.path.exists(path):
        return None
    saved = load_checkpoint(path, config, data and trained_on(*data))
    if not (saved["stopped"] or saved["epoch"] >= config.epochs):
        return None
    shapes = [{k: tuple(v.shape) for k, v in weights.items()}
              for weights in (saved["model"], (saved["best"] or {}).get("model", {}))]
    if shapes[0] != shapes[1]:              # the weights a resume would load: damaged
        raise CheckpointError(f"{path}: its weights do not fit this run (its last weights "
                              "and its best differ in names or shapes); delete it to retrain "
                              "this run")
    return {k: saved[k] for k in ("epoch", "history", "best", "config", "stopped")}


def val_probabilities(config, record, val, n_classes, device="cpu"):
    """Run ``config``'s validation probabilities p (N_val, C) at its best epoch, float64: kept in
    its record; a checkpoint written before records kept them is evaluated once (no training)."""
    kept = record["best"].get("val_probabilities")
    if kept is None:
        net = best_model(config, record, val.x.shape[-1], n_classes, device)
        kept = evaluate(net, val.to(device))[2]
    return kept.double().numpy()


@dataclass(frozen=True)
class Protocol:
    """What a table's runs of one model are: ``base`` settings, the grid searched with seed 0,
    the chosen setting's ``seeds``, and ``era``, the ``configurations.Configuration`` whose
    model options and precision apply (None: the one ``base.config`` names)."""

    base: RunSettings
    lrs: tuple
    hiddens: tuple
    seeds: tuple
    era: object = None

    def of(self, model):
        """The base settings of ``model``'s runs (``model_base``)."""
        return model_base(model, self.base, self.era)


@dataclass(frozen=True)
class Runtime:
    """Where runs train and whether they show progress bars: never what they compute."""

    device: str = "cpu"
    progress: bool = True


def run_model(model, protocol, data, out_dir, runtime=Runtime(), initial=None):
    """``search_then_seeds`` for ``model`` on ``data``, each seed's run tested once: a dict with
    the search, the runs and the mean/std over seeds. ``initial``: None, or a function of a
    run's ``RunSettings`` giving the weights it starts from (``train_run``'s ``initial``)."""
    test = data.test.to(runtime.device)                                       # once
    search, chosen, runs = search_then_seeds(
        protocol.of(model), protocol, data, out_dir,
        lambda seed, record, net: tested_run(seed, record, evaluate(net, test)),   # once
        runtime, initial)
    return {"model": model, "chosen": asdict(chosen), "search": searched(search),
            "runs": runs, **summary(runs)}


def search_then_seeds(base, protocol, data, out_dir, test, runtime=Runtime(), initial=None):
    """The protocol: ``grid(base, protocol.lrs, protocol.hiddens)`` trained with seed 0 on
    ``data`` (a ``Data`` record), the setting of the best validation accuracy chosen (ties: the
    first in grid order), that setting trained with every seed of ``protocol``, and ``test(seed,
    record, best-epoch model)`` called once per seed, right after its training. A finished run
    is read back (``read_run``), not trained again. Returns (search [(val_acc, settings)],
    chosen, the tests' results in seed order). ``initial``: as ``run_model``'s."""
    device = runtime.device
    train, val = data.train.to(device), data.val.to(device)                  # once

    def record_of(config):
        return read_run(config, out_dir, (train, val)) or train_run(
            config, train, val, data.n_classes, out_dir, runtime.progress, device,
            initial and initial(config))
    search = [(record_of(config)["best"]["val_acc"], config)
              for config in grid(base, protocol.lrs, protocol.hiddens)]
    chosen = max(search, key=lambda item: item[0])[1]  # max keeps the first of equals
    tested = []
    for seed in protocol.seeds:
        config = RunSettings(**{**asdict(chosen), "seed": seed})
        record = record_of(config)
        net = best_model(config, record, train.x.shape[-1], data.n_classes, device)
        tested.append(test(seed, record, net))
    return search, chosen, tested


def searched(search):
    """The search's record for a result: [{lr, hidden_dim, val_acc}] from (val_acc, config)."""
    return [{"lr": c.lr, "hidden_dim": c.hidden_dim, "val_acc": v} for v, c in search]


def tested_run(seed, record, tested):
    """One entry of a result's "runs": the record of seed ``seed`` (``fit``'s) and ``tested``,
    its best epoch's (accuracy, loss, p) on the test split (``evaluate``)."""
    test_acc, test_loss, p = tested
    best = record["best"]
    kept = best.get("val_probabilities")
    return {"seed": seed, "best_epoch": best["epoch"], "train_acc": best["train_acc"],
            "val_acc": best["val_acc"], "test_acc": test_acc, "test_loss": test_loss,
            "history": record["history"], "test_predictions": p.argmax(dim=1).tolist(),
            "test_probabilities": p.double().numpy(),
            "val_probabilities": None if kept is None else kept.double().numpy()}


def summary(runs, keys=("train_acc", "val_acc", "test_acc")):
    """Mean and standard deviation (over seeds) of the accuracies ``keys``."""
    out = {}
    for key in keys:
        values = np.array([r[key] for r in runs], dtype=float)
        out[key + "_mean"] = float(values.mean())
        out[key + "_std"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
    return out


def finite_history(results):
    """Refuse to report runs whose losses are not finite (a last step that made the weights
    NaN): a table of such networks would report chance as if it were a result."""
    for result in results:
        for run in result["runs"]:
            for row in run["history"]:
                if not all(np.isfinite(row[k]) for k in ("train_loss", "val_loss")):
                    raise NonFiniteLoss(f"{row['run']}: the loss became non-finite at epoch "
                                        f"{row['epoch']}; no results written (try a smaller --lr)")
