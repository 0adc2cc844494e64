"""A run's checkpoints: when one is due (every ``CHECKPOINT_SECONDS`` of training and after the
last epoch), how it is written (all or nothing), read back (checked) and resumed from. A
checkpoint is a plain state dict, loadable with ``torch.load(weights_only=True)``.
"""
import io
import json
import os
import time
import warnings
from dataclasses import asdict

import numpy as np
import torch

from common.files import write_atomic


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be resumed from (names the file and what is wrong)."""


#: Seconds of training a crash may cost (plus the epoch it interrupts): a run is saved after any
#: epoch that ends this long after its previous save, and always after its last (docs/training.md,
#: "Crash-proof"). TRAIN_CHECKPOINT_SECONDS overrides it (0: after every epoch).
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


def atomic_save(obj, path):
    """Write ``obj`` (torch.save's format) to ``path`` all or nothing: serialised in memory,
    written to a temporary file, synced, renamed. Python's own write raises the OSError a full
    disk deserves (torch.save's writer would only say 'iostream error')."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    write_atomic(path, buffer.getbuffer(), sync=True)


def load_checkpoint(path, config, data=None):
    """The saved state of run ``config`` at ``path``, checked: a clear ``CheckpointError`` for
    a damaged file, a file that is not a plain state dict, or another run's checkpoint: other
    settings, or other codes where ``data`` is given ({"train": ..., "val": ...}, each a
    ``Split.digest``) and the checkpoint records its own (written since it does)."""
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
                              f"{', '.join(differ) or 'its fields'}): give the settings it "
                              "was trained with, or train into another folder")
    trained_on = saved.get("data")
    if data is not None and trained_on is not None and trained_on != data:
        differ = " and ".join(k for k in data if trained_on.get(k) != data[k])
        raise CheckpointError(f"{path} was trained on other codes than these (its {differ} set "
                              "differs: another split, stream, layer, store or --val-groups); "
                              "give the codes it trained on, or train into another folder")
    return saved


def restore(saved, path, model, optimizer, shuffle, device="cpu"):
    """Resume from checkpoint ``saved`` (read from ``path`` by ``load_checkpoint``): its
    weights, momentum and random states into ``model``, ``optimizer``, ``shuffle`` and torch."""
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


def keep_timings_to(path, epoch):
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
    write_atomic(path, "".join(kept))


def save(path, state, model, optimizer, shuffle, device="cpu"):
    """Checkpoint ``state`` with everything a resume needs: the weights, the optimiser's
    momentum, the shuffling's and torch's random states (and the GPU's, for dropout there)."""
    rngs = {"shuffle_rng": shuffle.get_state(), "torch_rng": torch.get_rng_state()}
    if str(device).startswith("cuda"):
        rngs["cuda_rng"] = torch.cuda.get_rng_state(torch.device(device))
    atomic_save({**state, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                 **rngs}, path)


def write_log(path, history):
    """OUT/logs/RUN.jsonl: the history, one epoch a line, rewritten from the checkpoint's."""
    write_atomic(path, "".join(json.dumps(row) + "\n" for row in history))


def append_timing(path, epoch, clock):
    """One line of OUT/logs/RUN.seconds.jsonl: the seconds of the epoch's training pass,
    validation pass and checkpoint (``clock``: the four times that bound them)."""
    seconds = np.diff(clock).round(4).tolist()
    with open(path, "a") as f:
        f.write(json.dumps({"epoch": epoch, **dict(zip(("train_s", "val_s", "checkpoint_s"),
                                                       seconds))}) + "\n")
