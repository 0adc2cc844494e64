"""UCF-101 videos -> 10 frames -> BVLC CaffeNet FC7 codes in HDF5 (Giel & Diaz, 2015).

    caffe_extract.preprocess(frames)              # uint8 RGB (N, H, W, 3) -> (N, 3, 227, 227)
    caffe_extract.caffenet.load(caffemodel)       # the PyTorch port of CaffeNet
    caffe_extract.backends.open_backend("caffe" | "torch", caffemodel)
    caffe_extract.frames.read_frames(path)        # 10 frames over the first 2 s
    python -m caffe_extract extract --help        # the pipeline

Modules: ucf101 (split files), frames (sampler), preprocessing (caffe.io's steps), caffemodel
(reading .caffemodel files), caffenet (the port), backends (pycaffe | port), store (HDF5),
pipeline (resumable extraction), weights and data (downloads), synthetic (test videos),
random_model (random-weight CaffeNet written by real Caffe), bench.
"""
from .preprocessing import preprocess

__all__ = ["preprocess"]
