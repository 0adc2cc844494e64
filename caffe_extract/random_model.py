"""Seeded random-weight CaffeNet ``.caffemodel`` files, written by real Caffe (``net.save``), or
without Caffe where there is none (a GPU machine): the same blobs, bit for bit, in a file of
another name (parity_tests/test_caffenet.py::test_random_caffenet_without_caffe_has_caffes_blobs).

Tests and the demo use these where the real weights cannot be downloaded; generated on demand
and cached (about 244 MB each; never committed): ``cached_random_caffemodel(seed=0)``.

Weights: He-scaled normals, N(0, 2 / fan_in), so that activations keep their scale through the
ReLUs and the codes are informative; conv1's are divided by 64, the order of the
mean-subtracted pixel values, so that activations are of order 1 as in the real CaffeNet (its
relu7 codes average about 1). Biases N(0, 0.01^2). Drawn in float64 from one seeded generator,
layer by layer in the net's order (weight, then bias), and rounded to float32.
"""
import os

import numpy as np

from common.files import replacing

from .paths import CACHE, DEPLOY_PROTOTXT
from .caffemodel import write_blobs
from .pycaffe import CaffeUnavailable, import_caffe

INPUT_SCALE = 64.0   # mean-subtracted pixel values are of this order
VERSION = 2          # of the recipe below: part of the cached file's name


def random_blobs(seed=0):
    """{layer: [weight, bias]}: the recipe's float32 blobs, CaffeNet's weighted layers in order."""
    from .caffenet import weight_shapes
    rng, blobs = np.random.default_rng(seed), {}
    for name, shape in weight_shapes().items():
        scale = np.sqrt(2.0 / int(np.prod(shape[1:]))) / (INPUT_SCALE if name == "conv1" else 1.0)
        blobs[name] = [rng.normal(0.0, scale, shape).astype(np.float32),
                       rng.normal(0.0, 0.01, shape[:1]).astype(np.float32)]
    return blobs


def write_random_caffemodel(path, seed=0):
    """Fill CaffeNet's deploy net with ``random_blobs`` and save it with Caffe's net.save."""
    caffe = import_caffe()
    net = caffe.Net(str(DEPLOY_PROTOTXT), caffe.TEST)
    for name, (weight, bias) in random_blobs(seed).items():
        net.params[name][0].data[...] = weight
        net.params[name][1].data[...] = bias
    net.save(str(path))


def write_without_caffe(path, seed=0):
    """The same blobs in a ``.caffemodel`` of their layers alone (``caffemodel.write_blobs``)."""
    from .caffenet import LAYERS
    write_blobs(path, random_blobs(seed), {name: kind for name, kind, _ in LAYERS})


def cached_random_caffemodel(seed=0):
    """Path of the random CaffeNet for ``seed``, written first if it is not cached yet (by
    Caffe; where pycaffe cannot be imported, ``write_without_caffe``'s file, named .nocaffe)."""
    try:
        import_caffe()
        write, kind = write_random_caffemodel, ""
    except CaffeUnavailable:
        write, kind = write_without_caffe, ".nocaffe"
    folder = os.path.join(str(CACHE), "models")
    path = os.path.join(folder, f"caffenet-random-v{VERSION}-seed{seed}{kind}.caffemodel")
    if not os.path.exists(path):
        os.makedirs(folder, exist_ok=True)
        with replacing(path) as partial:   # a crash never leaves a half-written model behind
            write(partial, seed)
    return path
