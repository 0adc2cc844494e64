"""The PyTorch port of CaffeNet computes what real BVLC Caffe computes, on the same .caffemodel.

Weights: seeded random (He-scaled) CaffeNet written by real Caffe's net.save. Images: frames of
synthetic videos (gradients, texture, edges, a moving object), preprocessed as caffe.io does.
Tolerance: max |torch - caffe| / max |caffe| <= 1e-5 per blob, in float32. The two run the same
float32 arithmetic in different orders (Caffe: im2col + OpenBLAS sgemm; PyTorch: its own
kernels), which moves results by a few float32 ulps per layer; measured: <= 2.1e-6 on every
blob up to fc8. The softmax ``prob`` is compared in absolute terms (1e-4): with fc8 logits of
order 300 (random weights), a 1e-6 relative logit change moves probabilities by ~1e-5.
"""
import os
import subprocess
import sys

import numpy as np
import pytest

from caffe_extract import caffenet
from caffe_extract.backends import open_backend
from caffe_extract.caffemodel import read_blobs
from caffe_extract.paths import DEPLOY_PROTOTXT, MEAN_FILE
from caffe_extract.preprocessing import preprocess
from caffe_extract.synthetic import render_frames

TOLERANCE = 1e-5
PROB_TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def frames():
    """10 frames of two synthetic videos: different scenes, objects, colours, motion."""
    return np.concatenate([
        render_frames(5, shape="disk", color=(220, 40, 40), velocity=(0.4, 0.0), seed=1),
        render_frames(5, shape="square", color=(30, 200, 60), velocity=(-0.3, 0.2), seed=2)])


@pytest.fixture(scope="module")
def backends(random_caffemodel):
    return open_backend("torch", random_caffemodel), open_backend("caffe", random_caffemodel)


def relative_gaps(a, b):
    return {k: float(np.abs(a[k] - b[k]).max() / np.abs(b[k]).max()) for k in b}


@pytest.mark.parametrize("n", [1, 10])
def test_port_equals_pycaffe_on_every_blob(backends, frames, n):
    torch_net, caffe_net = backends
    batch = preprocess(frames[:n])
    ours, theirs = torch_net.forward(batch, caffenet.BLOBS), caffe_net.forward(batch, caffenet.BLOBS)
    assert all(ours[k].shape == theirs[k].shape for k in caffenet.BLOBS)
    prob_gap = float(np.abs(ours["prob"] - theirs["prob"]).max())
    gaps = relative_gaps({k: v for k, v in ours.items() if k != "prob"},
                         {k: v for k, v in theirs.items() if k != "prob"})
    broken = [f"{k}: {g:.2e}" for k, g in gaps.items() if g > TOLERANCE]
    assert not broken, "first broken layer: " + broken[0] + "; all: " + ", ".join(broken)
    assert prob_gap <= PROB_TOLERANCE
    # the codes are informative, not dead: about half the fc7 units fire, and they vary
    assert 0.2 < (theirs["relu7"] > 0).mean() < 0.8
    assert np.abs(theirs["relu7"]).max() > 1.0


def test_port_equals_pycaffe_on_each_device(backends, frames, random_caffemodel, device):
    """The same parity on every device present; on a GPU with TF32 off (``devices.configure``),
    which the 1e-5 tolerance needs on Ampere and later cards."""
    _, caffe_net = backends
    port = open_backend("torch", random_caffemodel, device)
    batch = preprocess(frames)
    ours, theirs = port.forward(batch, caffenet.BLOBS), caffe_net.forward(batch, caffenet.BLOBS)
    gaps = relative_gaps({k: v for k, v in ours.items() if k != "prob"},
                         {k: v for k, v in theirs.items() if k != "prob"})
    broken = [f"{k}: {g:.2e}" for k, g in gaps.items() if g > TOLERANCE]
    assert not broken, f"on {device}, first broken layer: " + broken[0]
    assert float(np.abs(ours["prob"] - theirs["prob"]).max()) <= PROB_TOLERANCE


