"""Two CaffeNet backends behind one interface: real pycaffe (the reference) and the PyTorch port.

    backend = open_backend("torch", "bvlc_reference_caffenet.caffemodel", device="cuda")
    codes = backend.forward(batch, blobs=("relu7",))["relu7"]     # (N, 4096) float32 NumPy

``batch``: preprocessed (N, 3, 227, 227) float32 (``preprocessing``); blobs: Caffe layer names
(``caffenet.BLOBS``). ``backend.provenance`` says what computed the codes.
"""
import numpy as np
import torch

from . import caffenet
from .caffemodel import read_blobs
from .paths import DEPLOY_PROTOTXT
from .pycaffe import import_caffe, source_version
from .weights import file_sha1


def caffe_top(layer):
    """The Caffe blob a layer writes: in-place layers (ReLU, Dropout) write their input's blob."""
    top = None
    for name, kind, _ in caffenet.LAYERS:
        if kind not in ("ReLU", "Dropout"):
            top = name
        if name == layer:
            return top
    raise ValueError(f"unknown CaffeNet layer {layer!r}")


class TorchBackend:
    """The PyTorch port of CaffeNet, on CPU or CUDA."""

    def __init__(self, caffemodel, device="cpu", fast=False):
        from common import devices
        devices.configure(device, fast)         # exact float32 unless --fast
        self.net = caffenet.load(caffemodel, device)
        self.device = torch.device(device)
        self.provenance = {"backend": "torch", "device": devices.describe(device, fast),
                           "torch_version": torch.__version__,
                           "weights_sha1": file_sha1(caffemodel)}

    @torch.inference_mode()
    def forward(self, batch, blobs=("relu7",)):
        x = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32))
        if self.device.type == "cuda":          # pinned memory: an asynchronous copy
            x = x.pin_memory().to(self.device, non_blocking=True)
        return {k: v.contiguous().cpu().numpy() for k, v in self.net(x, blobs).items()}


class CaffeBackend:
    """Real BVLC Caffe through pycaffe, CPU only: the reference."""

    def __init__(self, caffemodel, device="cpu", fast=False):
        if str(device) != "cpu":
            raise ValueError("the caffe backend runs on the CPU only (no modern GPU runs BVLC "
                             "Caffe); use --backend torch for CUDA")
        # Check the file ourselves first: a failed CHECK inside Caffe aborts the whole process.
        caffenet.CaffeNet().load_blobs(read_blobs(caffemodel), source=str(caffemodel))
        caffe = import_caffe()
        caffe.set_mode_cpu()
        self.net = caffe.Net(str(DEPLOY_PROTOTXT), str(caffemodel), caffe.TEST)
        self.provenance = {"backend": "caffe", "device": "cpu",
                           "caffe_version": source_version(caffe),
                           "weights_sha1": file_sha1(caffemodel)}

    def forward(self, batch, blobs=("relu7",)):
        """Run the net up to each requested layer in turn and copy its top blob (so pre- and
        post-ReLU values of an in-place ReLU can both be returned)."""
        unknown = [b for b in blobs if b not in caffenet.BLOBS]
        if unknown:
            raise ValueError(f"unknown CaffeNet blob(s) {unknown}; choose from {caffenet.BLOBS}")
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        self.net.blobs["data"].reshape(*batch.shape)
        self.net.blobs["data"].data[...] = batch
        out, start = {}, caffenet.BLOBS[0]
        for layer in sorted(set(blobs), key=caffenet.BLOBS.index):
            self.net.forward(start=start, end=layer)
            out[layer] = self.net.blobs[caffe_top(layer)].data.copy()
            following = caffenet.BLOBS.index(layer) + 1
            start = caffenet.BLOBS[min(following, len(caffenet.BLOBS) - 1)]
        return out


BACKENDS = {"torch": TorchBackend, "caffe": CaffeBackend}


def open_backend(name, caffemodel, device="cpu", fast=False):
    """A CaffeNet backend: ``name`` is "caffe" (pycaffe, CPU) or "torch" (the port, CPU/CUDA;
    ``fast``: TF32 allowed on the GPU)."""
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; choose 'caffe' or 'torch'")
    return BACKENDS[name](caffemodel, device, fast)
