"""A training step and an evaluation pass without launch overhead on a GPU: captured once as
CUDA graphs and replayed for every later minibatch of the same size.

On a GPU an eager step of these models is bound by kernel launches, not arithmetic: on an H200
an RNN step cost 5.6 ms at 64 videos and 6.7 at 512, the same step replayed as a graph 0.79 ms
(docs/hardware.md). A graph (``torch.cuda.CUDAGraph``) records the step's kernels once, on
fixed memory: each minibatch is copied into the graph's own inputs, one replay launches every
kernel, and the loss and log-probabilities are read from the graph's own outputs. A replay runs
the recorded kernels on the same numbers, so it gives the eager step's bits; dropout too (the
CUDA generator hands a replay the offset an eager step would get, and advances the same).

    step, forward = passes(model, optimizer, objective, device)   # eager unless graphs apply
    loss, out, finite = step(x, y)           # after the update (eager: none when not finite)
    evaluate(model, split, forward=forward)  # forward: None (eager) or the captured pass

Eager instead, and the same numbers: on the CPU; for a minibatch of another size than the
first (an epoch's last, smaller one); for an objective that reads its loss each minibatch
(``graphable`` False: the autoencoder's); for the first ``WARMUP`` minibatches, run eagerly on
a side stream as torch asks before a capture (lazy set-up: cuBLAS's workspace, autograd's
streams). These are real steps, so a graph starts from the weights and momentum they left.

NOT YET RUN ON A GPU: off unless ACTION_RNN_CUDA_GRAPHS=1 (``wanted``), until `make gpu-check`
has shown on one that a few epochs give the eager path's weights, history and probabilities
bit for bit (tests/experiment/test_graphs.py).
"""
import os

import torch

#: the switch, off until the graph-vs-eager test has passed on a GPU (`make gpu-check`)
SWITCH = "ACTION_RNN_CUDA_GRAPHS"
#: eager minibatches of full size before the capture (torch's docs warm up with three)
WARMUP = 3


def wanted(device, environ=os.environ):
    """Whether runs on ``device`` train and validate through CUDA graphs."""
    return str(device).startswith("cuda") and environ.get(SWITCH) == "1"


def eager_step(model, optimizer, terms):
    """The step as written: ``terms(model, x, y)`` -> (loss, out), then, when the loss is
    finite, backward and the optimiser's update."""
    def step(x, y):
        loss, out = terms(model, x, y)
        finite = bool(torch.isfinite(loss))
        if finite:                 # a non-finite loss updates nothing: ``fit`` stops there
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        return loss, out, finite
    return step


def passes(model, optimizer, objective, device):
    """``fit``'s (training step, evaluation forward) for ``objective`` on ``device``: captured
    where ``wanted`` and the objective is ``graphable``, else eager (forward None: the model's)."""
    eager = eager_step(model, optimizer, objective.terms)
    if not (wanted(device) and getattr(objective, "graphable", False)):
        return eager, None
    return captured_step(model, optimizer, objective.terms, eager, device), \
        evaluation_forward(model, device)


def captured_step(model, optimizer, terms, eager, device):
    """The step of ``eager_step`` as a CUDA graph: (loss, out, finite) after the update. Unlike
    the eager step, a non-finite loss has updated the weights (to NaN) when it is seen; ``fit``
    stops there before any checkpoint, so nothing of it is kept."""
    kept = []

    def record(x, y):
        optimizer.zero_grad(set_to_none=True)      # the graph's backward makes its own grads
        loss, out = terms(model, x, y)
        loss.backward()
        optimizer.step()
        kept.extend(p.grad for p in model.parameters())  # where every replay writes them
        return loss, out, torch.isfinite(loss)
    captured = Captured(record, eager, device)

    def step(x, y):
        loss, out, finite = captured(x, y)
        return loss, out, bool(finite)
    return step


def evaluation_forward(model, device):
    """``evaluate``'s forward of ``model`` (log p (B, C); called without gradient, in eval
    mode) as a CUDA graph; each minibatch's log p is a copy, not the graph's output."""
    def forward(x):
        return (model.log_probabilities(x),)
    captured = Captured(forward, forward, device)
    return lambda x: captured(x)[0].clone()


class Captured:
    """``function(*inputs)`` (a tuple of tensors) captured as a CUDA graph at the first call
    after ``WARMUP`` eager ones with inputs as long as the first call's, replayed from then on;
    ``eager(*inputs)`` for the warm-up calls (on a side stream) and inputs of another length."""

    def __init__(self, function, eager, device):
        self.function, self.eager, self.device = function, eager, torch.device(device)
        self.size, self.warmed, self.graph = None, 0, None
        self.side = torch.cuda.Stream(self.device)          # warm-up
        self.stream = torch.cuda.Stream(self.device)        # capture, on this graph's device

    def __call__(self, *inputs):
        self.size = self.size or len(inputs[0])
        if len(inputs[0]) != self.size:
            return self.eager(*inputs)
        if self.graph is None and self.warmed < WARMUP:
            self.warmed += 1
            return self.on_side_stream(*inputs)
        if self.graph is None:
            self.capture(inputs)
        for static, value in zip(self.inputs, inputs):
            static.copy_(value)
        self.graph.replay()
        return self.outputs

    def on_side_stream(self, *inputs):
        main = torch.cuda.current_stream(self.device)
        self.side.wait_stream(main)
        with torch.cuda.stream(self.side):
            result = self.eager(*inputs)
        main.wait_stream(self.side)
        return result

    def capture(self, inputs):
        self.inputs = [value.clone() for value in inputs]
        with torch.cuda.device(self.device):
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph, stream=self.stream):
                self.outputs = self.function(*self.inputs)
        self.graph = graph                   # only once captured: a failed capture raises again
