"""The 10-frame sampler: times, moviepy's frame semantics, short clips, unreadable files."""
import numpy as np
import pytest

from caffe_extract.frames import VideoReadError, frame_index, read_clip, read_frames, sample_times
from caffe_extract.synthetic import render_frames, write_video


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("videos")
    paths = {}
    for name, n in [("long", 60), ("two_seconds", 50), ("short", 27), ("one_frame", 1)]:
        paths[name] = root / f"{name}.avi"
        write_video(paths[name], render_frames(n, seed=n, velocity=(0.3, 0.1)))
    paths["empty"] = root / "empty.avi"
    paths["empty"].write_bytes(b"")
    paths["garbage"] = root / "garbage.avi"
    paths["garbage"].write_bytes(b"RIFF" + bytes(range(256)) * 64)
    return paths


def test_sample_times():
    np.testing.assert_allclose(sample_times(6.0), [0, .2, .4, .6, .8, 1, 1.2, 1.4, 1.6, 1.8])
    # a 1.08 s clip at 25 fps has 27 frames; the last is shown at 1.04 s
    np.testing.assert_allclose(sample_times(1.08), [0, .2, .4, .6, .8, 1, 1.04, 1.04, 1.04, 1.04])
    assert [frame_index(t, 25) for t in sample_times(6.0)] == [0, 5, 10, 15, 20, 25, 30, 35, 40, 45]
    assert frame_index(0.2, 29.97) == 5 and frame_index(1.0, 30) == 30  # int(fps*t + 1e-5)


@pytest.mark.parametrize("name", ["long", "two_seconds", "short", "one_frame"])
def test_pyav_returns_moviepys_frames(videos, name):
    fast, fast_times, warning = read_clip(videos[name], decoder="pyav")
    ref, ref_times, _ = read_clip(videos[name], decoder="moviepy")
    assert warning == ""                      # short clips are not damaged
    assert fast.shape == (10, 240, 320, 3) and fast.dtype == np.uint8
    np.testing.assert_array_equal(fast, ref)
    np.testing.assert_allclose(fast_times, ref_times)


def test_the_right_frames_are_sampled(videos):
    """Frame i * 5 of a 25 fps clip, checked against the frames that were encoded."""
    original = render_frames(60, seed=60, velocity=(0.3, 0.1))
    got = read_frames(videos["long"])
    errors = [np.abs(got[i].astype(int) - original[5 * i]).mean() for i in range(10)]
    neighbours = [np.abs(got[i].astype(int) - original[5 * i + 1]).mean() for i in range(10)]
    assert max(errors) < 6 and all(e < n for e, n in zip(errors, neighbours))


def test_short_clips_repeat_their_last_frame(videos):
    frames, times, _ = read_clip(videos["short"])
    np.testing.assert_allclose(times, [0, .2, .4, .6, .8, 1, 1.04, 1.04, 1.04, 1.04])
    assert all(np.array_equal(frames[6], frames[k]) for k in (7, 8, 9))
    frames, times, _ = read_clip(videos["one_frame"])
    assert len(frames) == 10 and np.all(times == 0)


@pytest.mark.parametrize("decoder", ["pyav", "moviepy"])
@pytest.mark.parametrize("name", ["empty", "garbage"])
def test_unreadable_files_raise_video_read_error(videos, name, decoder):
    with pytest.raises(VideoReadError, match=name):
        read_frames(videos[name], decoder=decoder)


def test_unknown_decoder(videos):
    with pytest.raises(ValueError, match="unknown decoder"):
        read_frames(videos["long"], decoder="opencv")
