"""Synthetic video frames with real image structure: a textured scene and a moving object.

Used where real UCF-101 frames cannot be had (tests, the demo): smooth colour gradients, a
seeded texture, hard edges and a coloured object that moves along a straight path, so that
CaffeNet sees edges, colours and textures, not noise.

    frames = render_frames(n=50, shape="disk", color=(220, 40, 40), start=(0.2, 0.5),
                           velocity=(0.3, 0.0), seed=0)       # uint8 (n, 240, 320, 3) RGB
"""
import os

import numpy as np

HEIGHT, WIDTH, FPS = 240, 320, 25


def background(seed, height=HEIGHT, width=WIDTH, contrast=1.0):
    """A seeded scene: two-colour gradient, a blurred random texture and a few stripes.
    ``contrast`` scales how far the scene's colours stray from mid-grey."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / np.array([height, width])[:, None, None]
    c0 = 125 + contrast * rng.uniform(-95, 95, 3)
    c1 = 125 + contrast * rng.uniform(-95, 95, 3)
    t = (x * np.cos(rng.uniform(0, np.pi)) + y * np.sin(rng.uniform(0, np.pi)))[..., None]
    scene = c0 * (1 - t) + c1 * t
    texture = rng.normal(0, 1, (height // 8 + 1, width // 8 + 1))
    texture = np.kron(texture, np.ones((8, 8)))[:height, :width]            # blocky
    kernel = np.ones(5) / 5                                                  # then smoothed
    texture = np.apply_along_axis(np.convolve, 1, texture, kernel, "same")
    texture = np.apply_along_axis(np.convolve, 0, texture, kernel, "same")
    scene += contrast * 25 * texture[..., None]
    for _ in range(3):                                                       # stripes
        row = rng.integers(0, height - 6)
        scene[row:row + rng.integers(2, 6)] = 125 + contrast * rng.uniform(-125, 125, 3)
    return scene


def render_frames(n, shape="disk", color=(220, 40, 40), start=(0.2, 0.5), velocity=(0.3, 0.0),
                  radius=0.12, seed=0, fps=FPS, height=HEIGHT, width=WIDTH, contrast=1.0):
    """n frames (uint8 (n, H, W, 3) RGB) of an object moving over a seeded background. start,
    velocity: position (x, y) as fractions of the width/height, and its change per second.
    shape: "disk" or "square"; radius as a fraction of the height."""
    scene = background(seed, height, width, contrast)
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


def ffmpeg_exe():
    """The ffmpeg binary shipped by imageio-ffmpeg (a PyPI package: no system ffmpeg needed)."""
    import imageio_ffmpeg
    return imageio_ffmpeg.get_ffmpeg_exe()


def write_video(path, frames, fps=FPS, quality=4):
    """Encode uint8 RGB frames (n, H, W, 3) as an XviD AVI, as UCF-101's videos are."""
    import subprocess
    n, height, width, _ = frames.shape
    command = [ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
               "-s", f"{width}x{height}", "-r", str(fps), "-i", "-",
               "-c:v", "libxvid", "-q:v", str(quality), "-pix_fmt", "yuv420p", "-an", str(path)]
    result = subprocess.run(command, input=np.ascontiguousarray(frames).tobytes(),
                            capture_output=True)
    if result.returncode != 0:
        raise RuntimeError(f"ffmpeg could not write {path}: {result.stderr.decode()[-500:]}")


# ------------------------------------------------------------------ a synthetic UCF-101

#: (class, shape, RGB colour, motion). Two pairs differ only in the direction of motion: a
#: model that averages the frames sees the same positions in both and cannot tell them apart.
CLASSES = (
    ("RollLeft", "disk", (220, 40, 40), "left"),
    ("RollRight", "disk", (220, 40, 40), "right"),
    ("PushLeft", "square", (40, 200, 70), "left"),
    ("PushRight", "square", (40, 200, 70), "right"),
    ("BlueDiskStill", "disk", (40, 80, 230), "still"),
    ("OrangeBoxStill", "square", (240, 150, 30), "still"),
    ("PurpleDiagonal", "disk", (160, 60, 200), "diagonal"),
    ("CyanBoxDiagonal", "square", (40, 210, 210), "diagonal"),
)
RADIUS, CONTRAST = 0.25, 0.35  # the actor is large and the scenes are calm, as in many UCF clips


