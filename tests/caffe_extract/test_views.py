"""Augmentation at extraction (issue 24): caffe.Classifier's ten views and the views store
(training on them: tests/experiment/test_augment.py)."""
import h5py
import numpy as np
import pytest

from caffe_extract import views as V
from caffe_extract.backends import open_backend
from caffe_extract.frames import N_FRAMES, SPAN, read_clip
from caffe_extract.paths import MEAN_FILE
from caffe_extract.chunks import forward_batch, stored_codes
from caffe_extract.pipeline import ExtractSettings, extract
from caffe_extract.store import StoreError, read_store
from caffe_extract.synthetic import CLASSES, make_dataset, render_frames
from experiment.train import load_data


@pytest.fixture(scope="module")
def frames():
    f = render_frames(3, seed=5, velocity=(0.5, 0.2))
    f[1] = 77                                       # a constant frame: caffe.io's special case
    return f


def test_crop_boxes_are_caffe_io_s():
    """Corners at 0 and 256 - 227 = 29; the centre 128 -+ 113.5 truncated: 14 .. 241."""
    np.testing.assert_array_equal(V.crop_boxes(), [[0, 0, 227, 227], [0, 29, 227, 256],
                                                   [29, 0, 256, 227], [29, 29, 256, 256],
                                                   [14, 14, 241, 241]])


def test_crops_equal_real_caffe_io_oversample_bitwise(caffe):
    images = np.random.default_rng(0).random((3, 256, 256, 3), dtype=np.float32)
    ours = V.oversample(images)                                       # (N, V, h, w, K)
    theirs = caffe.io.oversample(list(images), (227, 227))           # (V N, h, w, K)
    assert ours.shape == (3, 10, 227, 227, 3) and ours.dtype == theirs.dtype == np.float32
    np.testing.assert_array_equal(ours.reshape(theirs.shape), theirs)
    np.testing.assert_array_equal(ours[:, 5], ours[:, 0, :, ::-1])   # view 5: top-left mirrored
    assert not np.array_equal(ours[:, 0], ours[:, 5])


def classifier_inputs(caffe, frames, anti_aliasing):
    """What caffe.Classifier.predict(oversample=True) feeds the net, (V, T, 3, 227, 227):
    caffe.io.load_image's conversion, caffe.io.resize_image to 256 x 256, caffe.io.oversample,
    caffe.io.Transformer.preprocess of each crop (CaffeNet's settings, channel mean)."""
    import skimage
    import skimage.transform
    transformer = caffe.io.Transformer({"data": (1, 3, 227, 227)})
    transformer.set_transpose("data", (2, 0, 1))
    transformer.set_channel_swap("data", (2, 1, 0))
    transformer.set_raw_scale("data", 255.0)
    transformer.set_mean("data", np.load(MEAN_FILE).mean(1).mean(1))
    resize = skimage.transform.resize
    caffe.io.resize = lambda *a, **k: resize(*a, anti_aliasing=anti_aliasing, **k)
    try:
        images = [caffe.io.resize_image(skimage.img_as_float(f).astype(np.float32), (256, 256))
                  for f in frames]
    finally:
        caffe.io.resize = resize
    crops = caffe.io.oversample(images, (227, 227))
    out = np.stack([transformer.preprocess("data", c) for c in crops])        # (T V, 3, h, w)
    return out.reshape(len(frames), 10, 3, 227, 227).transpose(1, 0, 2, 3, 4)


@pytest.mark.parametrize("anti_aliasing", [False, True])   # 2015's skimage; today's
def test_views_equal_caffe_classifier_steps(caffe, frames, anti_aliasing):
    ours = V.views(frames, anti_aliasing=anti_aliasing)
    assert ours.shape == (10, 3, 3, 227, 227) and ours.dtype == np.float32
    np.testing.assert_array_equal(ours, classifier_inputs(caffe, frames, anti_aliasing))


def test_torch_resize_gives_the_skimage_views(frames):
    """To float32 rounding (values up to ~150: ulp ~1.5e-5), the border rows included, where
    the 240 -> 256 resize samples outside the frame (skimage's mode='constant')."""
    slow, fast = V.views(frames), V.views(frames, resize="torch")
    assert np.abs(slow - fast).max() < 1e-4


def test_views_bad_input(frames):
    with pytest.raises(ValueError, match="uint8"):
        V.views(frames.astype(np.float32))
    with pytest.raises(ValueError, match="2015 resize only"):
        V.views(frames, anti_aliasing=True, resize="torch")
    with pytest.raises(ValueError, match="do not fit"):
        V.oversample(np.zeros((1, 200, 200, 3), np.float32))


class CountingBackend:
    """A stand-in network: the mean of each image, repeated D = 3 times; counts its forwards."""

    def __init__(self):
        self.sizes = []

    def forward(self, batch, blobs):
        self.sizes.append(len(batch))
        return {blobs[0]: np.repeat(batch.mean(axis=(1, 2, 3))[:, None], 3, axis=1)}


