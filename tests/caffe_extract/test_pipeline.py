"""The extraction pipeline end to end on generated videos: store schema, failures, resume after
SIGKILL, shards + merge, both backends."""
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from caffe_extract.__main__ import main
from caffe_extract.pipeline import ExtractSettings, extract
from caffe_extract.store import FeatureDataset, read_store
from caffe_extract.synthetic import CLASSES, make_dataset

FIELDS = ("features", "labels", "video", "group", "frame_times", "classes", "failed_video",
          "failed_reason")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """3 classes x 22 groups in UCF-101's layout (split 1 tests on groups 1-7), some clips shorter than
    2 s, plus a corrupt file, a zero-byte file and a listed video that is missing."""
    root = tmp_path_factory.mktemp("ucf")
    make_dataset(root, n_groups=22, classes=CLASSES[:3], short_every=4, seed=1)
    videos = root / "videos"
    (videos / "PushLeft" / "v_PushLeft_g02_c01.avi").write_bytes(b"RIFF" + bytes(range(256)) * 40)
    (videos / "PushLeft" / "v_PushLeft_g03_c01.avi").write_bytes(b"")
    (videos / "RollLeft" / "v_RollLeft_g04_c01.avi").unlink()
    return root


def run(dataset, out, weights, **kw):
    config = ExtractSettings(videos=str(dataset / "videos"), splits=str(dataset / "splits"),
                           out=str(out), weights=weights, subset="test", progress=False, **kw)
    return extract(config)


def assert_same_store(a, b):
    x, y = read_store(a), read_store(b)
    for key in FIELDS:
        np.testing.assert_array_equal(x[key], y[key], err_msg=key)
    assert {k: str(v) for k, v in x["attrs"].items()} == {k: str(v) for k, v in y["attrs"].items()}


