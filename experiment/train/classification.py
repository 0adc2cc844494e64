"""What the paper's classifiers minimise and how their epochs are judged (``Classification``,
the objective ``fit`` runs them with), and the pieces around it: the loss, the evaluation pass,
the optimiser, the model built from a run's settings. The best epoch is the one of the highest
validation accuracy (the first of equals); its weights and validation probabilities are kept.
"""
import torch

from rnn_models import build
from rnn_models.models import time_averaged_log

from .settings import model_options


class Classification:
    """The classifiers' objective for ``fit``: ``form``, the loss (``training_loss``); ``model``,
    whose inputs to compute once per run (``model_inputs``; None: the splits as they are)."""

    def __init__(self, form="averaged", model=None):
        self.form, self.model = form, model

    def inputs(self, split):
        return split if self.model is None else model_inputs(self.model, split)

    def start_epoch(self):
        self.seen = Running()

    graphable = True           # ``terms`` has no side effect: a CUDA graph may capture it

    def terms(self, model, x, y):
        return training_loss(model, x, y, self.form)

    def account(self, log_p, y, loss):
        self.seen.add(log_p, y, loss)

    def epoch_result(self):
        train_acc, train_loss = self.seen.result()     # of the training pass (``Running``)
        return {"train_acc": train_acc, "train_loss": train_loss}

    def validate(self, model, val, forward=None):
        val_acc, val_loss, self.val_probabilities = evaluate(model, val, forward=forward)
        return {"val_acc": val_acc, "val_loss": val_loss}

    @staticmethod
    def better(row, best):
        return row["val_acc"] > best["val_acc"]

    def best_entry(self, model, row):
        return {"val_acc": row["val_acc"], "train_acc": row["train_acc"],
                "model": {k: v.clone() for k, v in model.state_dict().items()},
                "val_probabilities": self.val_probabilities}

    @staticmethod
    def postfix(row):
        return {"loss": f"{row['train_loss']:.3f}", "train": f"{row['train_acc']:.3f}",
                "val": f"{row['val_acc']:.3f}"}


def classifier(input_dim, n_classes, initial=None):
    """``fit``'s ``make`` for the paper's models: the model of a run's settings, its weights drawn
    or, for the names in ``initial`` ({name: tensor}: a pretrained encoder), those; ``sgd``."""
    def make(settings, device):
        model = built(settings, input_dim, n_classes, device)
        if initial is not None:     # strict: every key must be a parameter of the model
            model.load_state_dict({**model.state_dict(), **initial})
        return model, sgd(model, settings, device)
    return make


def built(settings, input_dim, n_classes, device):
    """The model of run ``settings`` on ``device`` in its precision, its weights drawn."""
    return build(settings.model, input_dim, settings.hidden_dim, n_classes, init=settings.init,
                 **model_options(settings)).to(device=device, dtype=settings.torch_dtype())


def best_model(settings, record, input_dim, n_classes, device="cpu"):
    """The model of run ``settings`` with the weights of its best-validation epoch."""
    model = built(settings, input_dim, n_classes, device)
    model.load_state_dict(record["best"]["model"])
    return model.eval()


def evaluate(model, split, batch_size=256, forward=None):
    """(accuracy, mean loss, averaged probabilities p (N, C)) of ``model`` on ``split``, in
    eval mode; the predicted label is ``p.argmax(1)``. ``forward``: the model's log p (B, C)
    of a minibatch (default ``model.log_probabilities``; ``graphs.evaluation_forward``)."""
    model.eval()
    forward = forward or model.log_probabilities
    dtype = next(model.parameters()).dtype
    losses, log_ps = [], []
    with torch.no_grad():
        for start in range(0, len(split.y), batch_size):
            x, y = split.x[start:start + batch_size].to(dtype), split.y[start:start + batch_size]
            log_p = forward(x)
            losses.append(torch.nn.functional.nll_loss(log_p, y, reduction="sum"))
            log_ps.append(log_p)
    total_loss = 0.0            # in order, as before (not sum(): Python 3.12's compensates)
    for loss in losses:
        total_loss += float(loss)
    p = torch.cat(log_ps).exp().cpu() if log_ps else torch.zeros(0, 0)
    n = max(len(split.y), 1)
    correct = int((p.argmax(dim=1) == split.y.cpu()).sum()) if log_ps else 0
    return correct / n, total_loss / n, p


class Running:
    """Training accuracy and mean loss of an epoch, taken from its own training pass (as most
    frameworks report them): each minibatch's predictions and loss before its update, in training
    mode (docs/performance.md); sums stay on the device (no synchronisation per batch)."""

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
    """What ``model`` reads of ``split``'s codes, computed once per run: the Average model only
    their mean over time, x_bar (N, 1, D), whose own mean over time is itself, bitwise
    (tests/experiment/test_train.py); 10x less to gather per batch. Other models: ``split``."""
    if model != "average":
        return split
    x = split.x.to(torch.float32)                      # a float16 views store: mean in float32
    return type(split)(x.mean(dim=-2, keepdim=True), split.y)                # (N, [V,] 1, D)


def sgd(model, config, device="cpu", groups=None):
    """SGD with Nesterov momentum on ``model`` (or on parameter ``groups`` of their own learning
    rates); the fused kernel (one pass over each tensor) where torch has it: the same numbers as
    the foreach one (tests/experiment/test_train.py), faster."""
    fused = str(device).split(":")[0] in ("cpu", "cuda")
    return torch.optim.SGD(model.parameters() if groups is None else groups, lr=config.lr,
                           momentum=config.momentum, nesterov=config.momentum > 0,
                           weight_decay=config.weight_decay, fused=fused or None)


def training_loss(model, x, y, form="averaged"):
    """(L, log p): the minibatch's training loss and its averaged log-probabilities log p (N, C)
    (for the training accuracy). The paper states only its prediction rule, so the loss form is
    a knob (``configurations``, "loss"):

        averaged:  L = -(1/N) sum_n log p_n[y_n],               p_n = (1/T) sum_t P_t[n]
        per-step:  L = -(1/(N T)) sum_n sum_t log P_t[n, y_n]   (each step's own cross-entropy)
    """
    if form == "averaged":
        log_p = model.log_probabilities(x)                                   # (N, C)
        return torch.nn.functional.nll_loss(log_p, y), log_p
    if form == "per-step":
        log_P = model.step_log_probabilities(x)                              # (N, T, C)
        N, T, C = log_P.shape      # (N T, C) rows: (N, C, T) would be nll_loss2d, which has
                                   # no deterministic CUDA kernel
        loss = torch.nn.functional.nll_loss(log_P.reshape(N * T, C), y.repeat_interleave(T))
        return loss, time_averaged_log(log_P)
    raise ValueError(f"unknown loss form {form!r}: averaged or per-step")