def test_forward_batches():
    """Without views one forward per batch (as before views: the same bits); with views,
    forwards of per_forward images, and the codes land at (video, view, frame)."""
    backend = CountingBackend()
    batch = [(i, np.full((10, 3, 2, 2), i, np.float32), None) for i in range(3)]
    done = forward_batch(backend, batch, "relu7", per_forward=40)
    assert backend.sizes == [30] and done[2][1].shape == (10, 3)
    backend = CountingBackend()
    images = np.arange(100, dtype=np.float32)[:, None, None, None] * np.ones((1, 3, 2, 2))
    done = forward_batch(backend, [(0, images, None), (1, images + 1000, None)], "relu7", 40)
    assert backend.sizes == [40, 40, 40, 40, 40]
    codes = done[1][1]                                             # (V, T, D)
    assert codes.shape == (10, 10, 3) and codes[7, 3, 0] == 1000 + 7 * 10 + 3


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """2 classes x 4 groups: split 1 tests on group 1 (2 videos)."""
    root = tmp_path_factory.mktemp("ucf-views")
    make_dataset(root, n_groups=4, classes=CLASSES[:2], seed=3)
    return root


def run(dataset, out, weights, **kw):
    config = ExtractSettings(videos=str(dataset / "videos"), splits=str(dataset / "splits"),
                           out=str(out), weights=weights, subset="test", backend="torch",
                           workers=0, chunk=1, batch_videos=1, progress=False, **kw)
    return extract(config)[0]


@pytest.fixture(scope="module")
def stores(dataset, random_caffemodel, tmp_path_factory):
    folder = tmp_path_factory.mktemp("stores")
    return {name: run(dataset, folder / f"{name}.h5", random_caffemodel, **kw) for name, kw in
            (("plain", {}), ("views", {"views": "oversample"}),
             ("half", {"views": "oversample", "store_dtype": "float16"}))}


def test_views_store_layout(stores, dataset, random_caffemodel):
    plain, views = read_store(stores["plain"]), read_store(stores["views"], views=True)
    n = len(plain["video"])
    assert n == 2 and views["features"].shape == (n, 10, 10, 4096)
    assert views["features"].dtype == np.float32
    for key in ("labels", "video", "group", "frame_times", "classes", "warning"):
        np.testing.assert_array_equal(views[key], plain[key], err_msg=key)
    assert views["attrs"]["views"].startswith("oversample") and \
        views["attrs"]["features_dtype"] == "float32"
    # each view's codes: the network on that view of each frame (order V, then T)
    clip = read_clip(str(dataset / "videos" / views["video"][1]), N_FRAMES, SPAN, "pyav")
    images = V.views(clip.frames, resize="torch")                         # (V, T, 3, h, w)
    net = open_backend("torch", random_caffemodel)
    for v in (0, V.CENTRE, 9):
        np.testing.assert_array_equal(views["features"][1, v], net.forward(images[v])["relu7"])


def test_the_store_without_views_keeps_its_layout(stores):
    """The store without views: the datasets, dtypes and attributes it had before views."""
    with h5py.File(stores["plain"], "r") as f:
        assert f["features"].dtype == np.float32 and f["features"].shape == (2, 10, 4096)
        assert sorted(f) == ["classes", "failed_reason", "failed_video", "features",
                             "frame_times", "group", "labels", "video", "warning"]
        assert "views" not in f.attrs and "features_dtype" not in f.attrs
        assert f.attrs["preprocessing"].startswith("caffe.io: full frame resized to 227x227")


def test_float16_store_round_trip(stores):
    """float16 on disk: the float32 codes rounded to float16 (relative error <= 2^-11 for
    normal numbers), read back as float32 by training."""
    full, half = read_store(stores["views"], views=True), read_store(stores["half"], views=True)
    assert half["features"].dtype == np.float16 and half["attrs"]["features_dtype"] == "float16"
    np.testing.assert_array_equal(half["features"], full["features"].astype(np.float16))
    x = full["features"]
    gap = np.abs(half["features"].astype(np.float32) - x)
    assert (gap <= np.maximum(np.abs(x) * 2.0 ** -11, 2.0 ** -25)).all() and gap.max() > 0


def test_store_kinds_are_refused_with_clear_errors(stores, tmp_path):
    with pytest.raises(StoreError, match="a views store.*views=True"):
        read_store(stores["views"])
    with pytest.raises(StoreError, match="has no views.*--views oversample"):
        read_store(stores["plain"], views=True)
    assert read_store(stores["views"], views=None)["features"].ndim == 4
    with pytest.raises(FileNotFoundError, match="with --views oversample"):
        load_data(str(tmp_path), views="oversample")


def test_extraction_options_are_checked(dataset, random_caffemodel, tmp_path):
    for kw, message in (({"views": "fivecrop"}, "views must be one of oversample"),
                        ({"store_dtype": "float16"}, "for views stores"),
                        ({"views": "oversample", "store_dtype": "int8"}, "store dtype must be"),
                        ({"views": "oversample", "stream": "flow"}, "mirrored flow image")):
        with pytest.raises(ValueError, match=message):
            run(dataset, tmp_path / "x.h5", random_caffemodel, **kw)


def test_codes_beyond_float16_are_refused():
    codes = np.full((1, 10, 10, 2), 70000.0, np.float32)
    with pytest.raises(ValueError, match="beyond float16's range"):
        stored_codes(codes, "float16", 3)
    assert stored_codes(codes, "float32", 3) is codes
