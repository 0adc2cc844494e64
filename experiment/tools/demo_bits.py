"""Where the demo's bits part: a SHA-256 per stage, recorded once and compared by `make demo`.

    python -m experiment.tools.demo_bits check --data demo/data --store demo/features-paper \
        --results results/demo-paper --config paper                           (make demo)
    python -m experiment.tools.demo_bits record ...    (after a demo run whose table is the README's)

The stages, in the order the data flows (``stages``; ``COMPUTED_BY`` says what computes each):

    synthetic videos    demo/data: every video file and split list
    code store          demo/features-paper/all_splits_fc7.h5: its datasets, not its attributes
                        (those name paths and the commit)
    checkpoint RUN      each results/demo-paper/checkpoints/RUN.pt's weights
    predictions         results/demo-paper/predictions.csv
    table               results/demo-paper/table.json without the paths and the commit

The record (``results/demo-bits/CONFIG.json``, committed) holds the recording machine's CPU and
kernels and the README rows its table gives (tests/test_docs.py checks the README against
those, not against a checkout's demo folder). On a difference ``check`` names the first stage
that differs (the later ones follow from it) and both machines' CPUs and kernels. Exit status:
0 the same bits, 3 a stage differs, 1 the demo's files are missing or unreadable; in fast mode
(``make demo FAST=1``) differences are expected and reported, not failed.
"""
import argparse
import glob
import hashlib
import json
import os
import pathlib
import sys

import common  # noqa: F401  (isort: skip)  first: pins the CPU kernels

RECORDS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                       "results", "demo-bits")
#: what computes each stage (said on a difference)
COMPUTED_BY = {"synthetic videos": "ffmpeg's libxvid encoder",
               "code store": "video decoding (PyAV), caffe.io's preprocessing, pycaffe's "
                             "CaffeNet (OpenBLAS)",
               "checkpoint": "torch's training (MKL's matmuls, ATen's kernels)",
               "predictions": "torch's evaluation of the checkpoints",
               "table": "the statistics (numpy, scipy) over the predictions"}


def tree_digest(root):
    """SHA-256 over every file under ``root``: relative paths (sorted) and contents."""
    digest = hashlib.sha256()
    for path in sorted(glob.glob(os.path.join(root, "**", "*"), recursive=True)):
        if os.path.isfile(path):
            digest.update(os.path.relpath(path, root).encode() + b"\0")
            digest.update(pathlib.Path(path).read_bytes())
    return digest.hexdigest()


def store_digest(path):
    """SHA-256 of a code store's datasets (names sorted), not of its attributes; text datasets
    by their values (an object array's bytes would be pointers)."""
    import h5py
    import numpy as np
    digest = hashlib.sha256()
    with h5py.File(path, "r") as f:
        for name in sorted(f):
            data = np.asarray(f[name][()])
            digest.update(name.encode() + b"\0" + str(data.dtype).encode() + b"\0")
            if data.dtype.kind == "O":
                digest.update(repr(data.ravel().tolist()).encode())
            else:
                digest.update(np.ascontiguousarray(data).tobytes())
    return digest.hexdigest()


def weights_digest(path):
    import torch
    digest = hashlib.sha256()
    for name, tensor in sorted(torch.load(path, weights_only=True)["model"].items()):
        digest.update(name.encode() + b"\0" + tensor.cpu().numpy().tobytes())
    return digest.hexdigest()


def table_digest(path):
    """SHA-256 of table.json without what names folders: its "provenance" (the store's paths,
    the commit) and the settings' "features" and "out"."""
    table = json.loads(pathlib.Path(path).read_text())
    table.pop("provenance", None)
    for key in ("features", "out"):
        table.get("settings", {}).pop(key, None)
    return hashlib.sha256(json.dumps(table, sort_keys=True).encode()).hexdigest()


