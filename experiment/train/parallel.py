"""``python -m experiment.train --jobs N``: the grid's runs, then the chosen settings' seeds, N
at once (``common.processes``). A run's bits do not depend on the process or the thread count,
so the table made from the finished runs is the one ``--jobs 1`` makes, byte for byte.
"""
from dataclasses import replace

import torch

from common.processes import Task, run_all, share_of_threads

from .cluster import Work, stage_tasks, train_unit


def train_in_parallel(args, device):
    """Train every run of the command ``args`` in ``args.jobs`` processes: the search units,
    then (their choices made) the seed units. Nothing is reported here."""
    work = Work.of(args, device)
    quiet = replace(work, progress=False)
    threads = share_of_threads(torch.get_num_threads(), args.jobs)
    for stage in ("search", "seeds"):
        units = stage_tasks(stage, args.splits, args.models, args.lr, args.hidden, args.seeds)
        run_all([Task(f"{stage} {unit}", run_unit, (quiet, stage, unit, threads, args.fast))
                 for unit in units], args.jobs, desc=f"{stage} runs",
                progress=not args.no_progress,
                rerun_hint="rerun the same command: it resumes from the saved runs")


def run_unit(work, stage, unit, threads, fast):
    """A worker's unit: its kernels set as the parent's (``threads`` threads), then trained."""
    from .loop import set_deterministic
    set_deterministic(work.device, fast, threads)
    return train_unit(work, stage, unit)
