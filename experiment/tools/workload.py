"""The work the benches time, shaped like UCF-101 split 1: its sizes, random codes of its shape,
and the matrix products of a training epoch (``epoch_flops``) against the GEMM peak measured on
this machine (``gemm_peak``): an epoch's bound is its FLOPs over that peak
(``experiment.tools.bench``)."""
import time

import torch

from configurations import EXTRACTION, TRAINING

T, D, H, C, BATCH = EXTRACTION.n_frames, 4096, TRAINING.hidden[0], 101, TRAINING.batch_size
SPLIT1_TRAIN_LIST, SPLIT1_VAL = 9_537, 1_590   # validation: 3 of the train list's 18 groups
SPLIT1_TRAIN = SPLIT1_TRAIN_LIST - SPLIT1_VAL
EPOCHS, RUNS_PER_MODEL = TRAINING.epochs, TRAINING.runs()
MODELS = ("average", "rnn", "lstm", "birnn")


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


def input_flops(model, n, t=T, d=D, h=H):
    """FLOPs of the products whose input the codes are (they need no input gradient)."""
    if model == "average":
        return 2 * n * d * h
    gates = 4 if model == "lstm" else 1
    return 2 * n * t * (2 if model == "birnn" else 1) * d * gates * h


def step_flops(model, n, d=D, h=H, c=C):
    """One training step on n videos: forward, weight gradients (= forward), input gradients
    (= forward, less the products that read the codes, and less h_0 W_hh^T's where h_0 = 0 is
    no parameter: one per video, since the BiRNN's backward layer learns its initial state in
    the paper's configuration, so its first step's input gradient is computed)."""
    first_step = 0 if model == "average" else 2 * n * h * (4 if model == "lstm" else 1) * h
    return 3 * forward_flops(model, n, d=d, h=h, c=c) - input_flops(model, n, d=d, h=h) - first_step


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
            sync(device)
            start = time.perf_counter()
            a @ b
            sync(device)
            best = max(best, 2 * m * k * n / (time.perf_counter() - start))
    return best


def sync(device):
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def codes(n, seed=0, device="cpu"):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, T, D, generator=generator).abs_()                 # post-ReLU-like
    y = torch.randint(0, C, (n,), generator=generator)
    return x.to(device), y.to(device)


def split1_sample(n_videos, device="cpu"):
    """(train, val, scale): ``Split``s of random codes, ``n_videos`` training videos (at most
    split 1's) and a validation set in proportion; ``scale`` takes their passes to split 1's."""
    from experiment.train import Split
    n_train = min(n_videos, SPLIT1_TRAIN)
    n_val = max(1, round(n_train * SPLIT1_VAL / SPLIT1_TRAIN))
    x, y = codes(n_train + n_val, device=device)
    return Split(x[:n_train], y[:n_train]), Split(x[n_train:], y[n_train:]), SPLIT1_TRAIN / n_train