@pytest.fixture(scope="module")
def reference_store(dataset, random_caffemodel, tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "test_fc7.h5"
    run(dataset, out, random_caffemodel, backend="torch", workers=0, chunk=4, batch_videos=2)
    return out


def test_store_schema_and_failures(reference_store, dataset):
    data = read_store(reference_store)
    listed = [line.strip() for line in (dataset / "splits" / "testlist01.txt").read_text().splitlines()]
    failed = {"PushLeft/v_PushLeft_g02_c01.avi", "PushLeft/v_PushLeft_g03_c01.avi",
              "RollLeft/v_RollLeft_g04_c01.avi"}
    assert list(data["video"]) == [v for v in listed if v not in failed]   # list order kept
    n = len(data["video"])
    assert data["features"].shape == (n, 10, 4096) and data["features"].dtype == np.float32
    assert data["labels"].dtype == np.int64 and set(data["labels"]) == {0, 1, 2}
    assert list(data["labels"]) == [["RollLeft", "RollRight", "PushLeft"].index(v.split("/")[0])
                                    for v in data["video"]]
    assert list(data["group"]) == [int(v.split("_g")[1][:2]) for v in data["video"]]
    assert list(data["classes"]) == ["RollLeft", "RollRight", "PushLeft"]
    assert (data["features"] >= 0).all() and (data["features"] > 0).mean() > 0.2   # post-ReLU
    assert data["frame_times"].shape == (n, 10)
    assert (data["frame_times"][:, -1] < 1.8).any()          # short clips: last frame repeated
    reasons = dict(zip(data["failed_video"], data["failed_reason"]))
    assert set(reasons) == failed
    assert reasons["RollLeft/v_RollLeft_g04_c01.avi"].startswith("missing")
    assert "cannot decode" in reasons["PushLeft/v_PushLeft_g03_c01.avi"]
    attrs = data["attrs"]
    assert attrs["layer"].startswith("fc7") and attrs["backend"] == "torch"
    assert len(attrs["weights_sha1"]) == 40 and attrs["n_videos_listed"] == len(listed)
    for key in ("preprocessing", "sampler", "code_version", "decoder", "torch_version"):
        assert attrs[key]
    ds = FeatureDataset(reference_store)
    x, y = ds[0]
    assert len(ds) == n and x.shape == (10, 4096) and int(y) == data["labels"][0]


def test_caffe_backend_gives_the_same_codes(reference_store, dataset, random_caffemodel, tmp_path):
    out = tmp_path / "caffe.h5"
    run(dataset, out, random_caffemodel, backend="caffe", workers=1, chunk=4, batch_videos=2)
    ours, theirs = read_store(reference_store), read_store(out)
    assert list(ours["video"]) == list(theirs["video"])
    gap = np.abs(ours["features"] - theirs["features"]).max() / np.abs(theirs["features"]).max()
    assert gap <= 1e-5
    assert theirs["attrs"]["caffe_version"].startswith("BVLC Caffe")


def test_workers_hand_over_the_bytes_of_the_in_process_run(reference_store, dataset,
                                                          random_caffemodel, tmp_path):
    """Two decoding workers hand each video's input over in shared memory (handoff.py), each
    slot written again once its batch is done: the store is byte for byte the in-process run's."""
    out = tmp_path / "test_fc7.h5"
    run(dataset, out, random_caffemodel, backend="torch", workers=2, chunk=4, batch_videos=2)
    assert_same_store(reference_store, out)


def test_without_room_in_dev_shm_the_inputs_go_through_the_pipe(reference_store, dataset,
                                                                random_caffemodel, tmp_path,
                                                                monkeypatch):
    """Where the slots would not fit in /dev/shm (a container's 64 MB), no shared memory is
    made and the workers send the inputs through the pool's pipe: the same store."""
    from caffe_extract import handoff
    monkeypatch.setattr(handoff, "fits", lambda n, shape: False)
    monkeypatch.setattr(handoff, "Slots", None)                # made, it would fail the run
    out = tmp_path / "test_fc7.h5"
    run(dataset, out, random_caffemodel, backend="torch", workers=1, chunk=4, batch_videos=2)
    assert_same_store(reference_store, out)


def test_the_slots_fit_only_in_a_dev_shm_with_room():
    from caffe_extract import handoff
    free = __import__("shutil").disk_usage("/dev/shm").free
    one = 10 * 3 * 227 * 227 * 4                                 # one video's input, bytes
    assert handoff.fits(1, (10, 3, 227, 227)) == (2 * one <= free)
    assert not handoff.fits(free // one + 1, (10, 3, 227, 227))  # more than half of it


@pytest.mark.skipif(not os.path.isdir("/dev/shm"), reason="Linux: /dev/shm")
def test_slots_left_by_a_killed_process_group_are_removed_by_the_next_extraction():
    """A kill -9 of the whole process group (a scheduler's, ``timeout -s KILL``) takes the
    resource tracker too: the slots stayed in /dev/shm, 68 MB each (audit 7). Slots in use are
    held (a flock, let go by any death); the next ones remove those no process holds, and keep
    the others', whatever their pid says (another container's, sharing /dev/shm)."""
    import fcntl
    from caffe_extract import handoff
    left = f"/dev/shm/{handoff.PREFIX}1-0badcafe"           # its process gone
    alive = f"/dev/shm/{handoff.PREFIX}999999999-0badcafe"   # no such pid here, but held
    for path in (left, alive):
        open(path, "wb").close()
    holder = os.open(alive, os.O_RDONLY)
    fcntl.flock(holder, fcntl.LOCK_SH)
    try:
        with handoff.Slots(2, (3,)) as slots:
            name = f"/dev/shm/{slots.memory.name.lstrip('/')}"
            assert name.startswith(f"/dev/shm/{handoff.PREFIX}{os.getpid()}-")
            assert not os.path.exists(left) and os.path.exists(alive)
            handoff.sweep()                                 # its own slots are in use
            assert os.path.exists(name)
    finally:
        os.close(holder)
        for path in (left, alive):
            if os.path.exists(path):
                os.remove(path)


def test_shards_merge_into_the_single_run_store(reference_store, dataset, random_caffemodel, tmp_path):
    out = tmp_path / "test_fc7.h5"
    shards = [run(dataset, out, random_caffemodel, backend="torch", workers=0, chunk=4,
                  batch_videos=2, shard=(i, 3))[0] for i in range(3)]
    assert sorted(os.path.basename(s) for s in shards) == \
        [f"test_fc7.h5.shard{i}of3" for i in range(3)]
    merged = tmp_path / "merged.h5"
    assert main(["merge", "--out", str(merged)] + shards[::-1]) == 0
    assert_same_store(merged, reference_store)
    assert main(["merge", "--out", str(tmp_path / "bad.h5")] + shards[:2]) == 1  # one missing


def test_more_shards_than_chunks_merge_into_the_single_run_store(reference_store, dataset,
                                                                 random_caffemodel, tmp_path):
    """``--jobs`` above the number of chunks: a shard without a video has codes of no shape, and
    the merge once refused to join them ("all the input array dimensions ... must match")."""
    listed = int(read_store(reference_store)["attrs"]["n_videos_listed"])
    n = -(-listed // 4) + 1                                          # one shard more than chunks
    out = tmp_path / "test_fc7.h5"
    shards = [run(dataset, out, random_caffemodel, backend="torch", workers=0, chunk=4,
                  batch_videos=2, shard=(i, n))[0] for i in range(n)]
    assert main(["merge", "--out", str(tmp_path / "merged.h5")] + shards) == 0
    assert_same_store(tmp_path / "merged.h5", reference_store)


def test_jobs_run_the_shards_at_once_and_merge_them(reference_store, dataset, random_caffemodel,
                                                   tmp_path, capsys):
    """``extract --jobs 3``: three shard processes at once, then their merge: the single run's
    store, and no shard file left behind."""
    out_dir = tmp_path / "features"
    command = ["extract", "--videos", str(dataset / "videos"), "--splits", str(dataset / "splits"),
               "--subset", "test", "--weights", random_caffemodel, "--backend", "torch",
               "--device", "cpu", "--workers", "0", "--chunk", "4", "--batch-videos", "2",
               "--out-dir", str(out_dir), "--jobs", "3", "--no-progress"]
    assert main(command) == 0
    assert_same_store(out_dir / "split1_test_fc7.h5", reference_store)
    assert sorted(os.listdir(out_dir)) == ["split1_test_fc7.h5"]
    written = (out_dir / "split1_test_fc7.h5").stat().st_mtime_ns
    capsys.readouterr()
    assert main(command) == 0                           # done before: no shard is started
    assert "split1_test_fc7.h5: kept, extracted before" in capsys.readouterr().err
    assert (out_dir / "split1_test_fc7.h5").stat().st_mtime_ns == written
    assert main(["extract", "--videos", str(dataset / "videos"), "--splits", str(dataset / "splits"),
                 "--jobs", "2", "--shard", "0/2"]) == 1
    assert "give --jobs or --shard, not both" in capsys.readouterr().err


def test_a_finished_store_is_kept_and_one_of_other_settings_redone(reference_store, dataset,
                                                                    random_caffemodel, tmp_path,
                                                                    capsys, monkeypatch):
    """A rerun after a complete run keeps the store: no network opened, nothing computed, its
    failures reported as before. A store of other settings (another chunk size) is extracted
    again, and so is one that does not say how it was made (older than this check)."""
    import json
    import shutil

    import h5py

    import caffe_extract.backends as backends
    out = tmp_path / "test_fc7.h5"
    shutil.copy(reference_store, out)

    def computed(*args, **kwargs):
        raise AssertionError("the finished store was extracted again")
    real = backends.open_backend
    monkeypatch.setattr(backends, "open_backend", computed)
    path, failures, damaged = run(dataset, out, random_caffemodel, backend="torch", workers=0,
                                  chunk=4, batch_videos=2)
    assert path == str(out) and len(failures) == 3
    assert f"{out}: kept, extracted before" in capsys.readouterr().err
    with pytest.raises(AssertionError, match="extracted again"):
        run(dataset, out, random_caffemodel, backend="torch", workers=0, chunk=5, batch_videos=2)
    monkeypatch.setattr(backends, "open_backend", real)
    run(dataset, out, random_caffemodel, backend="torch", workers=0, chunk=5, batch_videos=2)
    assert json.loads(read_store(out)["attrs"]["extraction"])["chunk"] == 5
    with h5py.File(out, "a") as f:
        del f.attrs["extraction"]
    monkeypatch.setattr(backends, "open_backend", computed)
    with pytest.raises(AssertionError, match="extracted again"):
        run(dataset, out, random_caffemodel, backend="torch", workers=0, chunk=5, batch_videos=2)


def test_a_store_of_other_videos_or_split_files_is_not_kept(reference_store, dataset,
                                                           random_caffemodel, tmp_path):
    """The same names are not the same data: a store is kept for a copy of its videos and split
    files (moved data is not extracted again), not once a video's bytes or a split file
    differ (the labels and the split membership come from the split files)."""
    import shutil

    from caffe_extract.pipeline import finished
    copy, out = tmp_path / "ucf", tmp_path / "test_fc7.h5"
    shutil.copytree(dataset, copy)
    shutil.copy(reference_store, out)
    config = ExtractSettings(videos=str(copy / "videos"), splits=str(copy / "splits"), out=str(out),
                           weights=random_caffemodel, subset="test", backend="torch", workers=0,
                           chunk=4, batch_videos=2, progress=False)
    assert finished(config)[0] == str(out)
    video = copy / "videos" / "RollRight" / "v_RollRight_g01_c01.avi"
    original = video.read_bytes()
    video.write_bytes(original + b"\0")
    assert finished(config) is None
    video.write_bytes(original)
    train_list = copy / "splits" / "trainlist01.txt"    # a video out of the split's train list
    train_list.write_bytes(b"".join(train_list.read_bytes().splitlines(keepends=True)[:-1]))
    assert finished(config) is None


def extract_command(dataset, weights, out_dir, workers):
    """The command line of a small resumable extraction of the test list (torch backend)."""
    return [sys.executable, "-m", "caffe_extract", "extract", "--videos", str(dataset / "videos"),
            "--splits", str(dataset / "splits"), "--subset", "test", "--weights", weights,
            "--backend", "torch", "--workers", str(workers), "--chunk", "4", "--batch-videos", "2",
            "--out-dir", str(out_dir), "--no-progress"]


def wait_for_chunks(parts, n, child, timeout=120):
    """Until ``child`` has saved ``n`` chunks into ``parts`` (or ended, or ``timeout`` s)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and child.poll() is None:
        if parts.exists() and len(list(parts.glob("chunk-*.npz"))) >= n:
            return
        time.sleep(0.05)


def _alive(pid):
    """True while ``pid`` runs (a zombie, dead but not yet reaped, counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux: /proc and prctl")
def test_decoding_workers_die_with_a_killed_extraction(dataset, random_caffemodel, tmp_path):
    """kill -9 of an extraction takes its decoding worker with it (once it waited forever on
    its queue, holding its memory: the fault campaign left 15 of them behind), and its shared
    memory (multiprocessing's resource tracker removes it)."""
    command = extract_command(dataset, random_caffemodel, tmp_path, workers=1)
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_chunks(tmp_path / "split1_test_fc7.h5.parts", 1, child)    # the worker is decoding
    workers = [int(pid) for pid in
               open(f"/proc/{child.pid}/task/{child.pid}/children").read().split()]
    assert child.poll() is None and workers, "no decoding worker to watch"
    shared = {line.split()[-1] for line in open(f"/proc/{child.pid}/maps")
              if "/dev/shm/" in line}                              # the handoff's slots
    assert shared, "no shared memory to watch"
    child.send_signal(signal.SIGKILL)
    child.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (any(_alive(pid) for pid in workers)
                                           or any(os.path.exists(p) for p in shared)):
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in workers)
    assert not any(os.path.exists(p) for p in shared), "shared memory left behind"


def test_resume_after_sigkill_gives_the_same_store(reference_store, dataset, random_caffemodel,
                                                  tmp_path):
    out_dir = tmp_path / "features"
    command = extract_command(dataset, random_caffemodel, out_dir, workers=0)
    parts = out_dir / "split1_test_fc7.h5.parts"
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_for_chunks(parts, 2, child)
    assert child.poll() is None, "the run ended before it could be killed"
    child.send_signal(signal.SIGKILL)
    child.wait()
    done_before = len(list(parts.glob("chunk-*.npz")))
    assert 2 <= done_before < 6 and not (out_dir / "split1_test_fc7.h5").exists()
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert not parts.exists()
    assert_same_store(out_dir / "split1_test_fc7.h5", reference_store)


@pytest.mark.parametrize("change, says", [
    ("video", "video_sizes_sha1"), ("split file", "splits_sha1")])
def test_parts_of_another_video_folder_or_split_files_are_refused(dataset, tmp_path, change,
                                                                  says):
    """Chunks saved from other videos under the same names, or other split files, are refused,
    not resumed: a store once mixed two folders' codes and recorded only the second's."""
    import shutil as sh
    from caffe_extract.pipeline import Extraction
    other = tmp_path / "other"
    sh.copytree(dataset, other)
    if change == "video":
        with open(other / "videos" / "PushLeft" / "v_PushLeft_g01_c01.avi", "ab") as f:
            f.write(b"\0")                                   # another file: another size
    else:
        with open(other / "splits" / "trainlist01.txt", "a") as f:
            f.write("\n")
    kw = dict(out=str(tmp_path / "x.h5"), weights="w.caffemodel", subset="test", chunk=2)
    Extraction(ExtractSettings(videos=str(dataset / "videos"), splits=str(dataset / "splits"),
                               **kw)).prepare_parts("0" * 40)
    (tmp_path / "x.h5.parts" / "chunk-00000.npz").write_bytes(b"computed from the first folder")
    with pytest.raises(RuntimeError, match=f"holds a different extraction.*{says}"):
        Extraction(ExtractSettings(videos=str(other / "videos"), splits=str(other / "splits"),
                                   **kw)).prepare_parts("0" * 40)


def test_parts_saved_before_the_manifest_held_the_sizes_are_resumed_with_a_note(dataset, tmp_path,
                                                                                 capsys):
    """A .parts folder of an earlier version (no sizes' or split files' digest, all else equal)
    is resumed, not thrown away, with a note saying what could not be checked; its manifest is
    then written in full."""
    import json as js
    from caffe_extract.pipeline import Extraction
    config = ExtractSettings(videos=str(dataset / "videos"), splits=str(dataset / "splits"),
                             out=str(tmp_path / "x.h5"), weights="w.caffemodel", subset="test")
    full = Extraction(config).manifest("0" * 40)
    parts = tmp_path / "x.h5.parts"
    parts.mkdir()
    older = {k: v for k, v in full.items() if k not in ("video_sizes_sha1", "splits_sha1")}
    (parts / "manifest.json").write_text(js.dumps(older))
    (parts / "chunk-00000.npz").write_bytes(b"computed by the earlier version")
    Extraction(config).prepare_parts("0" * 40)
    assert "saved before it recorded the video files' sizes" in capsys.readouterr().err
    assert js.loads((parts / "manifest.json").read_text()) == full
    assert (parts / "chunk-00000.npz").exists()
    (parts / "manifest.json").write_text(js.dumps({**older, "chunk": 3}))    # and else equal only
    with pytest.raises(RuntimeError, match="holds a different extraction"):
        Extraction(config).prepare_parts("0" * 40)


def test_parts_of_another_extraction_are_refused(dataset, random_caffemodel, tmp_path):
    out = tmp_path / "x.h5"
    os.makedirs(str(out) + ".parts")
    (tmp_path / "x.h5.parts" / "manifest.json").write_text('{"layer": "fc6"}')
    (tmp_path / "x.h5.parts" / "chunk-00000.npz").write_bytes(b"computed by another run")
    with pytest.raises(RuntimeError, match="holds a different extraction"):
        run(dataset, out, random_caffemodel, backend="torch", workers=0)
    # without any computed chunk (a killed run's half-written one aside) there is nothing to
    # protect: the run starts anew
    chunk = tmp_path / "x.h5.parts" / "chunk-00000.npz"
    chunk.rename(f"{chunk}.tmp")
    run(dataset, out, random_caffemodel, backend="torch", workers=0, chunk=4)
    assert out.exists() and not (tmp_path / "x.h5.parts").exists()


def test_cli_errors_are_clear(dataset, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:   # checked at parse time, before anything is written
        main(["extract", "--videos", str(dataset / "videos"), "--splits", str(tmp_path),
              "--weights", str(tmp_path / "none.caffemodel")])
    assert exit_.value.code == 2 and "none.caffemodel does not exist" in capsys.readouterr().err
    (tmp_path / "w.caffemodel").write_bytes(b"x")
    code = main(["extract", "--videos", str(dataset / "videos"), "--splits", str(tmp_path),
                 "--weights", str(tmp_path / "w.caffemodel")])
    assert code == 1 and "classInd.txt" in capsys.readouterr().err


def test_one_store_of_all_three_splits(dataset, random_caffemodel, tmp_path):
    """Every listed video extracted once; split_membership says its role in each split; a
    sharded run merges to the same store; training reads each split from it."""
    from caffe_extract.synthetic import test_groups
    from caffe_extract.ucf101 import read_split
    out = tmp_path / "all_splits_fc7.h5"
    kw = dict(videos=str(dataset / "videos"), splits=str(dataset / "splits"), weights=random_caffemodel,
              subset="all", backend="torch", workers=0, chunk=8, batch_videos=4, progress=False)
    extract(ExtractSettings(out=str(out), **kw))
    data = read_store(out)
    membership = data["split_membership"]
    n_listed = 3 * 22
    assert len(data["video"]) + len(data["failed_video"]) == n_listed       # each video once
    assert len(set(data["video"])) == len(data["video"])
    assert membership.shape == (len(data["video"]), 3) and data["attrs"]["split"] == "1, 2, 3"
    for split in (1, 2, 3):
        _, train, test = read_split(str(dataset / "splits"), split)
        role = dict(zip(data["video"], membership[:, split - 1]))
        assert {v.path for v in train if v.path in role} == {v for v, r in role.items() if r == 1}
        assert {v.path for v in test if v.path in role} == {v for v, r in role.items() if r == 2}
        assert {g for g, r in zip(data["group"], membership[:, split - 1]) if r == 2} <= \
            set(test_groups(split, 22))
    shards = [extract(ExtractSettings(out=str(out) + "x", shard=(i, 2), **kw))[0] for i in range(2)]
    assert main(["merge", "--out", str(tmp_path / "merged.h5")] + shards) == 0
    merged = read_store(tmp_path / "merged.h5")
    np.testing.assert_array_equal(merged["split_membership"], membership)
    np.testing.assert_array_equal(merged["features"], data["features"])
    from experiment.train import load_data
    for split in (1, 2, 3):
        train, val, test, info = load_data(str(tmp_path), split, val_groups=2)
        assert len(test.y) == int((membership[:, split - 1] == 2).sum())
        assert len(train.y) + len(val.y) == int((membership[:, split - 1] == 1).sum())


def test_subset_without_a_split_number_is_refused(dataset, tmp_path, capsys):
    code = main(["extract", "--videos", str(dataset / "videos"), "--splits", str(dataset / "splits"),
                 "--split", "all", "--subset", "test", "--random-weights", "0"])
    assert code == 1 and "--subset needs --split K" in capsys.readouterr().err


def test_full_disk_is_a_clear_error_and_resumes(reference_store, dataset, random_caffemodel, tmp_path,
                                                file_size_limit):
    """Out of space while writing the store: one clear line, nothing half-written left behind,
    and once space is back the same command resumes (from its chunks) to the same store."""
    out_dir = tmp_path / "features"
    command = [sys.executable, "-m", "caffe_extract", "extract", "--videos", str(dataset / "videos"),
               "--splits", str(dataset / "splits"), "--subset", "test", "--weights",
               random_caffemodel, "--backend", "torch", "--workers", "0", "--chunk", "4",
               "--batch-videos", "2", "--out-dir", str(out_dir), "--no-progress"]
    # a chunk of 4 videos is ~0.7 MB, the store ~3 MB: the chunks fit, the store does not
    full = subprocess.run(command, capture_output=True, text=True, timeout=300,
                          preexec_fn=file_size_limit(1_500_000))
    assert full.returncode == 1, full.stderr[-2000:]
    lines = full.stderr.strip().splitlines()
    assert "Traceback" not in full.stderr and lines[-1].startswith("error: cannot write")
    assert "File too large" in lines[-1] and "rerun the same command" in lines[-1]
    assert not list(out_dir.glob("*.tmp")) and len(list(out_dir.glob("*.parts/chunk-*"))) == 6
    again = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    assert_same_store(out_dir / "split1_test_fc7.h5", reference_store)


def test_second_run_on_the_same_output_is_refused(dataset, random_caffemodel, tmp_path):
    command = [sys.executable, "-m", "caffe_extract", "extract", "--videos", str(dataset / "videos"),
               "--splits", str(dataset / "splits"), "--subset", "test", "--weights",
               random_caffemodel, "--backend", "torch", "--workers", "0", "--chunk", "4",
               "--out-dir", str(tmp_path), "--no-progress"]
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    parts = tmp_path / "split1_test_fc7.h5.parts"
    deadline = time.monotonic() + 120
    while not parts.exists() and time.monotonic() < deadline and first.poll() is None:
        time.sleep(0.05)
    second = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert first.poll() is None, "the first run ended before the second started"
    assert second.returncode == 1 and "Traceback" not in second.stderr
    assert "another extraction is writing" in second.stderr.strip().splitlines()[-1]
    assert first.wait(timeout=300) == 0
    read_store(tmp_path / "split1_test_fc7.h5")       # the first run's store is whole


def test_resume_compares_the_weights_content_not_their_path(dataset, random_caffemodel, tmp_path):
    """Chunks computed with other weights (another SHA1) under the same path are refused."""
    import shutil as sh
    weights = tmp_path / "net.caffemodel"
    sh.copy(random_caffemodel, weights)
    out = tmp_path / "x.h5"
    parts = tmp_path / "x.h5.parts"
    parts.mkdir()
    config = ExtractSettings(videos=str(dataset / "videos"), splits=str(dataset / "splits"),
                           out=str(out), weights=str(weights), subset="test", backend="torch",
                           workers=0, progress=False)
    from caffe_extract.pipeline import Extraction
    Extraction(config).prepare_parts("0" * 40)        # as if made by other weights, same path
    (parts / "chunk-00000.npz").write_bytes(b"computed with the other weights")
    with pytest.raises(RuntimeError, match="weights_sha1"):
        extract(config)
