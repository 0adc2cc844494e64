"""Ten views of each frame, as ``caffe.Classifier.predict(oversample=True)`` made them in 2015:
the data augmentation of the paper's time (its Future Work), python/caffe/classifier.py's steps:

    1. uint8 RGB -> float in [0, 1]                  (caffe.io.load_image)
    2. resize the whole frame to 256 x 256           (Classifier's image_dims; resize_image)
    3. caffe.io.oversample(images, (227, 227)):      the crops, in this order (v = 0 .. 9):
         v = 0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right, 4 centre,
         v = 5 .. 9: the same five, each mirrored left-right
    4. each crop: HWC -> CHW, RGB -> BGR, x 255, minus the ImageNet mean (as ``preprocessing``)

Corner boxes start at 0 and at 256 - 227 = 29; the centre box is caffe.io's
centre +- 227/2 = 14.5 .. 241.5, truncated to int: rows and columns 14 .. 240.

``resize="torch"``: skimage's arithmetic by ``grid_sample`` (bilinear, half-pixel centres).
Unlike the full-frame shrink, 240 rows to 256 samples outside the frame at the top and bottom
rows (source row -0.03 and 239.03): skimage's ``mode='constant'`` blends in 3% of the value 0
of its [0, 1]-stretched image, i.e. of the frame's minimum; ``grid_sample``'s zero padding on
the frame minus its minimum does the same (< 1e-4 on values up to ~150, tested).
"""
import numpy as np
import skimage
import torch
import torch.nn.functional as F

from configurations import EXTRACTION

from .preprocessing import SIZE, checked_inputs, resize_image

IMAGE_DIMS = EXTRACTION.view_dims   # caffe.Classifier's image_dims (classify.py's default, 2015)
N_VIEWS = EXTRACTION.n_views
CENTRE = 4                       # the centre crop's index among the ten
NAMES = ("top-left", "top-right", "bottom-left", "bottom-right", "centre")
VIEW_NAMES = NAMES + tuple(f"{name} mirrored" for name in NAMES)
DESCRIPTION = (f"oversample: caffe.Classifier's {N_VIEWS} views of each frame (resized to "
               f"{'x'.join(map(str, IMAGE_DIMS))}; {'x'.join(map(str, SIZE))} crops at the 4 "
               "corners and the centre, then the same 5 mirrored)")


def crop_boxes(image_dims=IMAGE_DIMS, crop_dims=SIZE):
    """caffe.io.oversample's five boxes, (5, 4) int: (top, left, bottom, right) each, in its
    order (top-left, top-right, bottom-left, bottom-right, centre)."""
    (H, W), (h, w) = image_dims, crop_dims
    corners = [(i, j, i + h, j + w) for i in (0, H - h) for j in (0, W - w)]
    centre = (np.array([H, W, H, W]) / 2.0 + np.array([-h, -w, h, w]) / 2.0).astype(int)
    return np.array(corners + [tuple(centre)], dtype=int)


def oversample(images, crop_dims=SIZE):
    """caffe.io.oversample: images (N, H, W, K) -> crops (N, V=10, h, w, K), float32. Crop v < 5
    is box v of ``crop_boxes``, crop v >= 5 crop v - 5 mirrored left-right; ``crops.reshape(10 N,
    h, w, K)`` is caffe.io.oversample's output, bit for bit."""
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"images must be (N, H, W, K), got shape {images.shape}")
    boxes = crop_boxes(images.shape[1:3], crop_dims)
    if (boxes < 0).any():
        raise ValueError(f"crops of {tuple(crop_dims)} do not fit in images of {images.shape[1:3]}")
    crops = np.stack([images[:, t:b, l:r] for t, l, b, r in boxes], axis=1)   # (N, 5, h, w, K)
    return np.concatenate([crops, crops[:, :, :, ::-1]], axis=1).astype(np.float32)


def views(frames, anti_aliasing=False, mean=None, resize="skimage"):
    """uint8 RGB frames (T, H, W, 3) -> float32 (V=10, T, 3, 227, 227): each frame's ten views
    (order ``VIEW_NAMES``), BGR, x 255, mean-subtracted, as caffe.Classifier fed them to the net.
    mean and resize: as ``preprocessing.preprocess`` (a "pixel" mean is subtracted from every
    crop, as caffe.io.Transformer subtracts a (3, 227, 227) mean)."""
    frames, mean = checked_inputs(frames, mean, resize, anti_aliasing)
    if resize == "torch":
        crops = oversample(_resize_torch(frames))                          # (T, V, h, w, 3) x 255
    else:
        resized = np.stack([resize_image(skimage.img_as_float(f).astype(np.float32), IMAGE_DIMS,
                                         anti_aliasing) for f in frames])  # (T, 256, 256, 3)
        crops = oversample(resized) * np.float32(255.0)                    # (T, V, h, w, 3) x 255
    chw = crops.transpose(1, 0, 4, 2, 3)[:, :, ::-1]                       # (V, T, 3, h, w) BGR
    return (chw - mean).astype(np.float32)                 # as caffe.io: float32 - float64


def _resize_torch(frames):
    """Frames (T, H, W, 3) uint8 -> (T, 256, 256, 3) float64 pixel values, as skimage resizes
    them (the module's docstring: zero padding on the frame minus its minimum)."""
    x = torch.from_numpy(frames).permute(0, 3, 1, 2).to(torch.float64)      # (T, 3, H, W)
    low = x.amin(dim=(1, 2, 3), keepdim=True)                               # (T, 1, 1, 1)
    H, W = IMAGE_DIMS
    rows = (torch.arange(H, dtype=torch.float64) + 0.5) / H * 2 - 1         # half-pixel centres
    cols = (torch.arange(W, dtype=torch.float64) + 0.5) / W * 2 - 1
    grid = torch.stack(torch.meshgrid(cols, rows, indexing="xy"), dim=-1)  # (H, W, 2): (x, y)
    grid = grid.expand(len(frames), H, W, 2)
    out = F.grid_sample(x - low, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return (out + low).permute(0, 2, 3, 1).numpy()                          # (T, 256, 256, 3)
