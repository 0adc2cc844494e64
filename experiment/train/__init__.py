"""Train the paper's models on CaffeNet codes; select on validation; test once.

    python -m experiment.train --features features --out results          # or: make train
    python -m experiment.train --splits 1 2 3 --config modern ...

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
gives the same numbers. Runs are checkpointed atomically (a plain state dict, loadable with
``torch.load(weights_only=True)``) after their last epoch and after any epoch that ends
``CHECKPOINT_SECONDS`` after the previous save (each LSTM epoch at UCF-101's size); a killed run
resumes from its last checkpoint and ends with the same result as an uninterrupted one.
"""
import argparse
import io
import json
import os
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from rnn_models import MODELS, build
from rnn_models.models import time_averaged_log

PAPER_MODELS = ("average", "rnn", "lstm", "birnn")


@dataclass
class TrainConfig:
    """One training run: a model, its hyperparameters, a seed."""

    model: str = "rnn"
    config: str = "paper"                # the named configuration (configurations)
    hidden_dim: int = 512
    lr: float = 0.01
    momentum: float = 0.9
    batch_size: int = 64
    epochs: int = 80
    patience: int = 25                   # stop after this many epochs without a better val acc
    seed: int = 0
    dropout: float = 0.5                 # the Average model's
    weight_decay: float = 0.0
    dtype: str = "float32"               # training precision
    init: str = "nntools-2015"           # initial values (rnn_models.init)
    loss: str = "averaged"               # "averaged" or "per-step" (see ``loss``)
    options: dict = field(default_factory=dict)   # model options (peepholes, ...)

    def run_id(self):
        return f"{self.model}-{self.config}-h{self.hidden_dim}-lr{self.lr:g}-seed{self.seed}"

    def torch_dtype(self):
        return {"float32": torch.float32, "float64": torch.float64}[self.dtype]


@dataclass
class Split:
    """Codes and labels of one subset, in memory."""

    x: torch.Tensor        # (N, T, D) float32 (a views store: (N, V, T, D), float32 or float16,
                           # each minibatch converted to the training precision)
    y: torch.Tensor        # (N,) int64

    def batch(self, index, seed, epoch):
        """The codes (B, T, D) of videos ``index`` for a minibatch of ``epoch`` of the run
        seeded ``seed``: ``x[index]`` (``experiment.augment.ViewSplit`` draws a view)."""
        return self.x[index]


def evaluate(model, split, batch_size=256):
    """(accuracy, mean loss, averaged probabilities p (N, C)) of ``model`` on ``split``, in
    eval mode; the predicted label is ``p.argmax(1)``."""
    model.eval()
    dtype = next(model.parameters()).dtype
    total_loss, log_ps = 0.0, []
    with torch.no_grad():
        for start in range(0, len(split.y), batch_size):
            x, y = split.x[start:start + batch_size].to(dtype), split.y[start:start + batch_size]
            log_p = model.log_probabilities(x)
            total_loss += float(torch.nn.functional.nll_loss(log_p, y, reduction="sum"))
            log_ps.append(log_p)
    p = torch.cat(log_ps).exp().cpu() if log_ps else torch.zeros(0, 0)
    n = max(len(split.y), 1)
    correct = int((p.argmax(dim=1) == split.y.cpu()).sum()) if log_ps else 0
    return correct / n, total_loss / n, p


class Running:
    """Training accuracy and mean loss of an epoch, taken from its own training pass (as most
    frameworks report them): each minibatch's predictions and loss as the weights stood before
    its update, in training mode (the Average model's dropout on). No second forward pass over
    the training set: that pass cost a third more GEMMs than the training itself. Sums stay on
    the device (no synchronisation per batch)."""

    def __init__(self):
        self.correct, self.loss, self.n = 0, 0.0, 0

    def add(self, log_p, y, loss):
        """log_p (B, C), y (B,), loss: the batch's mean loss."""
        self.correct = self.correct + (log_p.detach().argmax(dim=1) == y).sum()
        self.loss = self.loss + loss.detach() * len(y)
        self.n += len(y)

    def result(self):
        """(accuracy, mean loss) over the videos seen."""
        n = max(self.n, 1)
        return int(self.correct) / n, float(self.loss) / n


