"""The motion stream, extraction side: Farneback flow between each sampled frame and the next,
its rendering as a CaffeNet input, and its store beside the RGB one (``--stream flow``)."""
import hashlib
import os

import numpy as np
import pytest

from caffe_extract import chunks
from caffe_extract.__main__ import main
from caffe_extract.flow import flow_field, flow_images, render
from caffe_extract.frames import read_clip, read_pairs
from caffe_extract.pipeline import ExtractSettings, Extraction, extract
from caffe_extract.store import StoreError, check_stream, read_store, store_name
from caffe_extract.synthetic import CLASSES, make_dataset, render_frames, write_video

SAME = ("features", "labels", "video", "group", "frame_times", "split_membership", "failed_video",
        "failed_reason")


def moving_disk(path, direction, n=50):
    """A disk crossing the frame horizontally, 3.84 px per frame (right: +1, left: -1)."""
    frames = render_frames(n, "disk", (220, 40, 40), start=(0.5 - 0.27 * direction, 0.5),
                           velocity=(0.3 * direction, 0.0), radius=0.25, seed=3, contrast=0.35)
    write_video(path, frames)
    return path


@pytest.mark.parametrize("direction", [1, -1], ids=["right", "left"])
def test_farneback_sees_the_direction_of_motion(tmp_path, direction):
    clip, following = read_pairs(moving_disk(tmp_path / "disk.avi", direction))
    fields = np.stack([flow_field(f, g) for f, g in zip(clip.frames, following)])   # (T, H, W, 2)
    u, v = fields[..., 0].mean(axis=(1, 2)), fields[..., 1].mean(axis=(1, 2))
    assert fields.shape == (10, 240, 320, 2) and fields.dtype == np.float32
    assert (direction * u > 0.05).all(), u                 # every field: the disk's direction
    assert (np.abs(v) < np.abs(u) / 4).all(), (u, v)       # and hardly any vertical motion
    images = flow_images(clip.frames, following)
    assert images.shape == (10, 240, 320, 3) and images.dtype == np.uint8
    assert (direction * (images[..., 0].mean(axis=(1, 2)) - 128) > 0).all()


def test_rendering_maps_zero_flow_to_128_and_clips():
    flow = np.array([[[0, 0], [1, -1], [3, 4], [-8, 0], [-9, 100], [7.9, 0.03125]]], np.float32)
    image = render(flow)                                                       # (1, 6, 3)
    assert image.dtype == np.uint8 and image.shape == (1, 6, 3)
    assert image[0].tolist() == [[128, 128, 0],       # no motion
                                 [144, 112, 23],      # 128 +- 16; 16 * sqrt(2) = 22.6
                                 [176, 192, 80],      # magnitude 5 -> 80
                                 [0, 128, 128],       # 128 - 16 * 8 = 0 exactly
                                 [0, 255, 255],       # clipped at both ends
                                 [254, 128, 126]]     # 254.4 rounds down; 128.5 to even
    still = flow_field(np.zeros((4, 5, 3), np.uint8), None)                   # no next frame
    assert still.shape == (4, 5, 2) and not still.any()
    assert (render(still) == [128, 128, 0]).all()


def test_pairs_are_the_sampled_frames_and_the_next_ones(tmp_path):
    """27 frames (1.08 s): frames 0, 5, ..., 25, then 26 four times; 26 is the last frame, so
    the flow there is zero. Both decoders agree; the frames are read_clip's."""
    import av
    path = moving_disk(tmp_path / "short.avi", 1, n=27)
    clip, following = read_pairs(path)
    same = read_clip(path)
    np.testing.assert_array_equal(clip.frames, same.frames)
    np.testing.assert_array_equal(clip.times, same.times)
    with av.open(str(path)) as container:
        every = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    indices = np.rint(clip.times * 25).astype(int).tolist()
    assert indices == [0, 5, 10, 15, 20, 25, 26, 26, 26, 26] and len(every) == 27
    for index, after in zip(indices, following):
        if index + 1 < len(every):
            np.testing.assert_array_equal(after, every[index + 1])
        else:
            assert after is None
    reference_clip, reference = read_pairs(path, decoder="moviepy")
    np.testing.assert_array_equal(reference_clip.frames, clip.frames)
    assert [f is None for f in reference] == [f is None for f in following]
    for a, b in zip(reference, following):
        if a is not None:
            np.testing.assert_array_equal(a, b)
    images = flow_images(clip.frames, following)
    assert (images[6:] == [128, 128, 0]).all() and (images[:6] != [128, 128, 0]).any()


def test_flow_is_the_same_bytes_twice(tmp_path):
    clip, following = read_pairs(moving_disk(tmp_path / "disk.avi", 1))
    first = [flow_field(f, g).tobytes() for f, g in zip(clip.frames, following)]
    again = [flow_field(f, g).tobytes() for f, g in zip(clip.frames, following)]
    assert first == again


