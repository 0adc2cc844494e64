"""Hardening, third round, extraction side (issue 30): every per-video failure is a recorded
skip, in every stream and view, and every listed entry that is not a readable video file is one
too, never the end of the whole extraction.

Each case is a real file made here, run through the command line in-process
(``python -m caffe_extract extract`` by its ``main``), with the outcomes of
tests/test_bad_inputs.py: *skip* (left out, its reason in ``failed_reason``) or *ok* (its codes
in the store). The other videos' codes are those of the same set without the damaged clips,
and a rerun of the same command finishes (it keeps the store).
"""
import os
import shutil
import socket
import subprocess
import sys

import numpy as np
import pytest

from caffe_extract.__main__ import main as extract_main
from caffe_extract.store import read_store
from caffe_extract.synthetic import CLASSES, ffmpeg_exe, make_dataset, render_frames, write_video


def ffmpeg(*args):
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-y", "-loglevel", "error", *args], check=True)


def joined(path, first, second, tmp):
    """Two clips joined without re-encoding (``-c copy``): the frame size changes where the
    second starts, as in a video cut from two sources."""
    a, b, listing = tmp / "a.avi", tmp / "b.avi", tmp / "list.txt"
    write_video(a, first)
    write_video(b, second)
    listing.write_text(f"file '{a}'\nfile '{b}'\n")
    ffmpeg("-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy", str(path))


def lavfi(path, size, pix_fmt):
    """A 2.4 s test pattern of ``size`` in ``pix_fmt``, lossless (FFV1) under .avi."""
    ffmpeg("-f", "lavfi", "-i", f"testsrc=size={size}:rate=25:duration=2.4", "-pix_fmt", pix_fmt,
           "-c:v", "ffv1", str(path))


def run(root, out, *extra):
    """``extract`` over ``root``'s set into ``out`` (random weights, the port, no workers)."""
    return extract_main(["extract", "--videos", str(root / "videos"), "--splits",
                         str(root / "splits"), "--out-dir", str(out), "--random-weights", "0",
                         "--backend", "torch", "--workers", "0", "--no-progress", *extra])


def outcomes(store):
    """{video: reason} of the skipped and {video: row} of the kept videos of a store."""
    return (dict(zip(store["failed_video"], store["failed_reason"])),
            {v: row for row, v in enumerate(store["video"])})


# ------------------------------------------------------------ damaged clips, every stream/view

BIG = render_frames(60, seed=9)                       # 320 x 240
SMALL = render_frames(60, seed=9, height=120, width=160)

DAMAGED = {   # listed video -> (what it is, outcome per mode: rgb, flow, oversample; reason)
    "RollLeft/v_RollLeft_g01_c01.avi": (
        "the frame size changes after the last sampled frame (frame 46 of 60)",
        ("ok", "skip", "ok"), "the frame size changes within the video (320x240 at frame 0, "
                              "160x120 at frame 46)"),
    "RollLeft/v_RollLeft_g02_c01.avi": (
        "the frame size changes between sampled frames (frame 7)",
        ("skip", "skip", "skip"), "the frame size changes within the video"),
    "RollRight/v_RollRight_g01_c01.avi": ("one frame", ("ok", "ok", "ok"), ""),
    "RollRight/v_RollRight_g02_c01.avi": ("frames of 2 x 2 pixels", ("ok", "ok", "ok"), ""),
    "RollLeft/v_RollLeft_g03_c01.avi": ("greyscale frames (FFV1, gray)", ("ok", "ok", "ok"), ""),
    "RollRight/v_RollRight_g03_c01.avi": ("odd frame size, 321 x 241, 4:4:4 (FFV1)",
                                          ("ok", "ok", "ok"), ""),
}
MODES = {"rgb": [], "flow": ["--stream", "flow"], "oversample": ["--views", "oversample"]}
STORES = {"rgb": "all_splits_fc7.h5", "flow": "all_splits_fc7_flow.h5",
          "oversample": "all_splits_fc7_oversample.h5"}


