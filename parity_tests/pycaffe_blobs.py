"""pycaffe's blobs, kept in the repository for the port's parity where pycaffe is not.

A GPU machine may have no pycaffe (and Caffe runs on the CPU only here), so the port's parity
on a GPU is checked against what real pycaffe computed on this machine's CPU: the blobs of the
seed-0 random CaffeNet (which a machine without Caffe writes with the same blobs,
``random_model.write_without_caffe``) on two preprocessed frames of synthetic videos, kept
with the input itself (parity_tests/fixtures/pycaffe/random-seed0.npz, 0.9 MB).

    python -m parity_tests.pycaffe_blobs         # writes it again (needs pycaffe)
"""
import os

import common  # noqa: F401  (isort: skip)  first: pins the CPU kernels
import numpy as np

FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "pycaffe",
                       "random-seed0.npz")
#: The blobs kept: the stored codes' layers (pool5, fc6, fc7: after their in-place ReLUs, as
#: pycaffe's blobs hold them), fc8 and the softmax.
KEPT = ("pool5", "fc6", "fc7", "fc8", "prob")


def read():
    """(input (2, 3, 227, 227) float32, {blob: pycaffe's array})."""
    with np.load(FIXTURE) as kept:
        return kept["input"], {name: kept[name] for name in KEPT}


def main():
    from caffe_extract.backends import open_backend
    from caffe_extract.preprocessing import preprocess
    from caffe_extract.random_model import cached_random_caffemodel
    from caffe_extract.synthetic import render_frames
    frames = np.concatenate([
        render_frames(1, shape="disk", color=(220, 40, 40), velocity=(0.4, 0.0), seed=1),
        render_frames(1, shape="square", color=(30, 200, 60), velocity=(-0.3, 0.2), seed=2)])
    batch = preprocess(frames)
    blobs = open_backend("caffe", cached_random_caffemodel(seed=0)).forward(batch, KEPT)
    np.savez_compressed(FIXTURE, input=batch, **blobs)
    print(f"wrote {FIXTURE} ({os.path.getsize(FIXTURE) / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