def model_inputs(model, split):
    """What ``model`` reads of ``split``'s codes, computed once per run, not once per batch:
    the Average model only their mean over time, x_bar (N, 1, D), whose own mean over time
    is itself, bitwise (tests/test_train.py); 10x less to gather per batch. Other models:
    ``split`` itself."""
    if model != "average":
        return split
    x = split.x.to(torch.float32)                      # a float16 views store: mean in float32
    return type(split)(x.mean(dim=-2, keepdim=True), split.y)                # (N, [V,] 1, D)


def sgd(model, config, device="cpu"):
    """SGD with Nesterov momentum on ``model``; the fused kernel (one pass over each tensor)
    where torch has it: the same numbers as the foreach one (tests/test_train.py), faster."""
    fused = str(device).split(":")[0] in ("cpu", "cuda")
    return torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum,
                           nesterov=config.momentum > 0, weight_decay=config.weight_decay,
                           fused=fused or None)


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be resumed from (names the file and what is wrong)."""


class NonFiniteLoss(ArithmeticError):
    """The training loss became NaN or infinite: the run stops, and no results are written."""


#: Seconds of training a crash may cost (plus the epoch it interrupts): a run is saved after any
#: epoch that ends this long after its previous save, and always after its last. At UCF-101's
#: size an LSTM or BiRNN epoch takes 30 s or more and is saved each time, an RNN's (8-10 s)
#: every one or two, the Average model's (1 s) every tenth (docs/performance.md); the demo's
#: take 0.01-0.3 s, and saving every one spent a third of ``make future``'s training time (225
#: of 668 s, measured). The environment variable TRAIN_CHECKPOINT_SECONDS overrides it (0:
#: after every epoch).
CHECKPOINT_SECONDS = 10.0


class CheckpointClock:
    """Says when a run's checkpoint is due (``CHECKPOINT_SECONDS``): ``due(last)`` after each
    epoch, ``last`` for the run's final epoch (or its early stop)."""

    def __init__(self):
        value = os.environ.get("TRAIN_CHECKPOINT_SECONDS", str(CHECKPOINT_SECONDS))
        try:
            self.interval = float(value)
        except ValueError:
            self.interval = float("nan")
        if not self.interval >= 0:              # nan too
            raise ValueError(f"TRAIN_CHECKPOINT_SECONDS={value!r}: give the seconds between "
                             "checkpoints, a number >= 0 (0: after every epoch)")
        self.saved = time.monotonic()

    def due(self, last):
        """True (and the clock restarted) when the epoch just ended must be saved."""
        if last or time.monotonic() - self.saved >= self.interval:
            self.saved = time.monotonic()
            return True
        return False


CHECKPOINT_KEYS = ("epoch", "history", "best", "config", "stopped", "model", "optimizer",
                   "shuffle_rng", "torch_rng")


def _atomic_save(obj, path):
    """Write ``obj`` (torch.save's format) to ``path`` all or nothing: serialised in memory,
    written to a temporary file, synced, renamed. Python's own write raises the OSError a full
    disk deserves (torch.save's writer would only say 'iostream error')."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    partial = f"{path}.{os.getpid()}.tmp"
    try:
        with open(partial, "wb") as f:
            f.write(buffer.getbuffer())
            f.flush()
            os.fsync(f.fileno())
        os.replace(partial, path)
    except BaseException:
        if os.path.exists(partial):      # a full disk leaves no half-written file behind
            os.remove(partial)
        raise


def load_checkpoint(path, config):
    """The saved state of run ``config`` at ``path``, checked: a clear ``CheckpointError`` for
    a damaged file, a file that is not a plain state dict, or another run's checkpoint."""
    try:
        with warnings.catch_warnings():        # a foreign pickle's warnings: the error says it
            warnings.simplefilter("ignore")
            saved = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as error:   # torch.load fails in many ways on a damaged or foreign file
        reason = str(error).strip().splitlines()[0][:200] if str(error).strip() else ""
        raise CheckpointError(f"{path}: not a readable checkpoint ({type(error).__name__}"
                              f"{': ' + reason if reason else ''}); delete it to retrain "
                              "this run") from None
    missing = [k for k in CHECKPOINT_KEYS if not isinstance(saved, dict) or k not in saved]
    if missing:
        raise CheckpointError(f"{path}: not a training checkpoint of this project (no "
                              f"{', '.join(missing[:3])}); delete it to retrain this run")
    if saved["config"] != asdict(config):
        differ = sorted(k for k in asdict(config) if saved["config"].get(k) != asdict(config)[k])
        raise CheckpointError(f"{path} was written by another configuration (differs in "
                              f"{', '.join(differ) or 'its fields'}); delete it to retrain")
    return saved


