"""10 frames evenly over the first 2 seconds of a video (the paper's sampler; docs/data.md,
"Frames").

    frames = read_frames("v_ApplyEyeMakeup_g08_c01.avi")      # uint8 (10, 240, 320, 3) RGB

Decoders: "moviepy" (the reference: an ffmpeg subprocess per clip) and "pyav" (in-process,
about 5x faster, the same frames). A damaged file's missing frames repeat its last decoded one,
as moviepy's reader does; with PyAV ``Clip.warning`` says so.
"""
from typing import NamedTuple

import numpy as np

from configurations import EXTRACTION

N_FRAMES, SPAN = EXTRACTION.n_frames, EXTRACTION.span


class VideoReadError(RuntimeError):
    """A video that cannot be decoded, or that has no frame."""


class Clip(NamedTuple):
    """The sampled frames of one video."""

    frames: np.ndarray     # uint8 (n, H, W, 3) RGB
    times: np.ndarray      # (n,) seconds of the frames actually used
    warning: str = ""      # non-empty when the file is damaged (fewer frames than declared)


def sample_times(duration, n=N_FRAMES, span=SPAN, fps=25.0):
    """The n sampling times in seconds: t_i = i * span / n, clamped to the clip's last frame,
    shown at duration - 1/fps (duration: the clip's length in seconds; fps: its frame rate)."""
    last = max(0.0, duration - 1.0 / fps)
    return np.array([min(i * span / n, last) for i in range(n)])


def frame_index(t, fps):
    """The frame shown at time t (moviepy's rule)."""
    return int(fps * t + 1e-5)


def read_clip(path, n=N_FRAMES, span=SPAN, decoder="pyav"):
    """The ``Clip`` (frames uint8 (n, H, W, 3) RGB, times (n,) seconds used, warning)."""
    return _reader(decoder)(str(path), n, span)[0]


def read_frames(path, n=N_FRAMES, span=SPAN, decoder="pyav"):
    """n frames evenly over the first ``span`` seconds: uint8 (n, H, W, 3) RGB."""
    return read_clip(path, n, span, decoder).frames


def read_pairs(path, n=N_FRAMES, span=SPAN, decoder="pyav"):
    """(clip, following): ``read_clip``'s ``Clip`` and, for each of its n frames, the video's
    frame after it (uint8 (H, W, 3) RGB), or None where there is none (the last frame)."""
    return _reader(decoder)(str(path), n, span, pairs=True)


def _reader(decoder):
    if decoder not in ("pyav", "moviepy"):
        raise ValueError(f"unknown decoder {decoder!r}: 'pyav' or 'moviepy'")
    return _read_pyav if decoder == "pyav" else _read_moviepy


def _read_pyav(path, n, span, pairs=False):
    """(Clip, following): following as ``read_pairs`` with ``pairs``, else None."""
    import av
    try:
        with av.open(path) as container:
            if not container.streams.video:
                raise VideoReadError(f"{path}: no video stream (audio only?)")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            fps = float(stream.average_rate or stream.guessed_rate)
            declared = int(stream.frames or 0)                   # the container's frame count
            wanted = [frame_index(i * span / n, fps) for i in range(n)]
            needed = set(wanted) | ({i + 1 for i in wanted} if pairs else set())
            rgb, count, last = {}, 0, None      # convert only the frames we keep
            for frame in container.decode(stream):
                if count in needed:
                    rgb[count] = frame.to_ndarray(format="rgb24")
                last, count = frame, count + 1
                if count > max(needed):
                    break
            if count == 0:
                raise VideoReadError(f"{path}: no video frame")
            indices = [min(i, count - 1) for i in wanted]       # clamp to the last frame
            if count - 1 not in rgb and count - 1 in indices:
                rgb[count - 1] = last.to_ndarray(format="rgb24")
    except (av.error.FFmpegError, IndexError, ValueError, ZeroDivisionError, TypeError) as error:
        raise VideoReadError(f"{path}: cannot decode ({type(error).__name__}: {error})") from None
    check_sizes(path, {i: rgb[i] for i in set(indices) | ({i + 1 for i in indices if i + 1 < count}
                                                        if pairs else set())})
    warning = ""
    if count <= max(needed) and declared > count:   # a needed frame is missing, yet declared
        warning = (f"damaged: the container declares {declared} frames but only {count} "
                   f"decoded; frames after {(count - 1) / fps:.2f} s repeat the last decoded one")
    clip = Clip(np.stack([rgb[i] for i in indices]), np.array(indices) / fps, warning)
    return clip, ([rgb[i + 1] if i + 1 < count else None for i in indices] if pairs else None)


def check_sizes(path, frames):
    """A ``VideoReadError`` when the frames used ({frame number: uint8 (H, W, 3)}) differ in
    size: a clip whose frame size changes midway (two clips joined), which neither a batch of
    frames nor an optical flow between two frames can take."""
    first = {}
    for number in sorted(frames):
        first.setdefault(frames[number].shape[:2], number)
    if len(first) > 1:
        (a, i), (b, j) = list(first.items())[:2]
        raise VideoReadError(f"{path}: the frame size changes within the video ({a[1]}x{a[0]} "
                             f"at frame {i}, {b[1]}x{b[0]} at frame {j})")


def video_file_clip():
    """moviepy's ``VideoFileClip`` class, from moviepy 2.x or 1.x."""
    try:
        from moviepy import VideoFileClip          # moviepy 2.x
    except ImportError:                            # moviepy 1.x
        from moviepy.editor import VideoFileClip
    return VideoFileClip


def _read_moviepy(path, n, span, pairs=False):
    try:
        clip = video_file_clip()(path, audio=False)
    except (OSError, KeyError, IndexError, ValueError) as error:
        raise VideoReadError(f"{path}: cannot decode ({type(error).__name__}: {error})") from None
    try:
        n_frames = int(round(clip.duration * clip.fps))
        if n_frames < 1:
            raise VideoReadError(f"{path}: no video frame")
        times = sample_times(n_frames / clip.fps, n, span, clip.fps)
        indices = [frame_index(t, clip.fps) for t in times]
        frames = np.stack([clip.get_frame(i / clip.fps) for i in indices]).astype(np.uint8)
        following = [clip.get_frame((i + 1) / clip.fps).astype(np.uint8) if i + 1 < n_frames
                     else None for i in indices] if pairs else None
        return Clip(frames, np.array(indices) / clip.fps), following
    except (OSError, IOError) as error:
        raise VideoReadError(f"{path}: cannot decode ({error})") from None
    finally:
        clip.close()
