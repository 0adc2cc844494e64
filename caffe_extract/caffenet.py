"""BVLC CaffeNet in PyTorch, loading the blobs of a CaffeNet ``.caffemodel`` (no Caffe needed).

The layer table below is CaffeNet's deploy net (``models/bvlc_reference_caffenet/
deploy.prototxt`` in the Caffe source); a test checks it against that file, field by field.
Caffe semantics kept: pooling rounds the output size up (``ceil_mode=True``); Caffe's LRN
across channels (``CrossChannelLRN``); conv2, conv4, conv5 have two groups; dropout is the
identity at test time. For CPU speed: channels-last convolutions, ReLUs in place.

    net = load("bvlc_reference_caffenet.caffemodel", device="cuda")
    out = net(batch, blobs=("fc7", "relu7"))   # batch: (N, 3, 227, 227) float32, preprocessed

Blobs are named by Caffe *layer*: ``fc7`` is the InnerProduct output (pre-ReLU), ``relu7`` the
same after ReLU, the paper's codes (docs/data.md, "Which FC7").
"""
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from .caffemodel import CaffeModelError, read_blobs

#: (layer name, Caffe type, parameters): CaffeNet's deploy.prototxt, in order.
LAYERS = (
    ("conv1", "Convolution", dict(num_output=96, kernel_size=11, stride=4, pad=0, group=1)),
    ("relu1", "ReLU", {}),
    ("pool1", "Pooling", dict(pool="MAX", kernel_size=3, stride=2)),
    ("norm1", "LRN", dict(local_size=5, alpha=1e-4, beta=0.75)),
    ("conv2", "Convolution", dict(num_output=256, kernel_size=5, stride=1, pad=2, group=2)),
    ("relu2", "ReLU", {}),
    ("pool2", "Pooling", dict(pool="MAX", kernel_size=3, stride=2)),
    ("norm2", "LRN", dict(local_size=5, alpha=1e-4, beta=0.75)),
    ("conv3", "Convolution", dict(num_output=384, kernel_size=3, stride=1, pad=1, group=1)),
    ("relu3", "ReLU", {}),
    ("conv4", "Convolution", dict(num_output=384, kernel_size=3, stride=1, pad=1, group=2)),
    ("relu4", "ReLU", {}),
    ("conv5", "Convolution", dict(num_output=256, kernel_size=3, stride=1, pad=1, group=2)),
    ("relu5", "ReLU", {}),
    ("pool5", "Pooling", dict(pool="MAX", kernel_size=3, stride=2)),
    ("fc6", "InnerProduct", dict(num_output=4096)),
    ("relu6", "ReLU", {}),
    ("drop6", "Dropout", dict(dropout_ratio=0.5)),
    ("fc7", "InnerProduct", dict(num_output=4096)),
    ("relu7", "ReLU", {}),
    ("drop7", "Dropout", dict(dropout_ratio=0.5)),
    ("fc8", "InnerProduct", dict(num_output=1000)),
    ("prob", "Softmax", {}),
)
INPUT_SHAPE = (3, 227, 227)
BLOBS = tuple(name for name, _, _ in LAYERS)


class CrossChannelLRN(nn.Module):
    """Caffe's LRN, ACROSS_CHANNELS: y_c = x_c (k + alpha/n sum_{c' in window(c)} x_c'^2)^-beta,
    the window n channels centred on c, zero-padded at the ends. Equal to
    ``torch.nn.LocalResponseNorm`` (k=1), twice as fast here."""

    def __init__(self, local_size, alpha, beta, k=1.0):
        super().__init__()
        self.local_size, self.alpha, self.beta, self.k = local_size, alpha, beta, k

    def forward(self, x):
        n, C = self.local_size, x.shape[1]
        before = (n - 1) // 2
        squares = F.pad(x * x, (0, 0, 0, 0, before, n - 1 - before))     # pad the channel axis
        window = squares[:, 0:C]
        for i in range(1, n):
            window = window + squares[:, i:i + C]
        return x * (self.k + self.alpha / n * window).pow(-self.beta)


