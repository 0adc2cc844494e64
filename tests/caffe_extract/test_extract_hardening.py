"""Hardening, third round, extraction side (issue 30): every per-video failure is a recorded
skip, in every stream and view, and every listed entry that is not a readable video file is one
too, never the end of the whole extraction.

Each case is a real file made here, run through the command line in-process
(``python -m caffe_extract extract`` by its ``main``), with the outcomes of
tests/caffe_extract/test_bad_inputs_extract.py: *skip* (left out, its reason in ``failed_reason``) or *ok* (its codes
in the store). The other videos' codes are those of the same set without the damaged clips,
and a rerun of the same command finishes (it keeps the store).
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from caffe_extract.__main__ import main as extract_main
from caffe_extract.extraction import ExtractSettings
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
    job = (3, str(path), ExtractSettings("videos", "splits", "out.h5", "weights", stream="flow"))
    index, batch, times, reason, warning = decoding.load_video(job)
    assert (index, batch, times, warning) == (3, None, None, "")
    assert reason == ("cannot use (cv2.error: OpenCV(5.1.0) the file: error: (-215:Assertion "
                      "failed) in function 'calc')")


# ------------------------------------- listed entries that are not readable files, and links

AS_ROOT = "running as root: every file is readable, so a permission error cannot be made"

ENTRIES = {   # listed video -> (what is there, outcome, what the record says)
    "RollLeft/v_RollLeft_g01_c01.avi": ("a symbolic link whose target is gone", "skip",
                                        "missing: a symbolic link whose target does not exist"),
    "RollLeft/v_RollLeft_g02_c01.avi": ("a symbolic link to itself", "skip", "unreadable (ELOOP"),
    "RollLeft/v_RollLeft_g03_c01.avi": ("a socket", "skip", "not a regular file: a socket"),
    "RollLeft/v_RollLeft_g04_c01.avi": ("a folder", "skip", "missing"),
    "RollRight/v_RollRight_g01_c01.avi": ("a symbolic link to a video elsewhere", "ok", ""),
    # and every video of RollRight/: its class folder is a symbolic link to a folder elsewhere
}


@pytest.fixture
def linked_set(tmp_path, random_caffemodel):
    """A 2-class, 4-group set (8 videos) with the entries of ``ENTRIES``; RollRight/ is a
    symbolic link to the class folder elsewhere. Returns (root, the untouched set)."""
    make_dataset(tmp_path / "set", n_groups=4, classes=CLASSES[:2], seed=3)
    shutil.copytree(tmp_path / "set", tmp_path / "original")
    root, elsewhere = tmp_path / "set", tmp_path / "elsewhere"
    videos = root / "videos"
    shutil.move(videos / "RollRight", elsewhere / "RollRight")
    (videos / "RollRight").symlink_to(elsewhere / "RollRight", target_is_directory=True)
    video = {name: videos / name for name in ENTRIES}
    for path in video.values():
        path.unlink()
    video["RollLeft/v_RollLeft_g01_c01.avi"].symlink_to(elsewhere / "gone.avi")
    video["RollLeft/v_RollLeft_g02_c01.avi"].symlink_to(video["RollLeft/v_RollLeft_g02_c01.avi"])
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(video["RollLeft/v_RollLeft_g03_c01.avi"]))
    video["RollLeft/v_RollLeft_g04_c01.avi"].mkdir()
    (elsewhere / "kept.avi").write_bytes(
        (tmp_path / "original/videos/RollRight/v_RollRight_g01_c01.avi").read_bytes())
    video["RollRight/v_RollRight_g01_c01.avi"].symlink_to(elsewhere / "kept.avi")
    yield root, tmp_path / "original"
    server.close()


def test_unreadable_entries_and_links(linked_set, tmp_path, capsys):
    """Fails without the fix: the digest of the videos' sizes (``manifest_text``) ended the
    whole extraction with ``error: [Errno 2] No such file or directory: '.../gone.avi'`` (the
    broken link; ``[Errno 40] Too many levels of symbolic links`` for the looping one), where
    the second round recorded a skip. Linked videos and a linked class folder give the codes
    of the files they point to."""
    root, original = linked_set
    assert run(root, tmp_path / "out") == 0
    store = read_store(tmp_path / "out/all_splits_fc7.h5")
    failed, kept = outcomes(store)
    for video, (what, outcome, says) in ENTRIES.items():
        if outcome == "skip":
            assert video in failed and failed[video].startswith(says), (what, failed.get(video))
        else:
            assert video in kept, (what, failed.get(video))
    assert len(failed) == 4 and len(kept) == 4
    assert all(v.startswith("RollRight/") for v in kept)          # the linked class folder
    assert run(original, tmp_path / "reference") == 0
    reference = read_store(tmp_path / "reference/all_splits_fc7.h5")
    rows = {v: r for r, v in enumerate(reference["video"])}
    for video, row in kept.items():
        assert np.array_equal(store["features"][row], reference["features"][rows[video]]), video
    err = capsys.readouterr().err
    assert "Traceback" not in err and "4 video(s) could not be used" in err
    assert run(root, tmp_path / "out") == 0                      # a rerun keeps the store
    assert "kept, extracted before" in capsys.readouterr().err
    gone = root / "videos/RollLeft/v_RollLeft_g01_c01.avi"       # the link's target is back:
    os.symlink(original / "videos/RollLeft/v_RollLeft_g01_c01.avi", str(gone) + ".new")
    os.replace(str(gone) + ".new", gone)                         # not the same data any more
    assert run(root, tmp_path / "out") == 0
    assert "kept" not in capsys.readouterr().err
    assert "RollLeft/v_RollLeft_g01_c01.avi" in read_store(tmp_path / "out/all_splits_fc7.h5",
                                                           features=False)["video"]


def test_named_pipe_is_a_skip_not_a_hang(tmp_path, random_caffemodel):
    """A named pipe under a video's name: opening it for reading waits for a writer, so the
    decoder would wait for ever. Run as a user runs it (a subprocess, bounded in time).
    Fails without the fix: the extraction never ends (the subprocess times out)."""
    make_dataset(tmp_path, n_groups=3, classes=CLASSES[:2], seed=2)
    pipe = tmp_path / "videos/RollLeft/v_RollLeft_g02_c01.avi"
    pipe.unlink()
    os.mkfifo(pipe)
    command = [sys.executable, "-m", "caffe_extract", "extract", "--videos",
               str(tmp_path / "videos"), "--splits", str(tmp_path / "splits"), "--out-dir",
               str(tmp_path / "out"), "--random-weights", "0", "--backend", "torch",
               "--workers", "0", "--no-progress"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert done.returncode == 0, done.stderr
    failed, _ = outcomes(read_store(tmp_path / "out/all_splits_fc7.h5", features=False))
    assert failed == {"RollLeft/v_RollLeft_g02_c01.avi": "not a regular file: a named pipe (FIFO)"}


@pytest.mark.skipif(os.geteuid() == 0, reason=AS_ROOT)
def test_unreadable_video_is_a_skip(tmp_path, random_caffemodel):
    make_dataset(tmp_path, n_groups=3, classes=CLASSES[:2], seed=2)
    video = tmp_path / "videos/RollLeft/v_RollLeft_g02_c01.avi"
    video.chmod(0)
    assert run(tmp_path, tmp_path / "out") == 0
    failed, _ = outcomes(read_store(tmp_path / "out/all_splits_fc7.h5", features=False))
    assert list(failed) == ["RollLeft/v_RollLeft_g02_c01.avi"]
    assert "Permission denied" in failed["RollLeft/v_RollLeft_g02_c01.avi"]


def test_entry_size_markers(tmp_path):
    """The digest's part for each kind of entry: a size, -1 (not found), or the words of
    ``entry_problem``; never an error (a file that vanished after it was listed included)."""
    from caffe_extract.extraction import entry_size
    (tmp_path / "v.avi").write_bytes(b"12345")
    (tmp_path / "link.avi").symlink_to(tmp_path / "v.avi")
    (tmp_path / "broken.avi").symlink_to(tmp_path / "nothing")
    (tmp_path / "loop.avi").symlink_to(tmp_path / "loop.avi")
    os.mkfifo(tmp_path / "pipe.avi")
    assert entry_size(str(tmp_path / "v.avi")) == entry_size(str(tmp_path / "link.avi")) == 5
    assert entry_size(None) == -1
    assert entry_size(str(tmp_path / "vanished.avi")) == \
        "missing: the file vanished while the extraction ran"
    assert entry_size(str(tmp_path / "broken.avi")).startswith("missing: a symbolic link")
    assert entry_size(str(tmp_path / "loop.avi")).startswith("unreadable (ELOOP")
    assert entry_size(str(tmp_path / "pipe.avi")) == "not a regular file: a named pipe (FIFO)"


# ------------------------------- the kinds the first two rounds found holding, kept in the corpus

@pytest.fixture(scope="module")
def small_set(tmp_path_factory, random_caffemodel):
    """A 2-class, 4-group set (8 videos) and its store from one uninterrupted run."""
    root = tmp_path_factory.mktemp("small")
    make_dataset(root, n_groups=4, classes=CLASSES[:2], seed=6)
    assert run(root, root / "reference", "--chunk", "2", "--batch-videos", "2") == 0
    return root, root / "reference/all_splits_fc7.h5"


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["Ctrl-C", "SIGTERM"])
def test_interrupted_then_rerun(small_set, tmp_path, signum):
    """Ctrl-C (SIGINT) or SIGTERM once a chunk is saved, then the same command: it resumes and
    writes the uninterrupted run's store, and leaves no .parts folder or lock behind."""
    root, reference = small_set
    out = tmp_path / "out"
    argv = [sys.executable, "-m", "caffe_extract", "extract", "--videos", str(root / "videos"),
            "--splits", str(root / "splits"), "--out-dir", str(out), "--random-weights", "0",
            "--backend", "torch", "--workers", "0", "--no-progress", "--chunk", "2",
            "--batch-videos", "2"]
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    for _ in range(3):      # a run that ended before the signal (a busy machine) is run again
        shutil.rmtree(out, ignore_errors=True)
        started = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE)
        deadline = time.monotonic() + 240
        while not list(out.glob("*.parts/chunk-*.npz")) and time.monotonic() < deadline:
            assert started.poll() is None, started.stderr.read().decode()
            time.sleep(0.1)
        started.send_signal(signum)
        if started.wait(timeout=120) != 0:
            break
    else:
        pytest.fail("three runs exited 0 after the signal: each ended before it (a busy machine?) "
                    "or the signal was ignored")
    assert not (out / "all_splits_fc7.h5").exists()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert sorted(os.listdir(out)) == ["all_splits_fc7.h5"]
    a, b = read_store(out / "all_splits_fc7.h5"), read_store(reference)
    assert list(a["video"]) == list(b["video"]) and np.array_equal(a["features"], b["features"])