def test_pre_and_post_relu_fc7(backends, frames):
    """fc7 is the InnerProduct output; relu7 is what blob fc7 holds after a full forward."""
    _, caffe_net = backends
    batch = preprocess(frames[:2])
    out = caffe_net.forward(batch, ("fc7", "relu7"))
    assert (out["fc7"] < 0).any()
    np.testing.assert_array_equal(out["relu7"], np.maximum(out["fc7"], 0))
    caffe_net.net.forward()  # the common idiom: full forward, then read blob fc7
    np.testing.assert_array_equal(caffe_net.net.blobs["fc7"].data, out["relu7"])


def test_parser_reads_the_blobs_caffe_wrote(caffe, random_caffemodel):
    net = caffe.Net(str(DEPLOY_PROTOTXT), random_caffemodel, caffe.TEST)
    ours = read_blobs(random_caffemodel)
    assert list(ours) == list(net.params)
    for name, blobs in net.params.items():
        assert len(ours[name]) == len(blobs) == 2, name          # weights and biases
        for mine, theirs in zip(ours[name], blobs):
            np.testing.assert_array_equal(mine, theirs.data)


def test_old_v1_caffemodel_with_legacy_shapes(caffe, random_caffemodel, tmp_path, frames):
    """A CaffeNet saved in the pre-2015 format (``layers`` field, 4-d num/channels/height/width
    shapes), as the BVLC model zoo file is: written with Caffe's own protobuf schema."""
    from caffe.proto import caffe_pb2
    new = caffe_pb2.NetParameter()
    with open(random_caffemodel, "rb") as f:
        new.ParseFromString(f.read())
    old = caffe_pb2.NetParameter(name=new.name)
    kinds = {"Convolution": caffe_pb2.V1LayerParameter.CONVOLUTION,
             "InnerProduct": caffe_pb2.V1LayerParameter.INNER_PRODUCT}
    for layer in new.layer:
        if not layer.blobs:
            continue
        v1 = old.layers.add(name=layer.name, type=kinds[layer.type])
        for blob in layer.blobs:
            dims = [1] * (4 - len(blob.shape.dim)) + list(blob.shape.dim)
            legacy = v1.blobs.add()
            legacy.CopyFrom(blob)
            legacy.ClearField("shape")
            legacy.num, legacy.channels, legacy.height, legacy.width = dims
    path = tmp_path / "caffenet-v1.caffemodel"
    path.write_bytes(old.SerializeToString())
    v1_blobs, new_blobs = read_blobs(path), read_blobs(random_caffemodel)
    assert v1_blobs["fc6"][0].shape == (1, 1, 4096, 9216)
    batch = preprocess(frames[:2])
    ours = open_backend("torch", path).forward(batch, ("relu7",))["relu7"]
    theirs = open_backend("caffe", path).forward(batch, ("relu7",))["relu7"]
    reference = open_backend("torch", random_caffemodel).forward(batch, ("relu7",))["relu7"]
    np.testing.assert_array_equal(ours, reference)
    assert relative_gaps({"relu7": ours}, {"relu7": theirs})["relu7"] <= TOLERANCE
    assert all(np.array_equal(a.ravel(), b.ravel()) for k in new_blobs
               for a, b in zip(v1_blobs[k], new_blobs[k]))


def test_layer_table_matches_deploy_prototxt(caffe):
    from caffe.proto import caffe_pb2
    from google.protobuf import text_format
    net = text_format.Parse(DEPLOY_PROTOTXT.read_text(), caffe_pb2.NetParameter())
    layers = [layer for layer in net.layer if layer.type != "Input"]
    assert [(layer.name, layer.type) for layer in layers] == \
        [(name, kind) for name, kind, _ in caffenet.LAYERS]
    assert list(net.layer[0].input_param.shape[0].dim)[1:] == list(caffenet.INPUT_SHAPE)
    for layer, (_, kind, p) in zip(layers, caffenet.LAYERS):
        if kind == "Convolution":
            c = layer.convolution_param
            assert (c.num_output, c.kernel_size[0], c.stride[0] if c.stride else 1,
                    c.pad[0] if c.pad else 0, c.group) == \
                (p["num_output"], p["kernel_size"], p["stride"], p["pad"], p["group"]), layer.name
        elif kind == "Pooling":
            q = layer.pooling_param
            assert (q.pool, q.kernel_size, q.stride) == \
                (caffe_pb2.PoolingParameter.MAX, p["kernel_size"], p["stride"]), layer.name
        elif kind == "LRN":
            q = layer.lrn_param
            assert (q.local_size, q.beta, q.norm_region) == (p["local_size"], p["beta"], 0)
            assert q.alpha == pytest.approx(p["alpha"], rel=1e-6) and q.k == 1.0
        elif kind == "InnerProduct":
            assert layer.inner_product_param.num_output == p["num_output"], layer.name
        elif kind == "Dropout":
            assert layer.dropout_param.dropout_ratio == p["dropout_ratio"]
        elif kind == "ReLU":  # in place on the previous layer's top
            assert layer.bottom == layer.top