def restore(path, config, model, optimizer, shuffle, device="cpu"):
    """Resume run ``config`` from its checkpoint ``path`` (``load_checkpoint``'s checks): its
    weights into ``model``, its momentum into ``optimizer``, its random states into ``shuffle``
    and torch's; returns the saved dict. A ``CheckpointError`` when the weights do not fit."""
    saved = load_checkpoint(path, config)
    try:
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        shuffle.set_state(saved["shuffle_rng"])
        torch.set_rng_state(saved["torch_rng"])
        if str(device).startswith("cuda") and "cuda_rng" in saved:       # dropout on the GPU
            torch.cuda.set_rng_state(saved["cuda_rng"], torch.device(device))
    except (RuntimeError, ValueError, KeyError, TypeError) as error:
        raise CheckpointError(f"{path}: its weights do not fit this run ({error}); delete "
                              "it to retrain this run") from None
    return saved


def train_run(config, train, val, n_classes, out_dir, progress=True, device="cpu", initial=None,
              setup=None):
    """Train one run (resuming from its checkpoint in OUT/checkpoints); returns its record:
    the per-epoch history (also in OUT/logs/RUN.jsonl) and the best-validation epoch's weights.
    ``train``/``val`` may live on ``device`` already (``run_model`` puts them there once).
    Wall-clock seconds of each epoch's training pass, validation pass and checkpoint are
    appended to OUT/logs/RUN.seconds.jsonl (kept out of the history: timings vary, results
    do not). ``initial``: {name: tensor}, weights the run starts from instead of their drawn
    values (the others drawn as usual; an unknown name is an error): a pretrained encoder.
    ``setup(config, device) -> (model, optimizer)``: another model to train, on the codes as
    they are (``experiment.finetune``: CaffeNet's fc6/fc7 and a trained head).
    """
    from tqdm import tqdm
    for folder in ("checkpoints", "logs"):
        os.makedirs(os.path.join(out_dir, folder), exist_ok=True)
    path = os.path.join(out_dir, "checkpoints", config.run_id() + ".pt")
    log_path = os.path.join(out_dir, "logs", config.run_id() + ".jsonl")
    torch.manual_seed(config.seed)
    if setup is None:
        model = build(config.model, train.x.shape[-1], config.hidden_dim, n_classes,
                      init=config.init, **_model_options(config)).to(device=device,
                                                                   dtype=config.torch_dtype())
        if initial is not None:     # strict: every key must be a parameter of the model
            model.load_state_dict({**model.state_dict(), **initial})
        optimizer = sgd(model, config, device)
        train, val = model_inputs(config.model, train), model_inputs(config.model, val)
    else:
        model, optimizer = setup(config, device)
    shuffle = torch.Generator().manual_seed(config.seed)
    state = {"epoch": 0, "history": [], "best": None, "config": asdict(config), "stopped": False}
    if os.path.exists(path):
        saved = restore(path, config, model, optimizer, shuffle, device)
        state = {k: saved[k] for k in ("epoch", "history", "best", "config", "stopped")}
    seconds_path = os.path.join(out_dir, "logs", config.run_id() + ".seconds.jsonl")
    _keep_timings_to(seconds_path, state["epoch"])
    bar = tqdm(total=config.epochs, initial=state["epoch"], desc=config.run_id(), unit="epoch",
               disable=not progress, dynamic_ncols=True, leave=False)
    checkpoint = CheckpointClock()
    for epoch in range(state["epoch"] + 1, config.epochs + 1):
        if state["stopped"]:
            break
        clock = [time.perf_counter()]
        model.train()
        order = torch.randperm(len(train.y), generator=shuffle)
        seen = Running()
        for start in range(0, len(order), config.batch_size):
            batch = order[start:start + config.batch_size]
            batch = batch.to(train.y.device)
            x = train.batch(batch, config.seed, epoch).to(config.torch_dtype())
            loss, log_p = training_loss(model, x, train.y[batch], config.loss)
            # --- a non-finite loss stops the run before the step spoils the weights ---
            if not torch.isfinite(loss):
                raise NonFiniteLoss(
                    f"{config.run_id()}: the training loss became {float(loss.detach())} at epoch "
                    f"{epoch}, batch {start // config.batch_size + 1}; no results written "
                    "(codes too large for this learning rate? try a smaller --lr)")
            # ---
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            seen.add(log_p, train.y[batch], loss)
        train_acc, train_loss = seen.result()       # of the training pass (see ``Running``)
        clock.append(time.perf_counter())
        val_acc, val_loss, _ = evaluate(model, val)
        clock.append(time.perf_counter())
        row = {"run": config.run_id(), "epoch": epoch, "train_acc": train_acc,
               "train_loss": train_loss, "val_acc": val_acc, "val_loss": val_loss}
        state["history"].append(row)
        if state["best"] is None or val_acc > state["best"]["val_acc"]:
            state["best"] = {"epoch": epoch, "val_acc": val_acc, "train_acc": train_acc,
                             "model": {k: v.clone() for k, v in model.state_dict().items()}}
        state["epoch"] = epoch
        state["stopped"] = epoch - state["best"]["epoch"] >= config.patience > 0   # early stop
        if checkpoint.due(epoch == config.epochs or state["stopped"]):
            rngs = {"shuffle_rng": shuffle.get_state(), "torch_rng": torch.get_rng_state()}
            if str(device).startswith("cuda"):
                rngs["cuda_rng"] = torch.cuda.get_rng_state(torch.device(device))
            _atomic_save({**state, "model": model.state_dict(),
                          "optimizer": optimizer.state_dict(), **rngs}, path)
            with open(log_path + ".tmp", "w") as log:   # the log, rewritten from the checkpoint's
                log.writelines(json.dumps(r) + "\n" for r in state["history"])
            os.replace(log_path + ".tmp", log_path)
        clock.append(time.perf_counter())
        with open(seconds_path, "a") as f:
            f.write(json.dumps({"epoch": epoch, **dict(zip(
                ("train_s", "val_s", "checkpoint_s"), np.diff(clock).round(4).tolist()))}) + "\n")
        bar.set_postfix(loss=f"{train_loss:.3f}", train=f"{train_acc:.3f}", val=f"{val_acc:.3f}")
        bar.update(1)
    bar.close()
    return state