def test_a_killed_writes_store_part_is_removed_by_the_next_run(small_set, tmp_path):
    """A kill -9 while the store is written leaves OUT.PID.tmp (the store's size, 2.2 GB on
    UCF-101) beside it: the next run on that output removes it; another store's part stays, and
    so does a shard's (a cluster task may be writing it)."""
    root, reference = small_set
    out = tmp_path / "out"
    out.mkdir()
    for name in ("all_splits_fc7.h5.4242.tmp", "all_splits_pool5.h5.4242.tmp",
                 "all_splits_fc7.h5.shard0of2.4243.tmp"):
        (out / name).write_bytes(b"half a store")
    assert run(root, out, "--chunk", "2", "--batch-videos", "2") == 0
    assert sorted(os.listdir(out)) == ["all_splits_fc7.h5", "all_splits_fc7.h5.shard0of2.4243.tmp",
                                       "all_splits_pool5.h5.4242.tmp"]


def test_h264_29_97_fps_and_unicode_paths(tmp_path, random_caffemodel):
    """A real H.264 clip under an .avi name (an MP4 file), a clip at 29.97 fps (30000/1001:
    moviepy's frame rule int(fps t + 1e-5)), in a video folder and an output folder whose names
    are not ASCII: every video kept, the 29.97 fps clip's frame times from that rule."""
    from caffe_extract.frames import frame_index
    root = tmp_path / "vidéos ünï 動画"
    make_dataset(root, n_groups=3, classes=CLASSES[:2], seed=7)
    h264 = root / "videos/RollLeft/v_RollLeft_g01_c01.avi"
    ntsc = root / "videos/RollLeft/v_RollLeft_g02_c01.avi"
    raw = tmp_path / "raw.avi"
    write_video(raw, BIG)
    ffmpeg("-i", str(raw), "-c:v", "libx264", "-pix_fmt", "yuv420p", "-f", "mp4", str(h264))
    ffmpeg("-i", str(raw), "-vf", "fps=30000/1001", "-r", "30000/1001", "-c:v", "libxvid",
           "-q:v", "4", str(ntsc))
    out = tmp_path / "sortie é 出力"
    assert run(root, out) == 0
    store = read_store(out / "all_splits_fc7.h5")
    failed, kept = outcomes(store)
    assert failed == {} and len(kept) == 6
    fps = 30000 / 1001
    expected = [frame_index(i * 0.2, fps) / fps for i in range(10)]
    np.testing.assert_allclose(store["frame_times"][kept["RollLeft/v_RollLeft_g02_c01.avi"]],
                               expected, rtol=0, atol=1e-6)
    assert np.isfinite(store["features"]).all()


