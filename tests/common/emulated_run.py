"""A tiny run of each numerical stage, whose bytes tests/common/test_emulated_cpus.py compares
between this machine and an emulated one
(``qemu-x86_64 -cpu EPYC-Milan-v1 python tests/common/emulated_run.py``).

Prints one JSON object, a SHA-256 per stage:
  train/<model>  the weights after 2 epochs of ``experiment.train.train_run`` (the project's
                 training loop: loss, fused SGD, checkpoints), for the four paper models on 24
                 random sequences of 10 x 96 codes (hidden 16, 3 classes, batches of 8)
  frames         10 frames decoded (PyAV, in this process) from a synthetic XviD video and
                 preprocessed as for CaffeNet (the video is written by ffmpeg, a child process
                 that runs natively: qemu-user does not follow it)
  flow           OpenCV's Farneback flow of two frame pairs, rendered for CaffeNet (the motion
                 stream, caffe_extract/flow.py)
  conv (oneDNN)  a small grouped convolution, ReLU, max pooling and inner product in torch, as
                 the CaffeNet port runs them (oneDNN's convolution kernels, MKL's GEMM)
  pycaffe        one forward of a small random convolutional net in real Caffe (convolution,
                 ReLU, pooling, inner product: OpenBLAS's GEMMs as CaffeNet runs them)
  mkl            MKL's branch in effect, and the CPU's vendor (to show which CPU ran)
Emulation costs about 200x per GEMM, so the sizes are small; the shapes still take MKL's and
OpenBLAS's vectorised paths, where the branch changes the rounding (measured: without the MKL
vendor fix the emulated AMD gives other training bytes).
"""
import common  # noqa: F401  (isort: skip)  first: pins the CPU kernels
import hashlib
import json
import os
import sys
import tempfile

import numpy as np
import torch

NET = """
name: "tiny" input: "data" input_shape { dim: 2 dim: 3 dim: 19 dim: 19 }
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
        convolution_param { num_output: 8 kernel_size: 5 stride: 2 group: 1 } }
layer { name: "relu" type: "ReLU" bottom: "conv" top: "conv" }
layer { name: "pool" type: "Pooling" bottom: "conv" top: "pool"
        pooling_param { pool: MAX kernel_size: 3 stride: 2 } }
layer { name: "fc" type: "InnerProduct" bottom: "pool" top: "fc" inner_product_param { num_output: 16 } }
"""


def sha256(*arrays):
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def train_digests(work):
    from experiment.train import Split, RunSettings, train_run
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(24, 10, 96, generator=generator)
    y = torch.arange(24) % 3
    train, val = Split(x[:16], y[:16]), Split(x[16:], y[16:])
    digests = {}
    for model in ("average", "rnn", "lstm", "birnn"):
        config = RunSettings(model=model, hidden_dim=16, lr=0.01, batch_size=8, epochs=2,
                             patience=0, seed=0)
        train_run(config, train, val, 3, work, progress=False)
        saved = torch.load(os.path.join(work, "checkpoints", config.run_id() + ".pt"),
                           weights_only=False)
        digests[f"train/{model}"] = sha256(*(t.numpy() for t in saved["model"].values()))
    return digests


def frames_digest(work):
    from caffe_extract import synthetic
    from caffe_extract.frames import read_frames
    from caffe_extract.preprocessing import preprocess
    path = os.path.join(work, "clip.avi")
    synthetic.write_video(path, synthetic.render_frames(30))
    return sha256(preprocess(read_frames(path)))


def flow_digest():
    from caffe_extract import synthetic
    from caffe_extract.flow import flow_images
    frames = synthetic.render_frames(3, height=120, width=160)
    return sha256(flow_images(frames[:2], [frames[1], frames[2]]))


def torch_conv_digest():
    import torch.nn.functional as F
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(2, 4, 19, 19, generator=generator)
    w = torch.randn(8, 2, 5, 5, generator=generator)                 # groups=2, as conv2 of CaffeNet
    fc = torch.randn(16, 8 * 4 * 4, generator=generator)
    with torch.no_grad():
        h = F.max_pool2d(F.relu(F.conv2d(x, w, stride=2, groups=2)), 3, 2, ceil_mode=True)
        return sha256((h.flatten(1) @ fc.T).numpy())


def pycaffe_digest(work):
    from caffe_extract.pycaffe import import_caffe
    caffe = import_caffe()
    caffe.set_mode_cpu()
    path = os.path.join(work, "tiny.prototxt")
    with open(path, "w") as f:
        f.write(NET)
    net = caffe.Net(path, caffe.TEST)
    rng = np.random.RandomState(0)
    for blobs in net.params.values():
        for blob in blobs:
            blob.data[...] = rng.standard_normal(blob.data.shape)
    net.blobs["data"].data[...] = rng.standard_normal(net.blobs["data"].data.shape)
    return sha256(net.forward()["fc"])


def main():
    from common import cpu, mkl
    with tempfile.TemporaryDirectory() as work:
        out = train_digests(work)
        out["frames"] = frames_digest(work)
        out["flow"] = flow_digest()
        out["conv"] = torch_conv_digest()
        if "--no-caffe" not in sys.argv:
            out["pycaffe"] = pycaffe_digest(work)
    out["mkl"] = mkl.branch()
    out["vendor"] = cpu.identity()["vendor"]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
