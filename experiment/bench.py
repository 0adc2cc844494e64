"""Benchmark: each paper model's training epoch at UCF-101 split 1's size, against its GEMM bound.

    python -m experiment.bench [--device cpu] [--sample 2048] [--out bench/training.md]

For each of the four models in the default configuration (``paper``) and the default optimiser
(SGD, Nesterov momentum, batches of 64), ``train_run`` itself is timed for one epoch
(training pass, validation pass, checkpoint) on random codes shaped like split 1: 9,537
training-list videos of 10 x 4096 float32 codes, of which 3 of its 18 groups (about 1,590 videos) are the
validation set and 7,947 are trained on. ``--sample`` times that many training videos (and a
validation set in proportion) and scales its passes to the full size (linear in videos); the
checkpoint, once per epoch, is added as measured (an upper bound for epochs shorter than
``train.CHECKPOINT_SECONDS``, which are saved only every few).

The bound: the FLOPs of the epoch's matrix products (``epoch_flops``: forward and weight
gradients of every GEMM, input gradients of all but the codes, which need none; the validation
forward) divided by a fp32 GEMM peak measured in this run (``gemm_peak``: the best of the
epoch's own shapes and a square 2048 product). Other processes share this machine's cores, so
the peak is measured again before each timed epoch, the epoch is timed ``--repeats`` times, and
the table keeps each model's fastest epoch and, for every model, the highest peak of the run
(the machine's limit is one number). ratio = epoch / bound.

Side by side, the same training step (forward, backward, update of one batch of 64) on our
layers, on ``torch.nn.RNN``/``LSTM`` (same readout, cuDNN-style fused kernels; the LSTM without
peepholes, which torch.nn lacks) and, with ``--theano`` (`make bench` adds it where the oracle
exists), on the paper's own stack (Theano 1.0.5 + Lasagne 0.1 in ``.venv-oracle``, CPU, its C
ops compiled with g++, numpy's OpenBLAS with as many threads as ours; the first run compiles
for about a minute and a half per model, cached after; minutes per step without a compiler).

Projected: the four-model table of one split as `make train` runs it: per model 2 learning
rates (seed 0) + 2 more seeds = 4 runs of at most 80 epochs.

On the CPU, a profile of our training step says where the time between the epoch and its bound
goes (``step_profile``): the GEMMs' share and the rate they reached at the model's own shapes,
the optimiser's update, the batch gather, and the rest.

Threads: every core, as `make train` uses them (``--threads`` to change; the results' bits do
not depend on it, ``common.reproducible``), with the peak measured on as many.

Pinned and fast (``--modes pinned fast``, what `make bench` runs on the CPU): the epochs are
timed once with the kernels pinned (AVX2, MKL's strict branch: the same bits everywhere) and
once in fast mode (``ACTION_RNN_FAST=1``: AVX-512 where the CPU has it), each in its own
process (the pinning happens at import), one after the other in the same run; each mode's
ratio is to its own bound (its own GEMM peak), and the table gives both projected times.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import torch

from common import cli
from configurations import EXTRACTION, TRAINING
from rnn_models.models import time_averaged_log

T, D, H, C, BATCH = EXTRACTION.n_frames, 4096, TRAINING.hidden[0], 101, TRAINING.batch_size
SPLIT1_TRAIN_LIST, SPLIT1_VAL = 9_537, 1_590   # validation: 3 of the train list's 18 groups
SPLIT1_TRAIN = SPLIT1_TRAIN_LIST - SPLIT1_VAL
EPOCHS, RUNS_PER_MODEL = TRAINING.epochs, 4
MODELS = ("average", "rnn", "lstm", "birnn")
ORACLE_PYTHON = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                             ".venv-oracle", "bin", "python")


def forward_flops(model, n, t=T, d=D, h=H, c=C):
    """FLOPs of the matrix products of ``model``'s forward pass on n videos (2 per multiply-add).

    average: x_bar W_ih^T, h W_s^T (once per video); rnn: per step x_t W_ih^T, h W_hh^T,
    h W_ho^T, y W_s^T; lstm: the same with 4 gates (4H rows); birnn: two directions, one W_s.
    """
    if model == "average":
        return 2 * n * (d * h + h * c)
    gates = 4 if model == "lstm" else 1
    directions = 2 if model == "birnn" else 1
    per_step = directions * (d * gates * h + h * gates * h + h * h) + h * c
    return 2 * n * t * per_step


def input_flops(model, n, t=T, d=D, h=H, c=C):
    """FLOPs of the products whose input the codes are (they need no input gradient)."""
    if model == "average":
        return 2 * n * d * h
    gates = 4 if model == "lstm" else 1
    return 2 * n * t * (2 if model == "birnn" else 1) * d * gates * h


def step_flops(model, n, d=D, h=H, c=C, learn_init=True):
    """One training step on n videos: forward, weight gradients (= forward), input gradients
    (= forward, less the products that read the codes, and less h_0 W_hh^T's where h_0 = 0 is
    no parameter; the BiRNN's backward layer learns its initial state under the default
    ``learn_init``, so its first step's input gradient is computed)."""
    f = forward_flops(model, n, d=d, h=h, c=c)
    first_step = 0
    if model != "average":
        gates = 4 if model == "lstm" else 1
        fixed_starts = 1 if model != "birnn" or learn_init else 2
        first_step = 2 * n * fixed_starts * h * gates * h
    return 3 * f - input_flops(model, n, d=d, h=h, c=c) - first_step


def epoch_flops(model, n_train=SPLIT1_TRAIN, n_val=SPLIT1_VAL):
    """The epoch: a training step on every training video, a forward pass on the validation set."""
    return step_flops(model, n_train) + forward_flops(model, n_val)


def gemm_peak(device="cpu", repeats=5):
    """The best fp32 GEMM rate (FLOP/s) over the epoch's shapes and a square 2048 product."""
    shapes = [(BATCH * T, D, H), (BATCH * T, D, 4 * H), (D, BATCH * T, H), (2048, 2048, 2048)]
    best = 0.0
    for m, k, n in shapes:
        a = torch.randn(m, k, device=device)
        b = torch.randn(k, n, device=device)
        a @ b
        for _ in range(repeats):
            _sync(device)
            start = time.perf_counter()
            a @ b
            _sync(device)
            best = max(best, 2 * m * k * n / (time.perf_counter() - start))
    return best


def _sync(device):
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def codes(n, seed=0, device="cpu"):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, T, D, generator=generator).abs_()                 # post-ReLU-like
    y = torch.randint(0, C, (n,), generator=generator)
    return x.to(device), y.to(device)