def _keep_timings_to(path, epoch):
    """Drop from the timings file ``path`` the epochs after ``epoch`` (the checkpoint's): a
    crash lost them and they are trained again, so each epoch keeps one line."""
    if not os.path.exists(path):
        return
    kept = []
    with open(path) as f:
        for line in f:
            try:
                if json.loads(line)["epoch"] <= epoch:
                    kept.append(line)
            except (ValueError, KeyError, TypeError):    # a line cut short by the crash
                pass
    with open(path + ".tmp", "w") as f:
        f.writelines(kept)
    os.replace(path + ".tmp", path)


def training_loss(model, x, y, form="averaged"):
    """(L, log p): the minibatch's training loss and its averaged log-probabilities log p (N, C)
    (for the training accuracy). The paper states only its prediction rule, so the loss form is
    a knob (``configs``, "loss"):

        averaged:  L = -(1/N) sum_n log p_n[y_n],               p_n = (1/T) sum_t P_t[n]
        per-step:  L = -(1/(N T)) sum_n sum_t log P_t[n, y_n]   (each step's own cross-entropy)
    """
    if form == "averaged":
        log_p = model.log_probabilities(x)                                   # (N, C)
        return torch.nn.functional.nll_loss(log_p, y), log_p
    if form == "per-step":
        log_P = model.step_log_probabilities(x)                              # (N, T, C)
        T = log_P.shape[1]
        loss = torch.nn.functional.nll_loss(log_P.transpose(1, 2), y[:, None].expand(-1, T))
        return loss, time_averaged_log(log_P)
    raise ValueError(f"unknown loss form {form!r}: averaged or per-step")


def _model_options(config):
    options = dict(config.options)
    if config.model == "average":
        options["dropout"] = config.dropout
    return options


def best_model(config, record, input_dim, n_classes, device="cpu"):
    """The model of ``config`` with the weights of its best-validation epoch."""
    model = build(config.model, input_dim, config.hidden_dim, n_classes, init=config.init,
                  **_model_options(config))
    model.to(device=device, dtype=config.torch_dtype()).load_state_dict(record["best"]["model"])
    return model.eval()