def test_store_names():
    assert store_name("fc7") == "all_splits_fc7.h5"                          # unchanged
    assert store_name("fc6", "rgb", 2, "train") == "split2_train_fc6.h5"
    assert store_name("fc7", "flow") == "all_splits_fc7_flow.h5"
    assert store_name("fc7", "flow", 1, "test") == "split1_test_fc7_flow.h5"
    with pytest.raises(ValueError, match="stream must be one of rgb, flow"):
        store_name("fc7", "depth")


# ---------------------------------------------------------------- the flow store

@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """2 classes (RollLeft, RollRight: the same disk moving left or right) x 3 groups; the 4th
    clip is shorter than 2 s."""
    root = tmp_path_factory.mktemp("flowset")
    make_dataset(root, n_groups=3, classes=CLASSES[:2], short_every=4, seed=1)
    return root


def command(dataset, weights, out_dir, *more):
    return ["extract", "--videos", str(dataset / "videos"), "--splits", str(dataset / "splits"),
            "--weights", weights, "--backend", "torch", "--device", "cpu", "--workers", "0",
            "--chunk", "2", "--batch-videos", "2", "--out-dir", str(out_dir), "--no-progress",
            *more]


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def stores(dataset, random_caffemodel, tmp_path_factory):
    """``both``: an RGB run, then a flow run into the same folder (the RGB store's hash taken
    between the two); ``alone``: an RGB run into a folder of its own."""
    both, alone = tmp_path_factory.mktemp("both"), tmp_path_factory.mktemp("alone")
    assert main(command(dataset, random_caffemodel, both)) == 0
    before = sha256(both / "all_splits_fc7.h5")
    assert main(command(dataset, random_caffemodel, both, "--stream", "flow")) == 0
    assert main(command(dataset, random_caffemodel, alone, "--stream", "rgb")) == 0
    return {"both": both, "alone": alone, "rgb_before_flow": before}


def assert_same_store(a, b):
    x, y = read_store(a), read_store(b)
    for key in SAME:
        np.testing.assert_array_equal(x[key], y[key], err_msg=key)
    assert {k: str(v) for k, v in x["attrs"].items()} == {k: str(v) for k, v in y["attrs"].items()}


def test_the_flow_store_lies_beside_the_rgb_store(stores):
    both = stores["both"]
    assert sorted(os.listdir(both)) == ["all_splits_fc7.h5", "all_splits_fc7_flow.h5"]
    rgb, flow = read_store(both / "all_splits_fc7.h5"), read_store(both / "all_splits_fc7_flow.h5")
    for key in ("video", "labels", "group", "frame_times", "split_membership", "classes"):
        np.testing.assert_array_equal(flow[key], rgb[key], err_msg=key)
    n = len(rgb["video"])
    assert n == 6 and list(rgb["classes"]) == ["RollLeft", "RollRight"]
    assert flow["features"].shape == rgb["features"].shape == (n, 10, 4096)
    assert flow["features"].dtype == np.float32
    assert np.abs(flow["features"] - rgb["features"]).max() > 0.1 * np.abs(rgb["features"]).max()
    attrs = flow["attrs"]
    assert attrs["stream"] == "flow" and "Farneback" in attrs["flow"] and attrs["opencv_version"]
    assert "stream" not in rgb["attrs"] and "flow" not in rgb["attrs"]
    for key in ("weights_sha1", "layer", "preprocessing", "sampler", "decoder", "config"):
        assert str(attrs[key]) == str(rgb["attrs"][key]), key


def test_zero_flow_where_a_short_clip_repeats_its_last_frame(stores):
    """The short clip's repeated last frame has no next frame: zero flow, a constant image, and
    so the same code at each repeat, in every video that has one."""
    flow = read_store(stores["both"] / "all_splits_fc7_flow.h5")
    repeats = [(row, t) for row, times in enumerate(flow["frame_times"])
               for t in range(1, 10) if times[t] == times[t - 1]]
    assert repeats, "the set has no short clip"
    codes = np.stack([flow["features"][row, t] for row, t in repeats])
    np.testing.assert_allclose(codes, np.broadcast_to(codes[0], codes.shape), rtol=1e-5, atol=1e-6)


def test_the_rgb_store_is_the_same_bytes_with_or_without_the_flow_run(stores):
    rgb = stores["both"] / "all_splits_fc7.h5"
    assert sha256(rgb) == stores["rgb_before_flow"]                # the flow run left it alone
    assert sha256(rgb) == sha256(stores["alone"] / "all_splits_fc7.h5")