def time_epoch(model, train, val, device, out_dir, scale=1.0):
    """Seconds of one epoch of ``train_run`` (default configuration, lr 0.001): its training
    and validation passes scaled by ``scale`` (videos), plus its checkpoint (counted once per
    epoch: an upper bound, see the module docstring), as ``train_run`` logs them in
    OUT/logs/RUN.seconds.jsonl."""
    import shutil
    from .train import TrainConfig, model_base, train_run
    config = model_base(model, TrainConfig(model=model, hidden_dim=H, lr=0.001, epochs=1,
                                           patience=0))
    for folder in ("checkpoints", "logs"):                    # time a fresh epoch
        shutil.rmtree(os.path.join(out_dir, folder), ignore_errors=True)
    train_run(config, train, val, C, out_dir, False, device)
    with open(os.path.join(out_dir, "logs", config.run_id() + ".seconds.jsonl")) as f:
        t = json.loads(f.readline())
    return (t["train_s"] + t["val_s"]) * scale + t["checkpoint_s"]


class TorchNN(torch.nn.Module):
    """The paper's RNN / LSTM (peepholes off) / BiRNN on torch.nn's layers, our readout."""

    def __init__(self, model):
        super().__init__()
        kind = torch.nn.LSTM if model == "lstm" else torch.nn.RNN
        extra = {} if model == "lstm" else {"nonlinearity": "relu"}
        self.recurrent = kind(D, H, batch_first=True, bidirectional=model == "birnn", **extra)
        # BiRNN: one Linear over [h^f, h^b] = W_ho^f h^f + W_ho^b h^b + (b_o^f + b_o^b)
        self.out = torch.nn.Linear(H * (2 if model == "birnn" else 1), H)
        self.softmax = torch.nn.Linear(H, C)

    def log_probabilities(self, x):
        h, _ = self.recurrent(x)
        return time_averaged_log(torch.log_softmax(self.softmax(self.out(h)), dim=-1))


