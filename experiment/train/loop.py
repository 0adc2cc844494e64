"""The one training loop, ``fit``: every model of the project trains through it (the paper's
classifiers, the LSTM autoencoder's pretraining, CaffeNet's fine-tuning; docs/development.md,
"Inside experiment/").

    record = fit(settings, make, (train, val), out_dir, Classification())

OUT/logs/RUN.jsonl holds the history as of the checkpoint, OUT/logs/RUN.seconds.jsonl each
epoch's timings (kept out of the history: timings vary).
"""
import os
import time
from dataclasses import asdict

import torch

from common.devices import DeviceError
from common.processes import WorkerDied

from . import graphs
from .checkpoints import (CheckpointClock, CheckpointError, append_timing, keep_timings_to,
                          load_checkpoint, restore, save, write_log)
from .data import trained_on


class NonFiniteLoss(ArithmeticError):
    """The training loss became NaN or infinite: the run stops, and no results are written."""


#: The errors a user can cause in training, said in one line by every command (``guarded``).
ERRORS = (OSError, ValueError, CheckpointError, NonFiniteLoss, DeviceError, WorkerDied)


def fit(settings, make, data, out_dir, objective, progress=True, device="cpu"):
    """Train run ``settings`` (resuming from OUT/checkpoints/RUN.pt) on ``data`` = (train, val)
    ``Split``s (their digests kept in the checkpoint: a rerun on other codes is refused, never
    resumed): ``make(settings, device)`` builds the model and its optimiser, ``objective`` says
    the loss, what validation measures and which epoch is best (``Classification``). Stops
    after ``settings.patience`` epochs without a better one (0: never), checkpoints on
    ``CheckpointClock``; returns its record {"epoch", "history", "best", "config", "stopped"}.
    Each step and validation pass is eager, or a replayed CUDA graph (``graphs``, switched on)."""
    from tqdm import tqdm
    for folder in ("checkpoints", "logs"):
        os.makedirs(os.path.join(out_dir, folder), exist_ok=True)
    run_id = settings.run_id()
    path = os.path.join(out_dir, "checkpoints", run_id + ".pt")
    logs = os.path.join(out_dir, "logs", run_id)
    torch.manual_seed(settings.seed)
    model, optimizer = make(settings, device)
    step, forward = graphs.passes(model, optimizer, objective, device)
    train, val = (objective.inputs(split) for split in data)
    shuffle = torch.Generator().manual_seed(settings.seed)
    codes = trained_on(*data)
    state = {"epoch": 0, "history": [], "best": None, "config": asdict(settings),
             "stopped": False}
    if os.path.exists(path):
        saved = load_checkpoint(path, settings, codes)
        restore(saved, path, model, optimizer, shuffle, device)
        state = {k: saved[k] for k in state}
    keep_timings_to(logs + ".seconds.jsonl", state["epoch"])
    bar = tqdm(total=settings.epochs, initial=state["epoch"], desc=run_id, unit="epoch",
               disable=not progress, dynamic_ncols=True, leave=False)
    checkpoint = CheckpointClock()
    for epoch in range(state["epoch"] + 1, settings.epochs + 1):
        if state["stopped"]:
            break
        clock = [time.perf_counter()]
        row = {"run": run_id, "epoch": epoch,
               **train_epoch(settings, model, step, (train, shuffle), objective, epoch)}
        clock.append(time.perf_counter())
        row.update(objective.validate(model, val, forward))
        clock.append(time.perf_counter())
        state["history"].append(row)
        if state["best"] is None or objective.better(row, state["best"]):
            state["best"] = {"epoch": epoch, **objective.best_entry(model, row)}
        state["epoch"] = epoch
        state["stopped"] = epoch - state["best"]["epoch"] >= getattr(settings, "patience", 0) > 0
        if checkpoint.due(epoch == settings.epochs or state["stopped"]):
            save(path, {**state, "data": codes}, model, optimizer, shuffle, device)
            write_log(logs + ".jsonl", state["history"])
        clock.append(time.perf_counter())
        append_timing(logs + ".seconds.jsonl", epoch, clock)
        bar.set_postfix(objective.postfix(row))
        bar.update(1)
    bar.close()
    return state


def train_epoch(settings, model, step, shuffled, objective, epoch):
    """One pass over the training split in the run's shuffled order (``shuffled``: the split
    and its generator), each minibatch through ``step`` (``graphs.passes``); returns the
    objective's training measures of the epoch."""
    train, shuffle = shuffled
    model.train()
    order = torch.randperm(len(train.y), generator=shuffle)
    objective.start_epoch()
    for start in range(0, len(order), settings.batch_size):
        batch = order[start:start + settings.batch_size].to(train.y.device)
        x, y = train.batch(batch, settings.seed, epoch).to(settings.torch_dtype()), train.y[batch]
        loss, out, finite = step(x, y)
        if not finite:
            raise NonFiniteLoss(
                f"{settings.run_id()}: the training loss became {float(loss.detach())} at "
                f"epoch {epoch}, batch {start // settings.batch_size + 1}; no results written "
                "(codes too large for this learning rate? try a smaller --lr)")
        objective.account(out, y, loss)
    return objective.epoch_result()


def set_deterministic(device="cpu", fast=False, threads=None):
    """Deterministic kernels and exact float32 on ``device`` (``--fast``: TF32 allowed), with
    ``threads`` torch threads (``common.reproducible.training_threads``: not the bits)."""
    from common import devices
    from common.reproducible import training_threads
    devices.configure(device, fast)
    torch.set_num_threads(training_threads(threads))
