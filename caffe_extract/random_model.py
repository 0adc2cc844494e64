"""Seeded random-weight CaffeNet ``.caffemodel`` files, written by real Caffe (``net.save``).

Tests and the demo use these where the real weights cannot be downloaded; generated on demand
and cached (about 244 MB each; never committed): ``cached_random_caffemodel(seed=0)``.

Weights: He-scaled normals, N(0, 2 / fan_in), so that activations keep their scale through the
ReLUs and the codes are informative; conv1's are divided by 64, the order of the
mean-subtracted pixel values, so that activations are of order 1 as in the real CaffeNet (its
relu7 codes average about 1). Biases N(0, 0.01^2). Needs pycaffe.
"""
import os

import numpy as np

from .paths import CACHE, DEPLOY_PROTOTXT
from .pycaffe import import_caffe

INPUT_SCALE = 64.0   # mean-subtracted pixel values are of this order
VERSION = 2          # of the recipe below: part of the cached file's name


def write_random_caffemodel(path, seed=0):
    """Fill CaffeNet's deploy net with seeded random weights and save it with Caffe's net.save."""
    caffe = import_caffe()
    net = caffe.Net(str(DEPLOY_PROTOTXT), caffe.TEST)
    rng = np.random.default_rng(seed)
    for name, (weight, bias) in net.params.items():
        fan_in = int(np.prod(weight.data.shape[1:]))
        scale = np.sqrt(2.0 / fan_in) / (INPUT_SCALE if name == "conv1" else 1.0)
        weight.data[...] = rng.normal(0.0, scale, weight.data.shape)
        bias.data[...] = rng.normal(0.0, 0.01, bias.data.shape)
    net.save(str(path))


def cached_random_caffemodel(seed=0):
    """Path of the random CaffeNet for ``seed``, written first if it is not cached yet."""
    folder = os.path.join(str(CACHE), "models")
    path = os.path.join(folder, f"caffenet-random-v{VERSION}-seed{seed}.caffemodel")
    if not os.path.exists(path):
        os.makedirs(folder, exist_ok=True)
        partial = f"{path}.{os.getpid()}.part"
        write_random_caffemodel(partial, seed)
        os.replace(partial, path)  # atomic: a crash never leaves a half-written model behind
    return path
