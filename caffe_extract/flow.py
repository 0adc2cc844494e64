"""Optical flow images for a motion stream: the paper's Future Work, extraction side
(docs/data.md, "The motion stream", gives the recipe's sources and why).

    images = flow_images(frames, following)      # uint8 (T, H, W, 3): x, y, magnitude

One field per sampled frame, to the video's next frame (``frames.read_pairs``), so a video's
T = 10 fields align with its 10 RGB codes; zero where there is no next frame:

    flow_t = Farneback(grey(frame at t), grey(the video's next frame after it))   t = 1..T

Each field becomes one 3-channel image, computed in float64, rounding half to even:

    channel 0 = clip(round(128 + 16 * u), 0, 255)            u: horizontal flow
    channel 1 = clip(round(128 + 16 * v), 0, 255)            v: vertical flow
    channel 2 = clip(round(16 * sqrt(u^2 + v^2)), 0, 255)    magnitude

For the same bits on every CPU, OpenCV runs one thread, and the environment pins its SIMD and
IPP kernels before ``cv2`` is imported (``OPENCV_CPU_DISABLE``, ``OPENCV_IPP``).
"""
import functools

import numpy as np

from configurations import EXTRACTION

#: cv2.calcOpticalFlowFarneback's parameters: OpenCV's dense optical flow example
FARNEBACK = dict(EXTRACTION.farneback)
#: the rendering: 128 + 16 * flow, 16 * magnitude
OFFSET, SCALE = EXTRACTION.flow_offset, EXTRACTION.flow_scale

#: what the store records of the flow (its attribute ``flow``)
RECIPE = ("Farneback optical flow (OpenCV cv2.calcOpticalFlowFarneback, "
          f"{', '.join(f'{k} {v}' for k, v in FARNEBACK.items())}) between each "
          "sampled frame and the video's next frame, on greyscale (COLOR_RGB2GRAY); zero flow "
          f"where there is no next frame; rendered as uint8 RGB: round({OFFSET:g} + {SCALE:g} u), "
          f"round({OFFSET:g} + {SCALE:g} v), round({SCALE:g} |(u, v)|), clipped to 0..255; then the "
          "RGB frames' preprocessing and network")


@functools.lru_cache(maxsize=None)
def _cv2():
    """OpenCV, on one thread (the extraction runs one single-threaded process per core)."""
    import cv2
    cv2.setNumThreads(1)
    return cv2


def opencv_version():
    return _cv2().__version__


def flow_field(frame, following):
    """Farneback flow from ``frame`` to ``following`` (uint8 (H, W, 3) RGB each): float32
    (H, W, 2), (u, v) in pixels per frame; zeros when ``following`` is None."""
    frame = np.asarray(frame)
    if following is None:
        return np.zeros(frame.shape[:2] + (2,), np.float32)
    cv2 = _cv2()
    prev = cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY)
    nxt = cv2.cvtColor(np.ascontiguousarray(following), cv2.COLOR_RGB2GRAY)
    return cv2.calcOpticalFlowFarneback(prev, nxt, None, **FARNEBACK)


def render(flow):
    """float (H, W, 2) flow -> uint8 (H, W, 3): 128 + 16 u, 128 + 16 v, 16 |(u, v)|, rounded
    and clipped to 0..255."""
    u, v = (np.asarray(flow, np.float64)[..., k] for k in (0, 1))
    image = np.stack([OFFSET + SCALE * u, OFFSET + SCALE * v, SCALE * np.sqrt(u * u + v * v)], -1)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def flow_images(frames, following):
    """The motion stream's input. frames: uint8 (T, H, W, 3) RGB, the sampled frames;
    following: T frames, the video's next frame after each (uint8 (H, W, 3)) or None where
    there is none. Returns uint8 (T, H, W, 3), one rendered flow field per sampled frame."""
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be uint8 (T, H, W, 3) RGB, got {frames.dtype} "
                         f"{frames.shape}")
    if len(following) != len(frames):
        raise ValueError(f"{len(frames)} frames but {len(following)} following frames")
    return np.stack([render(flow_field(f, g)) for f, g in zip(frames, following)])