def weight_shapes():
    """name -> weight shape of each weighted layer, in order: (out, in / group, k, k) and (out,
    in), Caffe's layout and torch's alike (inputs follow the chain; pool5 is (256, 6, 6))."""
    shapes, channels, features = {}, INPUT_SHAPE[0], 256 * 6 * 6
    for name, kind, p in LAYERS:
        if kind == "Convolution":
            k = p["kernel_size"]
            shapes[name], channels = (p["num_output"], channels // p["group"], k, k), p["num_output"]
        elif kind == "InnerProduct":
            shapes[name], features = (p["num_output"], features), p["num_output"]
    return shapes


def _modules():
    """name -> torch module for every layer, with CaffeNet's shapes (``weight_shapes``)."""
    modules, shapes = {}, weight_shapes()
    for name, kind, p in LAYERS:
        if kind == "Convolution":
            out, per_group, k, _ = shapes[name]
            modules[name] = nn.Conv2d(per_group * p["group"], out, k, p["stride"], p["pad"],
                                      groups=p["group"])
        elif kind == "InnerProduct":
            modules[name] = nn.Linear(shapes[name][1], shapes[name][0])
        elif kind == "Pooling":
            modules[name] = nn.MaxPool2d(p["kernel_size"], p["stride"], ceil_mode=True)
        elif kind == "LRN":
            modules[name] = CrossChannelLRN(p["local_size"], p["alpha"], p["beta"], k=1.0)
        else:   # Dropout: the identity in Caffe's TEST phase
            make = {"ReLU": nn.ReLU, "Dropout": nn.Identity, "Softmax": partial(nn.Softmax, dim=1)}
            modules[name] = make[kind]()
    return modules


class CaffeNet(nn.Module):
    """CaffeNet's forward pass; ``forward(x, blobs)`` returns the requested layers' outputs."""

    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleDict(_modules())

    @property
    def param_layers(self):
        return [name for name, kind, _ in LAYERS if kind in ("Convolution", "InnerProduct")]

    def forward(self, x, blobs=("relu7",)):
        """x (N, 3, 227, 227) float -> {blob: tensor}; runs only as far as the last blob asked."""
        unknown = [b for b in blobs if b not in BLOBS]
        if unknown:
            raise ValueError(f"unknown CaffeNet blob(s) {unknown}; choose from {BLOBS}")
        if tuple(x.shape[1:]) != INPUT_SHAPE:
            raise ValueError(f"CaffeNet takes (N, 3, 227, 227) input, got {tuple(x.shape)}")
        last = max(BLOBS.index(b) for b in blobs)
        out = {}
        x = x.contiguous(memory_format=torch.channels_last)
        for name, kind, _ in LAYERS[:last + 1]:
            if kind == "InnerProduct" and x.dim() > 2:
                x = x.flatten(1)
            if kind == "ReLU" and not any(kept is x for kept in out.values()):
                x = x.relu_()  # in place, as Caffe's relu layers, when no one keeps the input
            else:
                x = self.layers[name](x)
            if name in blobs:
                out[name] = x
        return out

    def load_blobs(self, blobs, source="the caffemodel"):
        """Copy Caffe blobs (name -> [weight, bias]) in, strictly: every layer present, every
        shape equal (legacy 4-d shapes accepted when they hold the same array), nothing left."""
        expected = self.param_layers
        missing = [n for n in expected if n not in blobs]
        unused = [n for n in blobs if n not in expected]
        if missing or unused:
            raise CaffeModelError(
                f"{source} is not a CaffeNet: layers missing {missing or 'none'}, "
                f"unexpected layers with weights {unused or 'none'} (found {list(blobs)})")
        with torch.no_grad():
            for name in expected:
                targets = (self.layers[name].weight, self.layers[name].bias)
                if len(blobs[name]) != 2:
                    raise CaffeModelError(f"{source}: layer {name} has {len(blobs[name])} blobs, "
                                          "CaffeNet's have 2 (weight, bias)")
                for target, blob in zip(targets, blobs[name]):
                    shape = tuple(target.shape)
                    legacy = (1,) * (4 - len(shape)) + shape
                    if blob.shape not in (shape, legacy):
                        raise CaffeModelError(f"{source}: layer {name} has a blob of shape "
                                              f"{blob.shape}, CaffeNet's is {shape}")
                    target.copy_(torch.from_numpy(blob.reshape(shape).copy()))


def load(caffemodel, device="cpu"):
    """CaffeNet with the weights of ``caffemodel`` (a path), in eval mode on ``device``; a
    CaffeModelError for a truncated or malformed file, or the weights of another net."""
    net = CaffeNet()
    net.load_blobs(read_blobs(caffemodel), source=str(caffemodel))
    return net.eval().to(device, memory_format=torch.channels_last)
