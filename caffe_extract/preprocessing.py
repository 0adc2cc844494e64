"""Frames -> CaffeNet input, exactly as caffe.io did it for the paper (2015; docs/data.md,
"Real Caffe and the CaffeNet port"): ``caffe.io.load_image`` + ``caffe.io.Transformer``
with CaffeNet's usual settings (transpose (2, 0, 1), channel swap (2, 1, 0), raw scale 255):

    1. uint8 RGB -> float in [0, 1]            (load_image: img_as_float, then float32)
    2. resize the whole frame to 227 x 227     (caffe.io.resize_image: skimage, bilinear)
    3. HWC -> CHW, RGB -> BGR, x 255
    4. subtract the ImageNet mean per channel  (ilsvrc_2012_mean.npy averaged over pixels:
                                                B 104.0, G 116.7, R 122.7)

``mean="pixel"`` subtracts the mean image's central 227 x 227 instead, as Caffe's data layer
does for a centre-cropped 256 x 256 image; the paper does not say which (`make drift`
measures it). ``anti_aliasing=False`` (our default) is 2015's skimage, ``True`` today's.
``resize="torch"`` resizes with ``F.interpolate`` (bilinear, half-pixel centres, as skimage's
order-1 resize), several times faster, equal to float32 rounding (|diff| < 1e-4, tested): when
no side grows (UCF-101's 320 x 240 to 227 x 227) no sample falls outside the frame, so the
borders agree too. A frame that must grow (a side under 227) is resized by skimage, whose
border ``F.interpolate`` does not reproduce (``shrinks``; ``views``' ``grid_sample`` does).
"""
import numpy as np
import skimage
import skimage.transform
import torch
import torch.nn.functional as F

from configurations import EXTRACTION

from .paths import MEAN_FILE

SIZE = EXTRACTION.crop


def mean_values(kind="channel"):
    """The ImageNet mean to subtract, BGR, from Caffe's ilsvrc_2012_mean.npy (3, 256, 256):
    "channel" -> its average per channel, (3,) float64; "pixel" -> its central (3, 227, 227)."""
    if kind not in ("channel", "pixel"):
        raise ValueError(f"mean must be 'channel' or 'pixel', got {kind!r}")
    full = np.load(MEAN_FILE)
    if kind == "channel":
        return full.mean(axis=(1, 2))
    top, left = ((s - c) // 2 for s, c in zip(full.shape[1:], SIZE))
    return full[:, top:top + SIZE[0], left:left + SIZE[1]].astype(np.float64)


def resize_image(im, size=SIZE, anti_aliasing=False):
    """caffe.io.resize_image for an (H, W, 3) float image, with the anti-aliasing choice explicit:
    stretch to [0, 1], resize bilinearly, stretch back, cast to float32."""
    im_min, im_max = im.min(), im.max()
    if im_max == im_min:  # a constant image (caffe.io avoids the division by 0 the same way)
        return np.full(size + (im.shape[-1],), im_min, dtype=np.float32)
    im_std = (im - im_min) / (im_max - im_min)
    resized = skimage.transform.resize(im_std, size, order=1, mode="constant",
                                       anti_aliasing=anti_aliasing)
    return (resized * (im_max - im_min) + im_min).astype(np.float32)


def shrinks(frames, size):
    """Whether resizing ``frames`` (N, H, W, 3) to ``size`` (h, w) grows no side: then no
    bilinear sample falls outside the frame, and ``resize="torch"`` equals skimage there too."""
    return frames.shape[1] >= size[0] and frames.shape[2] >= size[1]


def checked_inputs(frames, mean, resize, anti_aliasing):
    """(frames, mean) checked for ``preprocess`` and ``views.views``: uint8 RGB frames
    (N, H, W, 3), the mean as a BGR array (3, 1, 1) or (3, 227, 227), and a resize that can do
    what is asked; a ValueError naming the bad value otherwise."""
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be uint8 (N, H, W, 3) RGB, got {frames.dtype} {frames.shape}")
    mean = mean_values(mean) if isinstance(mean, str) else \
        mean_values("channel") if mean is None else np.asarray(mean, dtype=np.float64)
    if mean.shape == (3,):
        mean = mean[:, None, None]                                  # (3, 1, 1)
    if mean.shape not in ((3, 1, 1), (3,) + SIZE):
        raise ValueError(f"mean must have shape (3,) or (3, 227, 227), got {mean.shape}")
    if resize not in ("skimage", "torch"):
        raise ValueError(f"resize must be 'skimage' or 'torch', got {resize!r}")
    if resize == "torch" and anti_aliasing:
        raise ValueError("resize='torch' reproduces the 2015 resize only (anti_aliasing=False)")
    return frames, mean


def preprocess(frames, anti_aliasing=False, mean=None, resize="skimage"):
    """uint8 RGB frames (N, H, W, 3) -> float32 (N, 3, 227, 227) BGR, mean-subtracted. mean:
    "channel" (the default) or "pixel" (``mean_values``), or a BGR array, (3,) or (3, 227, 227).
    resize: "skimage" (caffe.io's own call) or "torch" (the same arithmetic, faster)."""
    frames, mean = checked_inputs(frames, mean, resize, anti_aliasing)
    if resize == "torch" and shrinks(frames, SIZE):
        return _preprocess_torch(frames, mean)
    out = np.empty((len(frames), 3) + SIZE, dtype=np.float32)
    for i, frame in enumerate(frames):
        im = skimage.img_as_float(frame).astype(np.float32)          # caffe.io.load_image
        im = resize_image(im, SIZE, anti_aliasing)                    # (227, 227, 3)
        chw = im.transpose(2, 0, 1)[::-1]                             # CHW, RGB -> BGR
        chw = chw * np.float32(255.0)                                 # raw_scale, in float32
        out[i] = chw - mean                                           # mean (float64), as caffe.io
    return out


def _preprocess_torch(frames, mean):
    """``preprocess`` for all frames at once, the resize by ``F.interpolate`` in float64.
    caffe.io divides by 255, stretches the image to [0, 1], resizes, stretches back and
    multiplies by 255. The resize is linear with weights summing to 1, so the stretches and
    the scalings cancel exactly in real arithmetic: resizing the raw pixel values gives the
    same numbers up to rounding (measured: < 3e-5 on values up to ~150), in a third of the time.
    """
    x = torch.from_numpy(frames).permute(0, 3, 1, 2).to(torch.float64)    # (N, 3, H, W) RGB
    resized = F.interpolate(x, size=SIZE, mode="bilinear", align_corners=False)
    bgr = resized.flip(1)                                                 # RGB -> BGR
    return (bgr - torch.from_numpy(mean)[None]).to(torch.float32).contiguous().numpy()