def time_steps(net, x, y, device, steps=3):
    """Median seconds of one training step (forward, backward, fused Nesterov SGD)."""
    from .train import TrainConfig, sgd
    optimizer = sgd(net, TrainConfig(lr=0.001), device)
    times = []
    for i in range(steps + 1):
        _sync(device)
        start = time.perf_counter()
        loss = torch.nn.functional.nll_loss(net.log_probabilities(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        _sync(device)
        times.append(time.perf_counter() - start)
    return sorted(times[1:])[len(times[1:]) // 2]


def paper_model(model, device):
    """``model`` as `make train` builds it by default (configuration ``paper``), seed 0."""
    from rnn_models import build
    from configurations import get
    torch.manual_seed(0)
    return build(model, D, H, C, **{**get("paper").model_options(model),
                                    **({"dropout": 0.5} if model == "average" else {})}).to(device)


GEMM_OPS = ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm")


def step_profile(model, device, steps=8):
    """Where a training step's time goes, as ``train_run`` runs it (batch gathered from the
    codes, loss, backward, fused SGD): torch.profiler's self time of each operator over
    ``steps`` steps of 64 videos after one warm-up step, as shares of the profiled wall time:
    GEMMs (with their achieved rate: the step's GEMM FLOPs over their time), the update (SGD's
    fused kernel), the gather of the batch, and the rest (elementwise work, autograd, Python).
    CPU only: on a GPU self CPU time is not the kernels' time."""
    from torch.profiler import ProfilerActivity, profile
    from .train import Split, TrainConfig, model_inputs, sgd, training_loss
    net = paper_model(model, device)
    optimizer = sgd(net, TrainConfig(lr=0.001), device)
    data = model_inputs(model, Split(*codes((steps + 1) * BATCH, seed=2, device=device)))
    batches = torch.randperm(len(data.y), generator=torch.Generator().manual_seed(0)).split(BATCH)

    def step(batch):
        loss, _ = training_loss(net, data.x[batch], data.y[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    step(batches[0])
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        start = time.perf_counter()
        for batch in batches[1:steps + 1]:
            step(batch)
        wall = time.perf_counter() - start
    self_s = {}
    for event in prof.key_averages():
        self_s[event.key] = self_s.get(event.key, 0.0) + event.self_cpu_time_total / 1e6
    parts = {"gemm": sum(self_s.get(op, 0.0) for op in GEMM_OPS),
             "update": self_s.get("aten::_fused_sgd_", 0.0),
             "gather": self_s.get("aten::index", 0.0)}
    parts["other"] = max(0.0, wall - sum(parts.values()))
    return {**{k: v / wall for k, v in parts.items()},
            "gemm_gflops": steps * step_flops(model, BATCH) / parts["gemm"] / 1e9}


def step_comparison(model, device, theano):
    """{implementation: seconds per training step of 64 videos}."""
    x, y = codes(BATCH, seed=1, device=device)
    out = {"ours": time_steps(paper_model(model, device), x, y, device)}
    if model != "average":
        torch.manual_seed(0)
        out["torch.nn"] = time_steps(TorchNN(model).to(device), x, y, device)
    if theano and os.path.exists(ORACLE_PYTHON):
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "theano_step.py")
        threads = str(torch.get_num_threads())              # as many as ours (its BLAS: numpy's)
        env = {**os.environ, "OPENBLAS_NUM_THREADS": threads, "OMP_NUM_THREADS": threads,
               "MKL_NUM_THREADS": threads}
        result = subprocess.run([ORACLE_PYTHON, script, model, str(BATCH), str(T), str(D), str(H),
                                 str(C), "3"], capture_output=True, text=True, env=env)
        if result.returncode == 0:
            out[THEANO] = json.loads(result.stdout.strip().splitlines()[-1])["seconds_per_step"]
        else:
            print(f"Theano step of {model} failed, left out:\n{result.stderr[-2000:]}",
                  file=sys.stderr)
    return out


THEANO = "Theano 1.0.5 + Lasagne 0.1"


def measure(args, device):
    """Rows: per model, the fastest epoch (scaled to split 1), its bound, the step comparison."""
    n_train = min(args.sample, SPLIT1_TRAIN)
    n_val = max(1, round(n_train * SPLIT1_VAL / SPLIT1_TRAIN))
    scale = SPLIT1_TRAIN / n_train
    x, y = codes(n_train + n_val, device=device)
    from .train import Split
    train, val = Split(x[:n_train], y[:n_train]), Split(x[n_train:], y[n_train:])
    rows = []
    with tempfile.TemporaryDirectory() as out_dir:
        time_epoch("average", train, val, device, out_dir)              # warm-up
        for model in args.models:
            peaks, epochs = [], []
            for _ in range(args.repeats):
                peaks.append(gemm_peak(device))
                epochs.append(time_epoch(model, train, val, device, out_dir, scale))
            rows.append({"model": model, "epoch_s": min(epochs), "epochs_s": epochs,
                         "peaks_gflops": [p / 1e9 for p in peaks],
                         "gflop": epoch_flops(model) / 1e9,
                         "steps": step_comparison(model, device, args.theano),
                         "profile": step_profile(model, device) if device == "cpu" else None})
            print(f"{model}: {min(epochs):.1f} s/epoch", file=sys.stderr)
    peak = max(p for r in rows for p in r["peaks_gflops"])     # the machine's: one for all
    for r in rows:
        r.update(peak_gflops=peak, bound_s=r["gflop"] / peak, ratio=r["epoch_s"] * peak / r["gflop"])
    return rows, n_train


def report(rows, n_train, device, measured_on=None, threads=None):
    """The Markdown tables; ``measured_on``/``threads``: the measuring process's machine line
    and torch threads, where that was a child (``--modes``), else this process's."""
    from caffe_extract.bench import machine
    from common.devices import describe
    measured_on = measured_on or machine()
    threads = threads or torch.get_num_threads()
    from .report import NAMES
    scaled = "" if n_train == SPLIT1_TRAIN else \
        f" (timed on {n_train} training videos, scaled)"
    lines = [f"One training epoch at UCF-101 split 1's size ({SPLIT1_TRAIN:,} training videos + "
             f"{SPLIT1_VAL:,} validation, 10 x 4096 float32 codes), configuration `paper`, hidden "
             f"{H}, batches of {BATCH}, SGD with Nesterov momentum{scaled}; {describe(device)}; "
             f"{measured_on}.", "",
             "| model | s / epoch | GEMM GFLOP / epoch | GEMM peak (GFLOP/s) | bound (s) "
             "| epoch / bound |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {NAMES[r['model']]} | {r['epoch_s']:.2f} | {r['gflop']:.0f} "
                     f"| {r['peak_gflops']:.0f} | {r['bound_s']:.2f} | {r['ratio']:.2f}x |")
    table_min = sum(RUNS_PER_MODEL * EPOCHS * r["epoch_s"] for r in rows) / 60
    lines += ["", f"Projected: the table of one split ({len(rows)} models x {RUNS_PER_MODEL} runs "
              f"x up to {EPOCHS} epochs; early stopping only shortens it): {table_min:.0f} min.",
              "", "The same training step (64 videos: forward, backward, update), ms:", ""]
    kinds = list(dict.fromkeys(k for r in rows for k in r["steps"]))
    lines += ["| model | " + " | ".join(kinds) + " |", "|---|" + "---|" * len(kinds)]
    for r in rows:
        cells = [f"{1000 * r['steps'][k]:.0f}" if k in r["steps"] else "-" for k in kinds]
        lines.append(f"| {NAMES[r['model']]} | " + " | ".join(cells) + " |")
    lines += ["", "torch.nn's LSTM has no peepholes (ours: the paper's, with them)."
              + (f" {THEANO}: its C ops compiled with g++, numpy's OpenBLAS with "
                 f"{threads} thread(s), median of 3 steps." if THEANO in kinds else "")
              + " Epochs: the fastest of the repeats, peak: the highest of the run; other "
              "processes share the cores."]
    profiled = [r for r in rows if r.get("profile")]
    if profiled:
        lines += ["", "Where our training step's time goes (torch.profiler, self time of each "
                  "operator over 8 steps of 64 videos, as shares of their wall time; the GEMMs' "
                  "rate: the step's GEMM FLOPs over their time, against the peak above):", "",
                  "| model | GEMMs | GEMM rate (GFLOP/s) | update (fused SGD) | batch gather "
                  "| other (elementwise, autograd, Python) |", "|---|---|---|---|---|---|"]
        for r in profiled:
            p = r["profile"]
            lines.append(f"| {NAMES[r['model']]} | {p['gemm']:.0%} | {p['gemm_gflops']:.0f} "
                         f"| {p['update']:.0%} | {p['gather']:.0%} | {p['other']:.0%} |")
    return "\n".join(lines)


MODES = ("pinned", "fast")


def mode_environment(mode, environ=os.environ):
    """The environment of a bench process in ``mode``: fast drops every kernel pin the caller
    (the Makefile) exported, keeping the thread counts."""
    from common.reproducible import FAST, PINNED, THREADS
    env = dict(environ)
    env.pop(FAST, None)
    if mode == "fast":
        for name in PINNED:
            if name not in THREADS:
                env.pop(name, None)
        env[FAST] = "1"
    return env


def child_argv(args, mode):
    """This run's options for the child that times ``mode`` (Theano's step only once, pinned)."""
    argv = ["--device", args.device, "--repeats", str(args.repeats), "--models", *args.models]
    argv += ["--sample", str(args.sample)] if args.sample else []
    argv += ["--threads", str(args.threads)] if args.threads else []
    return argv + (["--theano"] if args.theano and mode == "pinned" else [])


def measure_modes(args):
    """{mode: (rows, n_train, machine, threads)}: each mode timed by a child process of this module, one
    after the other."""
    out = {}
    for mode in args.modes:
        with tempfile.TemporaryDirectory() as folder:
            rows_path = os.path.join(folder, "rows.json")
            command = [sys.executable, "-m", "experiment.bench", "--modes", mode,
                       "--json", rows_path, *child_argv(args, mode)]
            print(f"==> {mode} kernels", file=sys.stderr)
            subprocess.run(command, env=mode_environment(mode), check=True,
                           stdout=subprocess.DEVNULL)
            with open(rows_path) as f:
                saved = json.load(f)
        out[mode] = (saved["rows"], saved["n_train"], saved["machine"], saved["threads"])
    return out


def modes_report(measured):
    """The pinned and fast epochs side by side, each against its own bound."""
    from .report import NAMES
    pinned, fast = measured["pinned"][0], measured["fast"][0]
    lines = ["Pinned and fast kernels side by side (same machine, same run; each mode's bound "
             "uses its own GEMM peak): pinned = " + measured["pinned"][2] + "; fast = "
             + measured["fast"][2] + ".", "",
             "| model | pinned s / epoch | pinned epoch / bound | fast s / epoch "
             "| fast epoch / bound | fast speed-up |", "|---|---|---|---|---|---|"]
    for p, f in zip(pinned, fast):
        lines.append(f"| {NAMES[p['model']]} | {p['epoch_s']:.2f} | {p['ratio']:.2f}x "
                     f"| {f['epoch_s']:.2f} | {f['ratio']:.2f}x | {p['epoch_s'] / f['epoch_s']:.2f}x |")
    minutes = {m: sum(RUNS_PER_MODEL * EPOCHS * r["epoch_s"] for r in rows) / 60
               for m, (rows, *_) in measured.items()}
    lines += ["", f"GEMM peak: pinned {pinned[0]['peak_gflops']:.0f} GFLOP/s, fast "
              f"{fast[0]['peak_gflops']:.0f} GFLOP/s. Projected table of one split: pinned "
              f"{minutes['pinned']:.0f} min, fast {minutes['fast']:.0f} min."]
    return "\n".join(lines)


def main(argv=None):
    from common import devices, reproducible
    parser = argparse.ArgumentParser(prog="python -m experiment.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", choices=devices.CHOICES)
    parser.add_argument("--sample", type=cli.integer(1, 100_000), default=None, help="training videos timed "
                        "(default: 2,048 on the CPU, all 7,947 on a GPU)")
    parser.add_argument("--repeats", type=cli.integer(1, 100), default=3)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--threads", type=cli.integer(1, 1024), default=None,
                        help="CPU threads (default: every core, as `make train` uses)")
    parser.add_argument("--theano", action="store_true",
                        help="also time the step on Theano + Lasagne (.venv-oracle; about 1.5 min of "
                             "compilation per model the first time)")
    parser.add_argument("--modes", nargs="+", choices=MODES, default=None,
                        help="kernel modes to time, each in its own process (default: this "
                             "process's, %s)" % reproducible.mode())
    parser.add_argument("--json", type=cli.writable_file, help="also write the rows as JSON")
    parser.add_argument("--out", type=cli.writable_file, help="also write the table to this Markdown file")
    args = parser.parse_args(argv)
    device = devices.resolve(args.device)
    if args.modes and args.modes != [reproducible.mode()]:
        if device != "cpu" or args.modes != list(MODES):
            parser.error("--modes: on the CPU, 'pinned fast' (both), or this process's mode")
        from caffe_extract.bench import emit
        measured = measure_modes(args)
        rows, n_train, measured_on, threads = measured["pinned"]
        emit(report(rows, n_train, device, measured_on, threads) + "\n\n"
             + modes_report(measured), args.out)
        return 0
    from .train import set_deterministic
    set_deterministic(device, threads=args.threads)
    args.sample = args.sample or (SPLIT1_TRAIN if device.startswith("cuda") else 2048)
    rows, n_train = measure(args, device)
    if args.json:
        from caffe_extract.bench import machine
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "n_train": n_train, "machine": machine(),
                       "threads": torch.get_num_threads()}, f, indent=1)
    from caffe_extract.bench import emit
    emit(report(rows, n_train, device), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