def set_deterministic(device="cpu", fast=False, threads=None):
    """Deterministic kernels and exact float32 on ``device`` (``--fast``: TF32 allowed), with
    ``threads`` torch threads (default: every available core; the bits do not depend on it,
    ``common.reproducible.training_threads``)."""
    from common import devices
    from common.reproducible import training_threads
    devices.configure(device, fast)
    torch.set_num_threads(training_threads(threads))


def grid(config, lrs, hiddens):
    """The search grid around ``config`` (seed 0)."""
    return [TrainConfig(**{**asdict(config), "lr": lr, "hidden_dim": h, "seed": 0})
            for lr in lrs for h in hiddens]


def model_base(model, base, era=None):
    """``base`` for ``model``: the configuration's model options and precision applied
    (``era``: a ``configs.Configuration``, default the one ``base.config`` names)."""
    from configurations import get
    era = era or get(base.config)
    return TrainConfig(**{**asdict(base), "model": model, "dtype": era.dtype, "init": era.init,
                          "loss": era.loss, "options": {**era.model_options(model), **base.options}})


def stage_tasks(stage, splits, models, lrs, hiddens, seeds):
    """The units of work of a cluster stage, in a fixed order (a job array's task i does
    unit i): "search": (split, model, lr, hidden) with seed 0; "seeds": (split, model, seed)."""
    if stage == "search":
        return [(s, m, lr, h) for s in splits for m in models for lr in lrs for h in hiddens]
    return [(s, m, seed) for s in splits for m in models for seed in range(seeds)]


def run_model(model, base, lrs, hiddens, seeds, data, n_classes, out_dir, progress=True,
              era=None, device="cpu", initial=None):
    """Search (seed 0), then train the chosen setting with every seed and test each run once.

    ``era``: the ``configs.Configuration`` whose model options and precision are applied
    (default: the one ``base.config`` names). The chosen setting is the one with the best validation accuracy (ties: the
    first in grid order). Returns a dict with the search, the runs (each with its test
    probabilities) and the mean/std over seeds. ``initial``: None, or a function of a run's
    ``TrainConfig`` giving the weights it starts from (``train_run``'s ``initial``).
    """
    train, val, test = (Split(s.x.to(device), s.y.to(device)) for s in data)   # once
    search, chosen, runs = search_then_seeds(
        model_base(model, base, era), lrs, hiddens, seeds, train, val, n_classes, out_dir,
        lambda seed, record, net: tested_run(seed, record, evaluate(net, test)),   # once
        progress, device, initial)
    return {"model": model, "chosen": asdict(chosen), "search": searched(search),
            "runs": runs, **summary(runs)}


def search_then_seeds(base, lrs, hiddens, seeds, train, val, n_classes, out_dir, test,
                      progress=True, device="cpu", initial=None):
    """The protocol of every table: ``grid(base, lrs, hiddens)`` trained with seed 0, the
    setting with the best validation accuracy chosen (ties: the first in grid order), then that
    setting trained with every seed and ``test(seed, record, best-epoch model)`` called once per
    seed, right after its training. Returns (search [(val_acc, config)], chosen, the tests'
    results in seed order). ``initial``: as ``run_model``'s."""
    search = []
    for config in grid(base, lrs, hiddens):
        record = train_run(config, train, val, n_classes, out_dir, progress, device,
                           initial and initial(config))
        search.append((record["best"]["val_acc"], config))
    chosen = max(search, key=lambda item: item[0])[1]  # max keeps the first of equals
    tested = []
    for seed in seeds:
        config = TrainConfig(**{**asdict(chosen), "seed": seed})
        record = train_run(config, train, val, n_classes, out_dir, progress, device,
                           initial and initial(config))
        net = best_model(config, record, train.x.shape[-1], n_classes, device)
        tested.append(test(seed, record, net))
    return search, chosen, tested


def searched(search):
    """The search's record for a result: [{lr, hidden_dim, val_acc}] from (val_acc, config)."""
    return [{"lr": c.lr, "hidden_dim": c.hidden_dim, "val_acc": v} for v, c in search]


