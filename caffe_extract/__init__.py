"""UCF-101 videos -> 10 frames -> BVLC CaffeNet FC7 codes in HDF5 (Giel & Diaz, 2015).

    caffe_extract.preprocess(frames)              # uint8 RGB (N, H, W, 3) -> (N, 3, 227, 227)
    caffe_extract.caffenet.load(caffemodel)       # the PyTorch port of CaffeNet
    caffe_extract.backends.open_backend("caffe" | "torch", caffemodel)
    caffe_extract.frames.read_frames(path)        # 10 frames over the first 2 s
    python -m caffe_extract extract --help        # the pipeline

The modules: docs/development.md. The CPU kernels are pinned by ``common`` (imported first):
the same bits on every x86-64 machine.
"""
# First, before numpy, torch or Caffe load: the CPU kernels pinned (common/reproducible.py).
import common  # noqa: F401  (isort: skip)
from .preprocessing import preprocess  # noqa: E402

__all__ = ["preprocess"]