def stages(data, store, results):
    """[(stage, sha256)] in data-flow order, for the videos and split lists in ``data``, the
    code store in folder ``store`` and the results in ``results``; FileNotFoundError names a
    missing file."""
    store = os.path.join(store, "all_splits_fc7.h5")
    needed = [data, store, os.path.join(results, "checkpoints"),
              os.path.join(results, "predictions.csv"), os.path.join(results, "table.json")]
    for path in needed:
        if not os.path.exists(path):
            raise FileNotFoundError(f"{path} does not exist: run `make demo` first")
    out = [("synthetic videos", tree_digest(data)), ("code store", store_digest(store))]
    out += [(f"checkpoint {os.path.basename(path)[:-3]}", weights_digest(path))
            for path in sorted(glob.glob(os.path.join(results, "checkpoints", "*.pt")))]
    out += [("predictions", hashlib.sha256(pathlib.Path(needed[3]).read_bytes()).hexdigest()),
            ("table", table_digest(needed[4]))]
    return out


def machine():
    """This machine's CPU and the kernels in effect (torch and pycaffe's OpenBLAS loaded)."""
    import torch  # noqa: F401  (ATen's capability)

    from common import cpu
    cpu.load_openblas()
    return {**cpu.identity(), "flags": " ".join(cpu.flags()), "kernels": cpu.kernels()}


def compare(recorded, found):
    """The first stage whose digest differs (None: none), and the per-stage lines."""
    found, known = dict(found), dict(recorded)
    extra = [stage for stage in found if stage not in known]
    lines = [f"  {'same   ' if found.get(s) == d else 'DIFFERS'}  {s}" for s, d in recorded]
    lines += [f"  EXTRA    {stage} (not in the record)" for stage in extra]
    differing = [s for s, d in recorded if found.get(s) != d] + extra
    return (differing[0] if differing else None), lines


def describe_machine(m):
    kernels = ", ".join(f"{k} {v}" for k, v in m["kernels"].items() if v is not None)
    return f"{m['vendor']} {m['model']}\n    flags: {m['flags']}\n    kernels: {kernels}"


def check(record_path, data, store, results, environ=os.environ):
    """(exit status, report)."""
    record = json.loads(pathlib.Path(record_path).read_text())
    found = stages(data, store, results)
    first, lines = compare([tuple(s) for s in record["stages"]], found)
    if first is None:
        return 0, f"demo bits: every stage equals the record ({record_path}):\n" + "\n".join(lines)
    kind = first.split(" ")[0] if first.startswith("checkpoint") else first
    report = "\n".join([
        f"demo bits: DIFFER from the record ({record_path}):", *lines,
        f"the first stage that differs: {first} (computed by {COMPUTED_BY.get(kind, kind)}); "
        "the later stages follow from it",
        "this machine: " + describe_machine(machine()),
        "recorded on:  " + describe_machine(record["machine"]),
        "Please report this with the lines above (README, 'Bit for bit')."])
    from common.reproducible import mode
    if mode(environ) == "fast":
        return 0, report + "\n(fast mode: kernels not pinned, so differences are expected)"
    return 3, report


def record(record_path, data, store, results, config="paper"):
    os.makedirs(os.path.dirname(os.path.abspath(record_path)), exist_ok=True)
    from common.files import write_atomic
    from .readme_check import rows
    table_rows = rows(json.loads(pathlib.Path(results, "table.json").read_text()))
    made = {"config": config, "machine": machine(), "stages": stages(data, store, results),
            "readme_rows": table_rows}
    write_atomic(record_path, json.dumps(made, indent=1) + "\n")
    return made


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m experiment.tools.demo_bits",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["check", "record"])
    parser.add_argument("--data", default="demo/data", help="videos and split lists (%(default)s)")
    parser.add_argument("--store", default="demo/features-paper",
                        help="the code store's folder (%(default)s)")
    parser.add_argument("--results", default="results/demo-paper", help="(%(default)s)")
    parser.add_argument("--config", default="paper", help="the configuration (%(default)s)")
    parser.add_argument("--record", help="the record (default results/demo-bits/CONFIG.json)")
    args = parser.parse_args(argv)
    record_path = args.record or os.path.join(RECORDS, f"{args.config}.json")
    try:
        if args.command == "record":
            record(record_path, args.data, args.store, args.results, args.config)
            print(f"demo bits: recorded in {record_path}")
            return 0
        if not os.path.exists(record_path):
            print(f"demo bits: no record for CONFIG={args.config} ({record_path}); nothing to "
                  "compare")
            return 0
        status, report = check(record_path, args.data, args.store, args.results)
    except (OSError, KeyError, ValueError) as error:
        print(f"error: demo bits: {error}", file=sys.stderr)
        return 1
    print(report, file=sys.stdout if status == 0 else sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