def test_each_store_answers_only_for_its_stream(stores):
    both = stores["both"]
    rgb_path, flow_path = both / "all_splits_fc7.h5", both / "all_splits_fc7_flow.h5"
    rgb, flow = read_store(rgb_path), read_store(flow_path)
    check_stream(rgb, rgb_path, "rgb")
    check_stream(flow, flow_path, "flow")
    with pytest.raises(StoreError) as error:
        check_stream(rgb, rgb_path, "flow")       # training asks for flow of an RGB store
    message = str(error.value)
    assert str(rgb_path) in message and "not optical flow codes" in message
    assert "--stream flow" in message and "all_splits_fc7_flow.h5" in message
    with pytest.raises(StoreError, match="holds optical flow codes, not the frames' codes"):
        check_stream(flow, flow_path, "rgb")


def test_flow_runs_in_shards_with_workers_and_resumes(stores, dataset, random_caffemodel,
                                                     tmp_path, monkeypatch):
    """--jobs (shards, then merge), --workers (decoding in another process) and a resumed run
    give the flow store of the plain run."""
    reference = stores["both"] / "all_splits_fc7_flow.h5"
    jobs = tmp_path / "jobs"
    assert main(command(dataset, random_caffemodel, jobs, "--stream", "flow", "--jobs", "2")) == 0
    assert sorted(os.listdir(jobs)) == ["all_splits_fc7_flow.h5"]
    assert_same_store(jobs / "all_splits_fc7_flow.h5", reference)
    workers = tmp_path / "workers"
    assert main(command(dataset, random_caffemodel, workers, "--stream", "flow",
                        "--workers", "1")) == 0           # the last --workers counts
    assert_same_store(workers / "all_splits_fc7_flow.h5", reference)

    out = tmp_path / "resumed" / "all_splits_fc7_flow.h5"
    config = ExtractSettings(videos=str(dataset / "videos"), splits=str(dataset / "splits"),
                           out=str(out), weights=random_caffemodel, backend="torch", workers=0,
                           chunk=2, batch_videos=2, progress=False, stream="flow")
    save, saved = chunks.save_chunk, []

    def crash_after_one_chunk(*args):
        if saved:
            raise KeyboardInterrupt("killed")
        save(*args)
        saved.append(args[0])
    monkeypatch.setattr(chunks, "save_chunk", crash_after_one_chunk)
    with pytest.raises(KeyboardInterrupt):
        extract(config)
    monkeypatch.setattr(chunks, "save_chunk", save)
    assert len(saved) == 1 and not out.exists()
    extract(config)                                       # resumes from the saved chunk
    assert_same_store(out, reference)


def test_rgb_chunks_are_not_resumed_as_flow(dataset, tmp_path):
    """The same output path with the other stream: the .parts folder is refused, not mixed."""
    kw = dict(videos=str(dataset / "videos"), splits=str(dataset / "splits"),
              out=str(tmp_path / "x.h5"), weights="w.caffemodel", chunk=2)
    Extraction(ExtractSettings(**kw)).prepare_parts("0" * 40)
    (tmp_path / "x.h5.parts" / "chunk-00000.npz").write_bytes(b"computed by the rgb run")
    with pytest.raises(RuntimeError, match="holds a different extraction.*stream"):
        Extraction(ExtractSettings(stream="flow", **kw)).prepare_parts("0" * 40)
    with pytest.raises(ValueError, match="stream must be one of rgb, flow, got 'depth'"):
        Extraction(ExtractSettings(stream="depth", **kw))


def test_an_unknown_stream_is_a_usage_error(dataset, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["extract", "--videos", str(dataset / "videos"), "--splits",
              str(dataset / "splits"), "--stream", "depth"])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_.value.code == 2
    assert "error: argument --stream: invalid choice: 'depth'" in err[-1]


# -- training on the motion stream (experiment.train --stream flow) ---------------------------

def test_training_reads_the_stream_it_is_asked_for(stores, tmp_path):
    """`--stream flow` trains on the flow store beside the RGB one; asked of a folder without
    one, it says which extraction writes it (one line, exit 1, no traceback)."""
    import subprocess
    import sys

    from experiment.train import load_data
    rgb = load_data(str(stores["both"]), 1, val_groups=1)
    flow = load_data(str(stores["both"]), 1, val_groups=1, stream="flow")
    assert flow[3]["test_videos"] == rgb[3]["test_videos"]
    assert not np.array_equal(flow[0].x.numpy(), rgb[0].x.numpy())
    empty = tmp_path / "rgb-only"
    empty.mkdir()
    (empty / "all_splits_fc7.h5").symlink_to(stores["alone"] / "all_splits_fc7.h5")
    run = subprocess.run([sys.executable, "-m", "experiment.train", "--features", str(empty),
                          "--out", str(tmp_path / "out"), "--stream", "flow", "--no-progress"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert "all_splits_fc7_flow.h5" in run.stderr and "--stream flow" in run.stderr
