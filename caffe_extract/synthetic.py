"""Synthetic video frames with real image structure: a textured scene and a moving object.

Used where real UCF-101 frames cannot be had (tests, the demo): smooth colour gradients, a
seeded texture, hard edges and a coloured object that moves along a straight path, so that
CaffeNet sees edges, colours and textures, not noise.

    frames = render_frames(n=50, shape="disk", color=(220, 40, 40), start=(0.2, 0.5),
                           velocity=(0.3, 0.0), seed=0)       # uint8 (n, 240, 320, 3) RGB
"""
import numpy as np

HEIGHT, WIDTH, FPS = 240, 320, 25


def background(seed, height=HEIGHT, width=WIDTH):
    """A seeded scene: two-colour gradient, a blurred random texture and a few stripes."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / np.array([height, width])[:, None, None]
    c0, c1 = rng.uniform(30, 220, 3), rng.uniform(30, 220, 3)
    t = (x * np.cos(rng.uniform(0, np.pi)) + y * np.sin(rng.uniform(0, np.pi)))[..., None]
    scene = c0 * (1 - t) + c1 * t
    texture = rng.normal(0, 1, (height // 8 + 1, width // 8 + 1))
    texture = np.kron(texture, np.ones((8, 8)))[:height, :width]            # blocky
    kernel = np.ones(5) / 5                                                  # then smoothed
    texture = np.apply_along_axis(np.convolve, 1, texture, kernel, "same")
    texture = np.apply_along_axis(np.convolve, 0, texture, kernel, "same")
    scene += 25 * texture[..., None]
    for _ in range(3):                                                       # stripes
        row = rng.integers(0, height - 6)
        scene[row:row + rng.integers(2, 6)] = rng.uniform(0, 255, 3)
    return scene


def render_frames(n, shape="disk", color=(220, 40, 40), start=(0.2, 0.5), velocity=(0.3, 0.0),
                  radius=0.12, seed=0, fps=FPS, height=HEIGHT, width=WIDTH):
    """n frames (uint8 (n, H, W, 3) RGB) of an object moving over a seeded background.

    start, velocity: position (x, y) as fractions of the width/height, and its change per
    second. shape: "disk" or "square"; radius as a fraction of the height.
    """
    scene = background(seed, height, width)
    yy, xx = np.mgrid[0:height, 0:width]
    r = radius * height
    frames = np.empty((n, height, width, 3), dtype=np.uint8)
    for i in range(n):
        cx = (start[0] + velocity[0] * i / fps) * width
        cy = (start[1] + velocity[1] * i / fps) * height
        if shape == "disk":
            inside = (xx - cx) ** 2 + (yy - cy) ** 2 <= r ** 2
        elif shape == "square":
            inside = (np.abs(xx - cx) <= r) & (np.abs(yy - cy) <= r)
        else:
            raise ValueError(f"unknown shape {shape!r}: 'disk' or 'square'")
        frame = scene.copy()
        frame[inside] = color
        frames[i] = np.clip(frame, 0, 255).astype(np.uint8)
    return frames