def test_groups(split, n_groups):
    """The groups split K (1, 2, 3) holds out for testing: as UCF-101 (groups 1-7, 8-14, 15-21
    of 25), in blocks of min(7, n_groups // 3) groups for smaller sets."""
    size = max(1, min(7, n_groups // 3))
    return range((split - 1) * size + 1, split * size + 1)


def clip_frames(motion, shape, color, rng, seed, duration):
    """Frames of one clip: the object travels a random segment in ``duration`` seconds."""
    n = max(1, int(round(duration * FPS)))
    centre = rng.uniform(0.45, 0.55, 2)
    half = rng.uniform(0.25, 0.32)            # it crosses most of the frame in 2 s
    direction = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1),
                 "still": (0, 0), "diagonal": (1, 1)}[motion]
    d = np.array(direction, dtype=float) / max(1.0, np.hypot(*direction))
    start = centre - d * half
    # the segment is covered between the first and the last sampled time (0 and 1.8 s), so
    # the sampled positions of "left" and "right" are the same set, in reverse order
    velocity = 2 * half * d / 1.8
    return render_frames(n, shape, color, tuple(start), tuple(velocity), radius=RADIUS, seed=seed,
                         contrast=CONTRAST)


def make_dataset(root, n_groups=25, clips_per_group=1, classes=CLASSES, short_every=8, seed=0,
                 progress=False):
    """Write a small data set in UCF-101's layout under ``root``:

        root/videos/<Class>/v_<Class>_gXX_cYY.avi    XviD AVI, 320x240, 25 fps
        root/splits/classInd.txt, trainlist0K.txt, testlist0K.txt, K = 1, 2, 3
                                                     (CRLF, 1-based labels)

    Split K tests on the groups ``test_groups(K, n_groups)`` and trains on the others. Every
    ``short_every``-th clip lasts 1.1-1.9 s (shorter than the sampler's 2 s); the others 2.4 s.
    A group shares its scene within a class, as UCF-101's do. Returns the clip paths written.
    """
    from tqdm import tqdm
    rng = np.random.default_rng(seed)
    videos, splits = os.path.join(root, "videos"), os.path.join(root, "splits")
    os.makedirs(splits, exist_ok=True)
    jobs = [(c, g, k) for c in range(len(classes)) for g in range(1, n_groups + 1)
            for k in range(1, clips_per_group + 1)]
    written = []
    for number, (c, group, clip) in enumerate(tqdm(jobs, desc="videos", disable=not progress)):
        name, shape, color, motion = classes[c]
        duration = rng.uniform(1.1, 1.9) if number % short_every == short_every - 1 else 2.4
        frames = clip_frames(motion, shape, color, rng, seed * 100003 + group * 1000 + c, duration)
        path = f"{name}/v_{name}_g{group:02d}_c{clip:02d}.avi"
        os.makedirs(os.path.join(videos, name), exist_ok=True)
        write_video(os.path.join(videos, path), frames)
        written.append((path, c, group))
    with open(os.path.join(splits, "classInd.txt"), "w", newline="") as f:
        f.writelines(f"{i + 1} {cls[0]}\r\n" for i, cls in enumerate(classes))
    for kind in ("train", "test"):   # the test lists last: testlist03.txt marks a complete set
        for split in (1, 2, 3):
            held = test_groups(split, n_groups)
            with open(os.path.join(splits, f"{kind}list0{split}.txt"), "w", newline="") as f:
                f.writelines(f"{p} {c + 1}\r\n" if kind == "train" else f"{p}\r\n"
                             for p, c, g in written if (g in held) == (kind == "test"))
    return [p for p, _, _ in written]


def main(argv=None):
    from common import cli, commands
    parser = commands.parser(
        "python -m caffe_extract.synthetic",
        "Write a small synthetic data set in UCF-101's layout (see make_dataset).")
    parser.add_argument("--root", required=True, type=cli.writable_dir, help="where to write videos/ and splits/")
    parser.add_argument("--groups", type=cli.integer(3, 99), default=25, help="groups per class (%(default)s)")
    parser.add_argument("--clips", type=cli.integer(1, 99), default=2, help="clips per group (%(default)s)")
    parser.add_argument("--classes", type=cli.integer(1, len(CLASSES)), default=len(CLASSES),
                        help="use the first N classes (the first 4 are the two temporal pairs)")
    parser.add_argument("--seed", type=cli.seed, default=0)
    args = parser.parse_args(argv)
    return commands.guarded(lambda: write(args), (OSError, ValueError))


def write(args):
    """The data set of ``main``'s ``args``, unless a complete one is in ``args.root``."""
    done = os.path.join(args.root, "splits", "testlist03.txt")
    if os.path.exists(done):   # written last: the set is complete
        print(f"{args.root}: already there")
        return 0
    paths = make_dataset(args.root, args.groups, args.clips, CLASSES[:args.classes], seed=args.seed,
                         progress=True)
    print(f"{args.root}: {len(paths)} videos of {args.classes} classes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