def test_field_numbers_are_caffe_protos(caffe):
    """The numbers our minimal reader uses are those of Caffe's caffe.proto."""
    from caffe.proto import caffe_pb2
    from caffe_extract import caffemodel as m

    def number(message, field):
        return message.DESCRIPTOR.fields_by_name[field].number

    assert (number(caffe_pb2.NetParameter, "layer"), number(caffe_pb2.NetParameter, "layers")) == \
        (m.NET_LAYER, m.NET_LAYERS_V1)
    assert [number(caffe_pb2.LayerParameter, f) for f in ("name", "type", "blobs")] == \
        [m.LAYER_NAME, m.LAYER_TYPE, m.LAYER_BLOBS]
    assert [number(caffe_pb2.V1LayerParameter, f) for f in ("name", "type", "blobs")] == \
        [m.V1_NAME, m.V1_TYPE, m.V1_BLOBS]
    assert [number(caffe_pb2.BlobProto, f) for f in
            ("num", "channels", "height", "width", "data", "shape", "double_data")] == \
        [m.BLOB_NUM, m.BLOB_CHANNELS, m.BLOB_HEIGHT, m.BLOB_WIDTH, m.BLOB_DATA, m.BLOB_SHAPE,
         m.BLOB_DOUBLE_DATA]
    assert number(caffe_pb2.BlobShape, "dim") == m.SHAPE_DIM


def test_assets_are_the_caffe_sources_files(caffe):
    root = os.path.join(os.path.dirname(caffe.__file__), os.pardir, os.pardir)
    for ours, theirs in [(DEPLOY_PROTOTXT, "models/bvlc_reference_caffenet/deploy.prototxt"),
                         (MEAN_FILE, "python/caffe/imagenet/ilsvrc_2012_mean.npy")]:
        with open(os.path.join(root, theirs), "rb") as f:
            assert ours.read_bytes() == f.read(), theirs


def test_preprocess_equals_caffe_io(caffe, frames, monkeypatch):
    """Ours vs caffe.io.load_image's conversion + caffe.io.Transformer, to float32 rounding:
    anti_aliasing=True vs today's caffe.io, and our default (False) vs caffe.io with 2015's
    skimage behaviour (no anti-aliasing)."""
    import skimage
    import skimage.transform
    transformer = caffe.io.Transformer({"data": (1, 3, 227, 227)})
    transformer.set_transpose("data", (2, 0, 1))
    transformer.set_channel_swap("data", (2, 1, 0))
    transformer.set_raw_scale("data", 255.0)
    transformer.set_mean("data", np.load(MEAN_FILE).mean(1).mean(1))

    def caffe_io(frame):
        return transformer.preprocess("data", skimage.img_as_float(frame).astype(np.float32))

    today = np.stack([caffe_io(f) for f in frames[:3]])
    np.testing.assert_allclose(preprocess(frames[:3], anti_aliasing=True), today, rtol=0, atol=1e-4)
    real_resize = skimage.transform.resize
    monkeypatch.setattr(caffe.io, "resize", lambda *a, **k: real_resize(*a, anti_aliasing=False, **k))
    then = np.stack([caffe_io(f) for f in frames[:3]])
    np.testing.assert_allclose(preprocess(frames[:3]), then, rtol=0, atol=1e-4)
    # The choice is visible but tiny for 320x240 -> 227x227: skimage's anti-aliasing Gaussian
    # has sigma = (scale - 1) / 2 = 0.2 px across, 0.03 px down, so neighbours get ~4e-6 weight.
    gap = np.abs(then - today).max()
    assert 0 < gap < 0.01, gap