@pytest.fixture(scope="module")
def damaged_set(tmp_path_factory, random_caffemodel):
    """A 2-class, 5-group set (10 videos, 6 damaged) whose listed videos are the damaged clips, and the
    same set undamaged (``clean``)."""
    root = tmp_path_factory.mktemp("damaged")
    make_dataset(root, n_groups=5, classes=CLASSES[:2], seed=5)
    clean = tmp_path_factory.mktemp("clean")
    shutil.copytree(root, clean, dirs_exist_ok=True)
    videos, tmp = root / "videos", tmp_path_factory.mktemp("parts")
    p = {name: videos / name for name in DAMAGED}
    joined(p["RollLeft/v_RollLeft_g01_c01.avi"], BIG[:46], SMALL[:14], tmp)
    joined(p["RollLeft/v_RollLeft_g02_c01.avi"], BIG[:7], SMALL[:53], tmp)
    write_video(p["RollRight/v_RollRight_g01_c01.avi"], BIG[:1])
    write_video(p["RollRight/v_RollRight_g02_c01.avi"],
                np.random.default_rng(0).integers(0, 256, (60, 2, 2, 3), dtype=np.uint8))
    lavfi(p["RollLeft/v_RollLeft_g03_c01.avi"], "320x240", "gray")
    lavfi(p["RollRight/v_RollRight_g03_c01.avi"], "321x241", "yuv444p")
    return root, clean


@pytest.mark.parametrize("mode", sorted(MODES))
def test_every_per_video_failure_is_a_recorded_skip(damaged_set, tmp_path, capsys, mode):
    """Fails without the fix: ``--stream flow`` ended in OpenCV's traceback
    (``cv2.error: ... prev0.size() == next0.size()``) on the first clip, and no store."""
    root, clean = damaged_set
    out = tmp_path / "out"
    assert run(root, out, *MODES[mode]) == 0
    store = read_store(out / STORES[mode], views=None)
    failed, kept = outcomes(store)
    column = ("rgb", "flow", "oversample").index(mode)
    for video, (what, outcome, says) in DAMAGED.items():
        if outcome[column] == "skip":
            assert video in failed and video not in kept, what
            assert failed[video].startswith(says) and "\n" not in failed[video], failed[video]
        else:
            assert video in kept and video not in failed, (what, failed.get(video))
            assert np.isfinite(store["features"][kept[video]]).all(), what
    assert len(kept) + len(failed) == 10
    err = capsys.readouterr().err
    assert "Traceback" not in err and f"{len(failed)} video(s) could not be used" in err
    assert run(root, out, *MODES[mode]) == 0                 # a rerun finishes: the store kept
    assert "kept, extracted before" in capsys.readouterr().err
    if mode == "flow":      # the other videos' codes are those of the undamaged set's
        reference = read_store(run_clean(clean, tmp_path, MODES[mode]) / STORES[mode])
        rows = {v: r for r, v in enumerate(reference["video"])}
        others = [v for v in kept if v not in DAMAGED]
        assert others
        for video in others:
            assert np.array_equal(store["features"][kept[video]],
                                  reference["features"][rows[video]]), video


def run_clean(clean, tmp_path, extra):
    out = tmp_path / "clean"
    assert run(clean, out, *extra) == 0
    return out


def test_any_error_of_one_video_is_its_reason(monkeypatch, tmp_path):
    """Whatever a library raises for one video (here a stand-in for OpenCV's ``cv2.error``,
    whose message spans lines and names the file) is that video's reason, on one line and
    without this machine's path; the worker never raises it."""
    from caffe_extract import decoding, flow

    class error(Exception):
        __module__ = "cv2"

    path = tmp_path / "v_X_g01_c01.avi"
    write_video(path, BIG[:12])

    def broken(frames, following):
        raise error(f"OpenCV(5.1.0) {path}: error: (-215:Assertion failed)\n in function 'calc'\n")
    monkeypatch.setattr(flow, "flow_images", broken)
    job = (3, str(path), 10, 2.0, "pyav", "torch", False, "channel", "flow", None)
    index, batch, times, reason, warning = decoding.load_video(job)
    assert (index, batch, times, warning) == (3, None, None, "")
    assert reason == ("cannot use (cv2.error: OpenCV(5.1.0) the file: error: (-215:Assertion "
                      "failed) in function 'calc')")