def tested_run(seed, record, tested):
    """One entry of a result's "runs": ``train_run``'s ``record`` of seed ``seed`` and
    ``tested``, its best epoch's (accuracy, loss, p) on the test split (``evaluate``)."""
    test_acc, test_loss, p = tested
    return {"seed": seed, "best_epoch": record["best"]["epoch"],
            "train_acc": record["best"]["train_acc"], "val_acc": record["best"]["val_acc"],
            "test_acc": test_acc, "test_loss": test_loss, "history": record["history"],
            "test_predictions": p.argmax(dim=1).tolist(), "test_probabilities": p.double().numpy()}


def summary(runs):
    """Mean and standard deviation (over seeds) of the accuracies."""
    out = {}
    for key in ("train_acc", "val_acc", "test_acc"):
        values = np.array([r[key] for r in runs], dtype=float)
        out[key + "_mean"] = float(values.mean())
        out[key + "_std"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
    return out


def store_paths(features_dir, split=1, layer="fc7", stream="rgb", views=None):
    """The store(s) to read for ``split``: the store of all three splits
    (``all_splits_{layer}.h5``, written by ``caffe_extract extract``; the motion stream's
    ``all_splits_{layer}_flow.h5``, a views store's ``all_splits_{layer}_{views}.h5``) where it
    exists, else the older per-split stores ``split{K}_{train,test}_{layer}.h5``. A clear
    error when neither is there."""
    from caffe_extract.store import store_name
    unified = os.path.join(features_dir, store_name(layer, stream, views=views))
    if os.path.exists(unified):
        return {"all": unified}
    paths = {s: os.path.join(features_dir, store_name(layer, stream, split, s, views))
             for s in ("train", "test")}
    if all(os.path.exists(p) for p in paths.values()):
        return paths
    how = ("" if layer == "fc7" else f" with --layer {layer}") + \
        ("" if stream == "rgb" else f" with --stream {stream}") + \
        ("" if views is None else f" with --views {views}")
    raise FileNotFoundError(f"no codes for split {split} in {features_dir}: expected {unified} "
                            f"(or {paths['train']} and {paths['test']}); run the extraction{how} "
                            "first (`make extract`, or `make demo` for the synthetic set)")


def load_data(features_dir, split=1, layer="fc7", val_groups=3, val_seed=0, stream="rgb",
              views=None):
    """(train, val, test, info) for official ``split``: val carved from its train list by groups;
    ``stream``: the frames' codes ("rgb") or the optical flow's ("flow"); ``views``: None, or
    the views store's ("oversample": x (N, V, T, D) as stored, float32 or float16: a float16
    store stays float16 in memory, half the size, each minibatch converted exactly)."""
    from caffe_extract.store import (StoreError, check_compatible, check_contents, check_stream,
                                     read_store)
    from caffe_extract.ucf101 import TEST, TRAIN, Video, validation_split
    paths = store_paths(features_dir, split, layer, stream, views)
    if "all" in paths:
        store = read_store(paths["all"], views=views is not None)
        check_contents(store, paths["all"])
        check_stream(store, paths["all"], stream)
        if "split_membership" not in store:
            raise ValueError(f"{paths['all']} has no split_membership dataset: not a store of "
                             "all splits; extract it again with `python -m caffe_extract extract`")
        role = store["split_membership"][:, split - 1]
        stores = {"train": _subset(store, role == TRAIN), "test": _subset(store, role == TEST)}
        del store                              # the subsets are copies: 2.2 GB less held
        paths = {"train": paths["all"], "test": paths["all"]}
    else:
        stores = {s: read_store(p, views=views is not None) for s, p in paths.items()}
        for s, p in paths.items():
            check_contents(stores[s], p)
            check_stream(stores[s], p, stream)
        check_compatible(stores["train"], stores["test"], paths["train"], paths["test"])
    train_store = stores["train"]
    if not len(train_store["labels"]) or not len(stores["test"]["labels"]):
        raise ValueError(f"split {split} has an empty train or test set in {paths['train']}")
    empty = sorted(set(range(len(train_store["classes"]))) - set(train_store["labels"].tolist()))
    if empty:
        raise StoreError(f"{paths['train']}: classes: {train_store['classes'][empty[0]]} (label "
                         f"{empty[0]}) has no video in split {split}'s train list; the store lists "
                         f"{len(train_store['classes'])} classes, its videos use "
                         f"{len(train_store['classes']) - len(empty)}")
    videos = [Video(v, int(l), int(g), 0) for v, l, g in
              zip(train_store["video"], train_store["labels"], train_store["group"])]
    n_groups = len({v.group for v in videos})
    if not 0 < val_groups < n_groups:
        raise ValueError(f"--val-groups {val_groups}: split {split}'s train list in "
                         f"{paths['train']} has {n_groups} groups; hold out 1 to {n_groups - 1}")
    kept, held = validation_split(videos, n_groups=val_groups, seed=val_seed)
    held_paths = {v.path for v in held}
    is_val = np.array([v in held_paths for v in train_store["video"]])

    def split_of(store, mask=None):
        mask = np.ones(len(store["labels"]), bool) if mask is None else mask
        return Split(torch.from_numpy(np.ascontiguousarray(store["features"][mask])),  # float16
                     torch.from_numpy(store["labels"][mask].astype(np.int64)))         # stays so

    info = {"classes": list(train_store["classes"]), "attrs": train_store["attrs"],
            "test_attrs": stores["test"]["attrs"], "val_groups": sorted({v.group for v in held}),
            "test_videos": list(stores["test"]["video"]), "split": split,
            "train_store": paths["train"], "test_store": paths["test"]}
    return (split_of(train_store, ~is_val), split_of(train_store, is_val),
            split_of(stores["test"]), info)


def _subset(store, mask):
    """The rows ``mask`` of a store read by ``read_store`` (attrs and classes kept)."""
    return {k: (v[mask] if isinstance(v, np.ndarray) and k not in ("classes", "failed_video",
                                                                   "failed_reason") else v)
            for k, v in store.items()}


def features_dir(path):
    """argparse type of --features: a readable folder, with the hint to extract first."""
    from common import cli
    return cli.existing_dir(path, hint=": run the extraction first (`make extract`, or `make "
                                       "demo` for the synthetic set)")


def finite_history(results):
    """Refuse to report runs whose losses are not finite (a last step that made the weights
    NaN): a table of such networks would report chance as if it were a result."""
    for result in results:
        for run in result["runs"]:
            for row in run["history"]:
                if not all(np.isfinite(row[k]) for k in ("train_loss", "val_loss")):
                    raise NonFiniteLoss(f"{row['run']}: the loss became non-finite at epoch "
                                        f"{row['epoch']}; no results written (try a smaller --lr)")


def main(argv=None):
    from common import cli, devices
    from common.errors import describe

    from configurations import CONFIGS, DEFAULT, get

    from . import outputs
    parser = argparse.ArgumentParser(prog="python -m experiment.train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--features", default="features", type=features_dir, help="folder of the HDF5 stores (%(default)s)")
    parser.add_argument("--config", default=DEFAULT, choices=sorted(CONFIGS),
                        help="paper (default): the paper's text, and the nntools code of its "
                             "weeks where the text is silent; nntools-2015, lasagne-0.1, modern "
                             "(python -m configurations prints every knob)")
    parser.add_argument("--splits", nargs="+", type=int, default=[1], choices=(1, 2, 3),
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
    parser.add_argument("--lr", nargs="+", type=cli.learning_rate, default=[0.003, 0.001],
                        help="search grid")
    parser.add_argument("--hidden", nargs="+", type=cli.integer(1, 16384), default=[512],
                        help="search grid")
    parser.add_argument("--seeds", type=cli.integer(1, 1000), default=3,
                        help="seeds for the chosen setting")
    parser.add_argument("--epochs", type=cli.integer(1, 100_000), default=80)
    parser.add_argument("--patience", type=cli.integer(0, 100_000), default=25,
                        help="early stopping (0: off)")
    parser.add_argument("--batch-size", type=cli.integer(1, 1_000_000), default=64)
    parser.add_argument("--momentum", type=cli.fraction, default=0.9)
    parser.add_argument("--dropout", type=cli.fraction, default=0.5, help="the Average model's")
    parser.add_argument("--val-groups", type=cli.integer(1, 99), default=3,
                        help="groups held out for validation")
    parser.add_argument("--device", default="auto", choices=devices.CHOICES,
                        help="where to train: auto = CUDA when available (%(default)s)")
    parser.add_argument("--fast", action="store_true",
                        help="allow TF32 on the GPU (faster, not exact float32; tables say so)")
    parser.add_argument("--threads", type=cli.integer(1, 1024), default=None,
                        help="CPU threads (default: every core this process may use); the "
                             "results are the same bits with any count")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--stage", choices=("all", "search", "seeds"), default="all",
                        help="on a cluster (scripts/slurm_train.sh): 'search' trains one grid "
                             "point (seed 0), 'seeds' one seed of the chosen setting, as job-"
                             "array task --task; 'all' (default) does everything and reports, "
                             "reusing every run already done")
    parser.add_argument("--task", type=cli.integer(0, 10_000_000), default=None, help="the job-array task (0-based)")
    parser.add_argument("--count", action="store_true", help="print the number of tasks of "
                        "--stage and exit")
    args = parser.parse_args(argv)
    if args.stage != "all":
        tasks = stage_tasks(args.stage, list(dict.fromkeys(args.splits)), args.models, args.lr,
                            args.hidden, args.seeds)
        if args.count:
            print(len(tasks))
            return 0
        if args.task is None or not 0 <= args.task < len(tasks):
            print(f"error: --stage {args.stage} needs --task between 0 and {len(tasks) - 1}",
                  file=sys.stderr)
            return 1
    try:
        device = devices.resolve(args.device)
        outputs.claim(args.out, "experiment.train", {"--features": args.features})
    except (devices.DeviceError, outputs.OutputFolderError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    set_deterministic(device, args.fast, args.threads)
    from experiment.report import banner, write_results, write_split_summary
    era = get(args.config)
    settings = {k: v for k, v in vars(args).items()          # threads: speed only, not bits
                if k not in ("no_progress", "stage", "task", "count", "threads")}
    settings["device"] = devices.describe(device, args.fast)
    base = TrainConfig(config=era.name, epochs=args.epochs, patience=args.patience,
                       batch_size=args.batch_size, momentum=args.momentum, dropout=args.dropout)
    splits = list(dict.fromkeys(args.splits))
    if args.stage != "all":
        return run_task(args, tasks[args.task], base, device, len(splits) > 1)
    per_split = []
    for split in splits:
        out = args.out if len(splits) == 1 else os.path.join(args.out, f"split{split}")
        try:
            train, val, test, info = load_data(args.features, split, args.layer, args.val_groups,
                                               stream=args.stream)
        except (OSError, ValueError) as error:
            print(f"error: {describe(error)}", file=sys.stderr)
            return 1
        note = banner(info["attrs"])
        if note:
            print(note, file=sys.stderr)
        os.makedirs(out, exist_ok=True)
        results = []
        for model in args.models:
            print(f"== split {split}, {model} ({era.name}): search lr {args.lr} x hidden "
                  f"{args.hidden}, then {args.seeds} seeds", file=sys.stderr)
            try:
                results.append(run_model(model, base, args.lr, args.hidden, range(args.seeds),
                                         (train, val, test), len(info["classes"]), out,
                                         progress=not args.no_progress, device=device))
            except (CheckpointError, NonFiniteLoss, OSError) as error:
                print(f"error: {describe(error)}", file=sys.stderr)
                return 1
        try:
            finite_history(results)
            table = write_results(out, results, info, {**settings, "splits": [split]},
                                  (train, val, test), era)
        except (NonFiniteLoss, OSError) as error:
            print(f"error: {describe(error)}", file=sys.stderr)
            return 1
        print(table)
        per_split.append((split, results, info))
    if len(splits) > 1:
        print(write_split_summary(args.out, per_split, settings, era))
    return 0


def run_task(args, unit, base, device, several_splits):
    """One job-array task of a cluster stage: train its run(s), write no report."""
    from common.errors import describe
    split = unit[0]
    out = os.path.join(args.out, f"split{split}") if several_splits else args.out
    try:
        train, val, test, info = load_data(args.features, split, args.layer, args.val_groups,
                                               stream=args.stream)
        n_classes = len(info["classes"])
        if args.stage == "search":
            _, model, lr, hidden = unit
            config = grid(model_base(model, base), [lr], [hidden])[0]
            data = [Split(s.x.to(device), s.y.to(device)) for s in (train, val)]
            train_run(config, *data, n_classes, out, not args.no_progress, device)
        else:
            _, model, seed = unit
            run_model(model, base, args.lr, args.hidden, [seed], (train, val, test), n_classes,
                      out, progress=not args.no_progress, device=device)
    except (OSError, ValueError, CheckpointError, NonFiniteLoss) as error:
        print(f"error: {describe(error)}", file=sys.stderr)
        return 1
    print(f"task {args.task} ({args.stage}: {unit}) done", file=sys.stderr)
    return 0