CHILD = """
import sys
from caffe_extract.backends import open_backend
from caffe_extract.caffemodel import CaffeModelError
try:
    open_backend(sys.argv[1], sys.argv[2])
except CaffeModelError as error:
    print("CLEAR ERROR:", error)
    sys.exit(3)
"""


def run_child(backend, path):
    """Load in a subprocess: a failed CHECK inside Caffe would abort the whole process."""
    return subprocess.run([sys.executable, "-c", CHILD, backend, str(path)],
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("backend", ["torch", "caffe"])
def test_truncated_caffemodel_is_a_clear_error(random_caffemodel, tmp_path, backend):
    path = tmp_path / "truncated.caffemodel"
    with open(random_caffemodel, "rb") as f:
        path.write_bytes(f.read(150_000_000))
    result = run_child(backend, path)
    assert result.returncode == 3, result.stderr[-2000:]
    assert "truncated or not a .caffemodel" in result.stdout


@pytest.mark.parametrize("backend", ["torch", "caffe"])
def test_another_nets_caffemodel_is_a_clear_error(caffe, tmp_path, backend):
    """A small LeNet-style net written by real Caffe is refused, naming what is missing."""
    prototxt = tmp_path / "lenet.prototxt"
    prototxt.write_text("""name: "LeNet"
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 1 dim: 28 dim: 28 } } }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
        convolution_param { num_output: 20 kernel_size: 5 } }
layer { name: "ip1" type: "InnerProduct" bottom: "conv1" top: "ip1" inner_product_param { num_output: 10 } }
""")
    net = caffe.Net(str(prototxt), caffe.TEST)
    path = tmp_path / "lenet.caffemodel"
    net.save(str(path))
    result = run_child(backend, path)
    assert result.returncode == 3, result.stderr[-2000:]
    assert "is not a CaffeNet: layers missing ['conv2'" in result.stdout
    assert "'ip1'" in result.stdout


def test_random_caffenet_without_caffe_has_caffes_blobs(random_caffemodel, tmp_path):
    """A machine without Caffe (a GPU's) writes the seed-0 random CaffeNet with the very blobs
    of real Caffe's file: same layers in the same order, every weight bit-equal."""
    from caffe_extract.random_model import write_without_caffe
    write_without_caffe(tmp_path / "nocaffe.caffemodel", seed=0)
    ours, caffes = read_blobs(tmp_path / "nocaffe.caffemodel"), read_blobs(random_caffemodel)
    assert list(ours) == list(caffes) == caffenet.CaffeNet().param_layers
    assert all(len(ours[name]) == len(caffes[name]) == 2 for name in caffes)
    assert all(a.dtype == b.dtype == np.float32 and a.shape == b.shape and np.array_equal(a, b)
               for name in caffes for a, b in zip(ours[name], caffes[name]))


def test_kept_pycaffe_blobs_are_what_pycaffe_computes(backends):
    """parity_tests/fixtures/pycaffe/random-seed0.npz is not stale: pycaffe on its input gives
    its blobs (within the port's tolerance: another CPU's BLAS may round differently)."""
    from parity_tests.pycaffe_blobs import KEPT, read
    batch, kept = read()
    now = backends[1].forward(batch, KEPT)
    assert max(relative_gaps(now, kept).values()) <= TOLERANCE


def test_port_on_each_device_equals_the_kept_pycaffe_blobs(device):
    """The port's parity where pycaffe is not (a GPU machine): the random CaffeNet as that
    machine writes it (``cached_random_caffemodel``: Caffe's file here, the Caffe-less one
    there) against the kept pycaffe blobs, with the tolerances above."""
    from caffe_extract.random_model import cached_random_caffemodel
    from parity_tests.pycaffe_blobs import KEPT, read
    batch, kept = read()
    ours = open_backend("torch", cached_random_caffemodel(seed=0), device).forward(batch, KEPT)
    gaps = relative_gaps({k: v for k, v in ours.items() if k != "prob"},
                         {k: v for k, v in kept.items() if k != "prob"})
    broken = [f"{k}: {g:.2e}" for k, g in gaps.items() if g > TOLERANCE]
    assert not broken, f"on {device}, first broken layer: " + broken[0]
    assert float(np.abs(ours["prob"] - kept["prob"]).max()) <= PROB_TOLERANCE