def dies_on_three(job):
    """A decoding job whose process dies on job 3, as a decoder crashing on one file would."""
    if job == 3:
        os._exit(1)
    return job * 10


def dies_on_three_with_big_results(job):
    """``dies_on_three``, each result 800 kB: more than a pipe holds, as a video's frames are
    where /dev/shm has no room for the handoff's slots."""
    return np.full(200_000, dies_on_three(job), np.float32)


def test_a_decoder_crash_with_big_results_is_one_videos_skip_too():
    """The pool stops the other decoding process when one dies. Had that one unwound (as a
    worker of ``run_all`` does), it would take its next video and block for ever sending its
    frames to a pool that no longer reads them: decoding processes die on it, as before."""
    from caffe_extract.decoding import ordered_imap
    for _ in range(3):                                       # (a race: it hung 1 run in 3)
        results = list(ordered_imap(dies_on_three_with_big_results, range(8), workers=2,
                                    prefetch=4, on_crash=lambda job: None))
        assert [r if r is None else r[0] for r in results] == [0, 10, 20, None, 40, 50, 60, 70]


def test_a_decoder_crash_is_one_videos_skip():
    """A worker that dies on one video broke the whole pool: ``BrokenProcessPool`` ended the
    extraction, and a rerun died on the same video. Now that job alone is retried, and its
    ``on_crash`` result (``decoding.crashed``: a skip with its reason) takes its place; the
    jobs in flight with it are run again. Fails without the fix: BrokenProcessPool."""
    from caffe_extract.decoding import crashed, ordered_imap
    results = list(ordered_imap(dies_on_three, range(8), workers=2, prefetch=4,
                                on_crash=lambda job: ("crashed", job)))
    assert results == [0, 10, 20, ("crashed", 3), 40, 50, 60, 70]
    from concurrent.futures.process import BrokenProcessPool
    with pytest.raises(BrokenProcessPool):                   # without on_crash: as before
        list(ordered_imap(dies_on_three, range(8), workers=2, prefetch=4))
    index, batch, times, reason, warning = crashed((3, "a.avi"))
    assert (index, batch, times) == (3, None, None) and reason.startswith("the decoding process died")
