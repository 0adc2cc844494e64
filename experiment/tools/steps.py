"""The same training step on three stacks, for the bench's side-by-side (``step_comparison``):
our layers, ``torch.nn.RNN``/``LSTM`` (``TorchNN``: same readout, fused kernels; the LSTM
without peepholes, which torch.nn lacks) and, where ``.venv-oracle`` exists, the paper's own
(Theano 1.0.5 + Lasagne 0.1, ``theano_step.py``); and where a CPU step's time goes
(``step_profile``)."""
import json
import os
import subprocess
import sys
import time

import torch

from rnn_models.models import time_averaged_log

from .workload import BATCH, C, D, H, T, codes, step_flops, sync

ORACLE_PYTHON = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                             ".venv-oracle", "bin", "python")
THEANO = "Theano 1.0.5 + Lasagne 0.1"
GEMM_OPS = ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm")


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


def training_step(net, device):
    """``step(x, y)``: one training step of ``net`` as ``train_run`` runs it (``graphs.eager_step``:
    forward, loss, backward, fused Nesterov SGD)."""
    from experiment.train import RunSettings, sgd, training_loss
    from experiment.train.graphs import eager_step
    return eager_step(net, sgd(net, RunSettings(lr=0.001), device), training_loss)


def time_steps(net, x, y, device, steps=3):
    """Median seconds of one training step (``training_step``)."""
    step = training_step(net, device)
    times = []
    for i in range(steps + 1):
        sync(device)
        start = time.perf_counter()
        step(x, y)
        sync(device)
        times.append(time.perf_counter() - start)
    return sorted(times[1:])[len(times[1:]) // 2]


def paper_model(model, device):
    """``model`` as `make train` builds it by default (configuration ``paper``), seed 0."""
    from rnn_models import build
    from configurations import TRAINING, get
    torch.manual_seed(0)
    return build(model, D, H, C, **{**get("paper").model_options(model), **(
        {"dropout": TRAINING.dropout} if model == "average" else {})}).to(device)


def step_profile(model, device, steps=8):
    """Where a training step's time goes, as ``train_run`` runs it (batch gathered from the
    codes, loss, backward, fused SGD): torch.profiler's self time of each operator over
    ``steps`` steps of 64 videos after one warm-up step, as shares of the profiled wall time:
    GEMMs (with their achieved rate: the step's GEMM FLOPs over their time), the update (SGD's
    fused kernel), the gather of the batch, and the rest (elementwise work, autograd, Python).
    CPU only: on a GPU self CPU time is not the kernels' time."""
    from torch.profiler import ProfilerActivity, profile
    from experiment.train import Split, model_inputs
    step = training_step(paper_model(model, device), device)
    data = model_inputs(model, Split(*codes((steps + 1) * BATCH, seed=2, device=device)))
    batches = torch.randperm(len(data.y), generator=torch.Generator().manual_seed(0)).split(BATCH)
    step(data.x[batches[0]], data.y[batches[0]])
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        start = time.perf_counter()
        for batch in batches[1:steps + 1]:
            step(data.x[batch], data.y[batch])
        wall = time.perf_counter() - start
    self_s = {event.key: event.self_cpu_time_total / 1e6 for event in prof.key_averages()}
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
        if result.returncode == 0:      # without g++, Theano runs its Python ops: said so
            reply = json.loads(result.stdout.strip().splitlines()[-1])
            out[THEANO if reply["cxx"] else f"{THEANO}, no g++"] = reply["seconds_per_step"]
        else:
            print(f"Theano step of {model} failed, left out:\n{result.stderr[-2000:]}",
                  file=sys.stderr)
    return out
