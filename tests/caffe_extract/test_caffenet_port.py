"""The CaffeNet port's own behaviour, without Caffe: shapes, blob names, strict loading, errors."""
import numpy as np
import pytest
import torch

from caffe_extract import caffenet
from caffe_extract.backends import caffe_top, open_backend
from caffe_extract.caffemodel import CaffeModelError, read_blobs


def caffenet_blobs():
    net = caffenet.CaffeNet()
    return {name: [net.layers[name].weight.detach().numpy(), net.layers[name].bias.detach().numpy()]
            for name in net.param_layers}


def test_blob_shapes_follow_caffe():
    net = caffenet.CaffeNet().eval()
    out = net(torch.zeros(2, 3, 227, 227), blobs=("pool1", "pool2", "pool5", "fc7", "relu7"))
    assert out["pool1"].shape == (2, 96, 27, 27)    # ceil((55 - 3) / 2) + 1 = 27
    assert out["pool2"].shape == (2, 256, 13, 13)
    assert out["pool5"].shape == (2, 256, 6, 6)
    assert out["fc7"].shape == out["relu7"].shape == (2, 4096)
    assert torch.equal(out["relu7"], torch.relu(out["fc7"]))


def test_forward_stops_at_the_last_blob_asked(monkeypatch):
    net = caffenet.CaffeNet().eval()
    called = []
    monkeypatch.setattr(net.layers["fc8"], "forward", lambda x: called.append(1) or x)
    net(torch.zeros(1, 3, 227, 227), blobs=("relu7",))
    assert not called


def test_forward_errors():
    net = caffenet.CaffeNet()
    with pytest.raises(ValueError, match="unknown CaffeNet blob"):
        net(torch.zeros(1, 3, 227, 227), blobs=("fc9",))
    with pytest.raises(ValueError, match=r"\(N, 3, 227, 227\)"):
        net(torch.zeros(1, 3, 224, 224))


def test_in_place_layers_write_their_inputs_blob():
    assert caffe_top("relu7") == caffe_top("drop7") == caffe_top("fc7") == "fc7"
    assert caffe_top("relu1") == "conv1" and caffe_top("pool1") == "pool1"


def test_strict_loading():
    blobs = caffenet_blobs()
    net = caffenet.CaffeNet()
    net.load_blobs(blobs)
    legacy = dict(blobs, fc6=[blobs["fc6"][0].reshape(1, 1, 4096, 9216), blobs["fc6"][1]])
    net.load_blobs(legacy)  # pre-2015 4-d shapes holding the same array are fine
    with pytest.raises(CaffeModelError, match="layers missing \\['fc8'\\]"):
        net.load_blobs({k: v for k, v in blobs.items() if k != "fc8"})
    with pytest.raises(CaffeModelError, match="unexpected layers with weights \\['fc9'\\]"):
        net.load_blobs(dict(blobs, fc9=blobs["fc8"]))
    with pytest.raises(CaffeModelError, match="layer fc7 has a blob of shape \\(4096, 4095\\)"):
        net.load_blobs(dict(blobs, fc7=[np.zeros((4096, 4095), np.float32), blobs["fc7"][1]]))
    with pytest.raises(CaffeModelError, match="conv1 has 1 blobs"):
        net.load_blobs(dict(blobs, conv1=blobs["conv1"][:1]))


def test_unreadable_files(tmp_path):
    with pytest.raises(CaffeModelError, match="cannot read"):
        read_blobs(tmp_path / "missing.caffemodel")
    junk = tmp_path / "junk.caffemodel"
    junk.write_bytes(bytes(range(256)) * 100)
    with pytest.raises(CaffeModelError, match="not a .caffemodel"):
        read_blobs(junk)
    text = tmp_path / "deploy.caffemodel"
    text.write_text('name: "CaffeNet"\nlayer { name: "conv1" }\n')
    with pytest.raises(CaffeModelError, match="not a .caffemodel"):
        open_backend("torch", text)


def test_unknown_backend():
    with pytest.raises(ValueError, match="choose 'caffe' or 'torch'"):
        open_backend("tensorflow", "x.caffemodel")
