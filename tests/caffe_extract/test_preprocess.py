"""caffe.io preprocessing without Caffe: the fast path equals caffe.io's own steps."""
import numpy as np
import pytest

from caffe_extract import views as V
from caffe_extract.preprocessing import mean_values, preprocess
from caffe_extract.synthetic import render_frames


@pytest.fixture(scope="module")
def frames():
    f = render_frames(4, seed=5, velocity=(0.5, 0.2))
    f[1] = 77          # a constant frame: caffe.io's special case
    f[2, :, :160] = 0  # hard edges, black and white
    f[2, :, 160:] = 255
    return f


def test_torch_resize_equals_caffe_io_steps(frames):
    """Same numbers to float32 rounding (values reach ~150 in magnitude: ulp ~1.5e-5)."""
    slow, fast = preprocess(frames), preprocess(frames, resize="torch")
    assert slow.shape == fast.shape == (4, 3, 227, 227) and fast.dtype == np.float32
    assert np.abs(slow - fast).max() < 1e-4


@pytest.mark.parametrize("height, width", [(226, 400), (200, 300)])
def test_a_frame_that_must_grow_is_resized_as_caffe_io_does(height, width):
    """A side under 227 grows: bilinear samples fall outside the frame, where ``F.interpolate``
    clamps and skimage blends in the frame's minimum (borders 0.44 and 11.8 apart here); such a
    frame goes through skimage either way. The ten views' ``grid_sample`` follows skimage there
    (float32 rounding, as in test_views.py)."""
    frames = render_frames(2, seed=5, velocity=(0.5, 0.2))[:, :height, :width]
    frames = np.ascontiguousarray(np.pad(frames, ((0, 0), (0, 0), (0, max(0, width - 320)), (0, 0)),
                                         mode="reflect"))
    np.testing.assert_array_equal(preprocess(frames, resize="torch"), preprocess(frames))
    assert np.abs(V.views(frames, resize="torch") - V.views(frames)).max() < 1e-4


def test_layout_channels_and_mean(frames):
    out = preprocess(frames[1:2])               # a constant grey frame, 77 everywhere
    np.testing.assert_allclose(out[0, :, 100, 100], 77 - mean_values("channel"), atol=1e-4)
    np.testing.assert_allclose(mean_values("channel"), [104.007, 116.669, 122.679], atol=1e-3)  # B, G, R
    red = np.zeros((1, 240, 320, 3), np.uint8)
    red[..., 0] = 255
    bgr = preprocess(red, resize="torch")[0, :, 50, 50] + mean_values("channel")
    np.testing.assert_allclose(bgr, [0, 0, 255], atol=1e-3)   # red lands in channel 2 (BGR)


def test_bad_input():
    with pytest.raises(ValueError, match="uint8"):
        preprocess(np.zeros((2, 240, 320, 3), np.float32))
    with pytest.raises(ValueError, match="2015 resize only"):
        preprocess(np.zeros((1, 240, 320, 3), np.uint8), anti_aliasing=True, resize="torch")
    with pytest.raises(ValueError, match="resize must be"):
        preprocess(np.zeros((1, 240, 320, 3), np.uint8), resize="cv2")


def test_the_package_exports_preprocess(frames):
    import caffe_extract
    np.testing.assert_array_equal(caffe_extract.preprocess(frames[:1]), preprocess(frames[:1]))
