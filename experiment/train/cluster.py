"""Runs as units of work, trained alike by a cluster's job-array tasks (``--stage search|seeds
--task i``, scripts/slurm_train.sh) and ``--jobs N``'s workers (``common.processes``): one grid
point with seed 0 ("search": split, model, lr, hidden) or one seed of the chosen setting
("seeds": split, model, seed); every search unit of a model must be done before its seeds' (a
seed unit refuses to start before).
A run's bits depend on neither the process nor the thread count, so the table made from the
finished runs is the one ``--jobs 1`` makes, byte for byte.
"""
import os
import sys
from dataclasses import dataclass, replace
from functools import lru_cache

import torch

from common import commands, devices
from common.processes import Task, run_all, share_of_threads
from configurations import get

from . import outputs
from .checkpoints import CheckpointError
from .data import load_data
from .loop import ERRORS, set_deterministic
from .protocol import Protocol, Runtime, read_run, run_model, train_run
from .settings import RunSettings, grid
from .stores import check_configuration, store_paths


def stage_tasks(stage, splits, models, lrs, hiddens, seeds):
    """The units of work of a cluster stage, in a fixed order (a job array's task i does
    unit i): "search": (split, model, lr, hidden) with seed 0; "seeds": (split, model, seed)."""
    if stage == "search":
        return [(s, m, lr, h) for s in splits for m in models for lr in lrs for h in hiddens]
    return [(s, m, seed) for s in splits for m in models for seed in range(seeds)]


def protocol_of(args):
    """The ``Protocol`` of the command ``args``: the settings every run starts from (model and
    grid aside), its grid and its seeds."""
    base = RunSettings(config=get(args.config).name, epochs=args.epochs, patience=args.patience,
                       batch_size=args.batch_size, momentum=args.momentum, dropout=args.dropout)
    return Protocol(base, tuple(args.lr), tuple(args.hidden), tuple(range(args.seeds)))


def split_folder(out, split, several_splits):
    """Where split ``split``'s runs and tables go: OUT, or OUT/split{K} for several splits."""
    return os.path.join(out, f"split{split}") if several_splits else out


@dataclass(frozen=True)
class Work:
    """What a unit needs of the command (picklable, for a worker process): where the codes
    are and how they are split, the protocol, where runs go, where they run."""

    features: str
    layer: str
    stream: str
    val_groups: int
    out: str
    several_splits: bool
    protocol: Protocol
    device: str = "cpu"
    progress: bool = False

    @classmethod
    def of(cls, args, device):
        return cls(args.features, args.layer, args.stream, args.val_groups, args.out,
                   len(args.splits) > 1, protocol_of(args), str(device), not args.no_progress)


#: ``load_data``, its split read once per process (a worker trains several units)
cached_data = lru_cache(maxsize=1)(load_data)


def train_unit(work, stage, unit):
    """Train one unit's run (a unit already done is read back, not trained again)."""
    split = unit[0]
    out = split_folder(work.out, split, work.several_splits)
    data = cached_data(work.features, split, work.layer, work.val_groups, stream=work.stream)
    if stage == "search":
        _, model, lr, hidden = unit
        config = grid(work.protocol.of(model), [lr], [hidden])[0]
        train_run(config, data.train.to(work.device), data.val.to(work.device), data.n_classes,
                  out, work.progress, work.device)
    else:
        _, model, seed = unit
        unfinished = [c.run_id() for c in grid(work.protocol.of(model), work.protocol.lrs,
                                               work.protocol.hiddens)
                      if read_run(c, out, (data.train, data.val)) is None]
        if unfinished:          # a seed's setting is chosen from them: never trained here
            raise CheckpointError(f"{out}: the search runs {', '.join(unfinished)} have not "
                                  "finished: run every task of --stage search first")
        run_model(model, replace(work.protocol, seeds=(seed,)), data, out,
                  Runtime(work.device, work.progress))
    return unit


def check_before_training(args):
    """Refuse the command ``args`` before any of its runs trains, not after (a cluster's tasks
    included): codes of another configuration's extraction (``check_configuration``), and
    --out's table of other settings that its table would replace (``outputs.check_table``;
    each split's and the summary over splits)."""
    several = len(args.splits) > 1
    for split in args.splits:
        check_configuration(store_paths(args.features, split, args.layer, args.stream).values(),
                            get(args.config))
        outputs.check_table(os.path.join(split_folder(args.out, split, several), "table.json"),
                            {**vars(args), "splits": [split]})
    if several:
        outputs.check_table(os.path.join(args.out, "table.json"), vars(args))


def run_stage(args):
    """One job-array task of a cluster stage (``--stage``, ``--task``; ``--count``: how many
    there are, once ``check_before_training`` passed): train its run(s), write no report."""
    tasks = stage_tasks(args.stage, args.splits, args.models, args.lr, args.hidden, args.seeds)
    if not args.count and (args.task is None or not 0 <= args.task < len(tasks)):
        print(f"error: --stage {args.stage} needs --task between 0 and {len(tasks) - 1}",
              file=sys.stderr)
        return 1

    def task():
        check_before_training(args)
        if args.count:
            print(len(tasks))
            return 0
        device = devices.resolve(args.device)
        set_deterministic(device, args.fast, args.threads)
        with outputs.claimed(args.out, "experiment.train", {"--features": args.features},
                             shared=True):            # the stage's other tasks write beside it
            unit = train_unit(Work.of(args, device), args.stage, tasks[args.task])
        print(f"task {args.task} ({args.stage}: {unit}) done", file=sys.stderr)
        return 0
    return commands.guarded(task, ERRORS)


def train_in_parallel(args, device):
    """Train every run of the command ``args`` in ``args.jobs`` processes: the search units,
    then (their choices made) the seed units. Nothing is reported here."""
    quiet = replace(Work.of(args, device), progress=False)
    threads = share_of_threads(torch.get_num_threads(), args.jobs)
    for stage in ("search", "seeds"):
        units = stage_tasks(stage, args.splits, args.models, args.lr, args.hidden, args.seeds)
        run_all([Task(f"{stage} {unit}", run_unit, (quiet, stage, unit, threads, args.fast))
                 for unit in units], args.jobs, desc=f"{stage} runs",
                progress=not args.no_progress,
                rerun_hint="rerun the same command: it resumes from the saved runs")


def run_unit(work, stage, unit, threads, fast):
    """A worker's unit: its kernels set as the parent's (``threads`` threads), then trained."""
    set_deterministic(work.device, fast, threads)
    return train_unit(work, stage, unit)
