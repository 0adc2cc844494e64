"""The bad-input corpus, the extraction's cases (``python -m caffe_extract extract|merge``):
videos, split files, caffemodels, command-line misuse, codes that are not finite, weights with a
NaN, merges of shards that do not belong together. The outcomes (error, skip, warn, ok) are
tests/bad_inputs.py's."""
import shutil
import subprocess

import numpy as np
import pytest

from caffe_extract.__main__ import main as extract_main
from caffe_extract.paths import DEPLOY_PROTOTXT
from caffe_extract.store import read_store, write_store
from caffe_extract.synthetic import CLASSES, ffmpeg_exe, make_dataset, render_frames, write_video

from ..bad_inputs import ATTRS, one_line_error, run_cli, snapshot, stores, toy_records


# ----------------------------------------------------------------------------------- videos

def ffmpeg(*args):
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-y", "-loglevel", "error", *args], check=True)


def truncate(path, fraction):
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * fraction)])


def huge_header(path):
    """Declare a 60000 x 60000 frame in the AVI headers (avih and the stream's strf)."""
    data = bytearray(path.read_bytes())
    avih = data.find(b"avih") + 8
    data[avih + 32:avih + 40] = np.array([60000, 60000], "<u4").tobytes()   # dwWidth, dwHeight
    strf = data.find(b"strf") + 8
    data[strf + 4:strf + 12] = np.array([60000, 60000], "<i4").tobytes()    # biWidth, biHeight
    path.write_bytes(bytes(data))


VIDEO_CASES = {   # listed video -> (how it is broken, expected outcome, what the record says)
    "RollLeft/v_RollLeft_g01_c01.avi": ("zero bytes", "skip", "cannot decode"),
    "RollLeft/v_RollLeft_g02_c01.avi": ("random bytes", "skip", "cannot decode"),
    "RollLeft/v_RollLeft_g03_c01.avi": ("truncated at 5% of its bytes", "skip", "cannot decode"),
    "RollLeft/v_RollLeft_g04_c01.avi": ("truncated at 33%", "warn", "declares 60 frames"),
    "RollLeft/v_RollLeft_g05_c01.avi": ("truncated at 60%", "warn", "declares 60 frames"),
    "RollLeft/v_RollLeft_g06_c01.avi": ("truncated at 90% (all needed frames decode)", "ok", ""),
    "RollLeft/v_RollLeft_g07_c01.avi": ("audio only", "skip", "no video stream"),
    "RollLeft/v_RollLeft_g08_c01.avi": ("one frame", "ok", ""),
    "RollRight/v_RollRight_g01_c01.avi": ("a huge declared frame size", "ok", ""),
    "RollRight/v_RollRight_g02_c01.avi": ("variable frame rate (Matroska under .avi)", "ok", ""),
    "RollRight/v_RollRight_g03_c01.avi": ("wrong extension (an MPEG-4 file under .avi)", "ok", ""),
    "RollRight/v_RollRight_g04_c01.avi": ("a folder where the file should be", "skip", "missing"),
    "RollRight/v_RollRight_g05_c01.avi": ("missing", "skip", "missing"),
}


@pytest.fixture(scope="module")
def broken_set(tmp_path_factory, random_caffemodel):
    """A small UCF-101-format set with the broken videos, extracted once (all splits)."""
    root = tmp_path_factory.mktemp("broken")
    make_dataset(root, n_groups=8, classes=CLASSES[:2], seed=5)
    videos = root / "videos"
    frames = render_frames(60, seed=9)
    p = {name: videos / name for name in VIDEO_CASES}
    p["RollLeft/v_RollLeft_g01_c01.avi"].write_bytes(b"")
    p["RollLeft/v_RollLeft_g02_c01.avi"].write_bytes(np.random.default_rng(0).bytes(20000))
    for name, fraction in (("g03", 0.05), ("g04", 0.33), ("g05", 0.60), ("g06", 0.90)):
        path = videos / f"RollLeft/v_RollLeft_{name}_c01.avi"
        write_video(path, frames)
        truncate(path, fraction)
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=2", "-c:a", "pcm_s16le",
           str(p["RollLeft/v_RollLeft_g07_c01.avi"]))
    write_video(p["RollLeft/v_RollLeft_g08_c01.avi"], frames[:1])
    huge_header(p["RollRight/v_RollRight_g01_c01.avi"])
    raw = root / "frames.avi"
    write_video(raw, frames)
    ffmpeg("-i", str(raw), "-vf", "setpts='if(lt(N,30),N,2*N-30)/25/TB'", "-fps_mode", "vfr",
           "-c:v", "mpeg4", "-f", "matroska", str(p["RollRight/v_RollRight_g02_c01.avi"]))
    ffmpeg("-i", str(raw), "-c:v", "mpeg4", "-f", "mp4", str(p["RollRight/v_RollRight_g03_c01.avi"]))
    p["RollRight/v_RollRight_g04_c01.avi"].unlink()
    p["RollRight/v_RollRight_g04_c01.avi"].mkdir()
    p["RollRight/v_RollRight_g05_c01.avi"].unlink()
    out = root / "features"
    code = extract_main(["extract", "--videos", str(videos), "--splits", str(root / "splits"),
                         "--out-dir", str(out), "--random-weights", "0", "--backend", "torch",
                         "--workers", "0", "--no-progress"])
    assert code == 0
    return read_store(out / "all_splits_fc7.h5")


@pytest.mark.parametrize("video", sorted(VIDEO_CASES))
def test_bad_video(broken_set, video):
    _, outcome, says = VIDEO_CASES[video]
    failed = dict(zip(broken_set["failed_video"], broken_set["failed_reason"]))
    kept = dict(zip(broken_set["video"], broken_set["warning"]))
    if outcome == "skip":
        assert video in failed and video not in kept
        assert says in failed[video] and "\n" not in failed[video]
    else:
        assert video in kept and video not in failed
        row = list(broken_set["video"]).index(video)
        assert np.isfinite(broken_set["features"][row]).all()
        if outcome == "warn":
            assert kept[video].startswith("damaged") and says in kept[video]
            times = broken_set["frame_times"][row]
            assert times[-1] == times[-2] < 1.8       # the last decoded frame repeats
        else:
            assert kept[video] == ""


def test_summary_counts_damaged_videos(broken_set):
    """The other videos are untouched, and the counts add up."""
    warned = [w for w in broken_set["warning"] if w]
    assert len(warned) == sum(o == "warn" for _, o, _ in VIDEO_CASES.values())
    assert len(broken_set["failed_video"]) == sum(o == "skip" for _, o, _ in VIDEO_CASES.values())
    assert len(broken_set["video"]) + len(broken_set["failed_video"]) == 16


def test_damaged_videos_are_summarised(capsys):
    from caffe_extract.pipeline import summarize
    summarize([], [("A/v_A_g01_c01.avi", "damaged: the container declares 60 frames but only 13 "
                    "decoded; frames after 0.48 s repeat the last decoded one")])
    err = capsys.readouterr().err
    assert err.startswith("1 video(s) are damaged") and "declares 60 frames" in err


# ------------------------------------------------------------------------------ split files

@pytest.fixture
def tiny(tmp_path, random_caffemodel):
    """A 2-class, 3-group set with all three splits (extraction takes seconds), extracted with
    the random-weight CaffeNet that real Caffe wrote (skipped where Caffe is not built)."""
    make_dataset(tmp_path, n_groups=3, classes=CLASSES[:2], seed=2)
    return tmp_path


def extract(tiny, *extra, splits=None):
    weights = [] if "--weights" in extra else ["--random-weights", "0"]
    return extract_main(["extract", "--videos", str(tiny / "videos"), "--splits",
                         str(splits or tiny / "splits"), "--out-dir", str(tiny / "out"),
                         "--backend", "torch", "--workers", "0", "--no-progress", *weights, *extra])


SPLIT_CASES = {   # name -> (file, how to break it, what the error says)
    "classInd missing a column": ("classInd.txt", lambda t: "1\r\n2 RollRight\r\n",
                                  "line 1: expected 'INDEX ClassName'"),
    "classInd out of order": ("classInd.txt", lambda t: "2 RollLeft\r\n1 RollRight\r\n",
                              "class index 2 out of order"),
    "trainlist with three columns": ("trainlist01.txt", lambda t: t.replace(" 1\r\n", " 1 x\r\n", 1),
                                     "expected 'Class/v_Class_gXX_cYY.avi [label]'"),
    "trainlist label out of range": ("trainlist01.txt", lambda t: t.replace(" 1\r\n", " 999\r\n", 1),
                                     "label 999 does not match class"),
    "trainlist label not a number": ("trainlist01.txt", lambda t: t.replace(" 1\r\n", " one\r\n", 1),
                                     "label one does not match class"),
    "trainlist duplicate line": ("trainlist02.txt", lambda t: t + t.splitlines()[0] + "\r\n",
                                 "is listed twice"),
    "testlist unknown class": ("testlist01.txt", lambda t: t + "Juggling/v_Juggling_g01_c01.avi\r\n",
                               "unknown class 'Juggling'"),
    "testlist name not UCF-101's": ("testlist03.txt", lambda t: t + "RollLeft/clip.avi\r\n",
                                    "is not a UCF-101 clip name"),
    "a video in train and test of one split": ("testlist01.txt",
                                               lambda t: t + "RollLeft/v_RollLeft_g03_c01.avi\r\n",
                                               "listed twice in split 1"),
    "non-UTF-8 bytes": ("trainlist03.txt", None, "not UTF-8 text"),
    "missing list": ("testlist02.txt", "delete", "cannot read"),
}


@pytest.mark.parametrize("case", sorted(SPLIT_CASES))
def test_bad_split_file(tiny, capsys, case):
    name, change, says = SPLIT_CASES[case]
    path = tiny / "splits" / name
    if change == "delete":
        path.unlink()
    elif change is None:
        path.write_bytes(path.read_bytes() + b"RollLeft/v_RollLeft_g09_c01.avi \xff\xfe\r\n")
    else:
        path.write_bytes(change(path.read_bytes().decode()).encode())
    one_line_error(capsys, extract(tiny), name, says)
    assert not (tiny / "out" / "all_splits_fc7.h5.parts").exists()


def test_split_folder_is_the_video_folder(tiny, capsys):
    one_line_error(capsys, extract(tiny, splits=tiny / "videos"), "classInd.txt", "cannot read")


# ------------------------------------------------------------------------------ caffemodels

def deploy_variant(caffe, tmp_path, name, edit):
    """A CaffeNet-like .caffemodel written by real Caffe from an edited deploy.prototxt."""
    prototxt = tmp_path / f"{name}.prototxt"
    prototxt.write_text(edit(open(DEPLOY_PROTOTXT).read()))
    path = tmp_path / f"{name}.caffemodel"
    caffe.Net(str(prototxt), caffe.TEST).save(str(path))
    return path


def lenet(text):
    return """name: "LeNet"
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 1 dim: 28 dim: 28 } } }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
        convolution_param { num_output: 20 kernel_size: 5 } }
"""


CAFFEMODEL_CASES = {   # name -> (how the file is made, what the error says)
    "truncated to 100 bytes": (lambda m, t, c: t.write_bytes(open(m, "rb").read(100)),
                               "truncated or not a .caffemodel"),
    "truncated at half": (lambda m, t, c: t.write_bytes(open(m, "rb").read(122_000_000)),
                          "truncated or not a .caffemodel"),
    "truncated by 1 kB": (lambda m, t, c: t.write_bytes(open(m, "rb").read()[:-1000]),
                          "truncated or not a .caffemodel"),
    "zero bytes": (lambda m, t, c: t.write_bytes(b""), "not a .caffemodel"),
    "a prototxt instead": (lambda m, t, c: shutil.copy(DEPLOY_PROTOTXT, t), ".caffemodel"),
    "another net (LeNet)": ("lenet", "is not a CaffeNet: layers missing"),
    "wrong shapes (fc7 of 1024)": ("fc7", "shape"),
}


@pytest.mark.parametrize("case", sorted(CAFFEMODEL_CASES))
def test_bad_caffemodel(tiny, capsys, caffe, random_caffemodel, tmp_path, case):
    make, says = CAFFEMODEL_CASES[case]
    path = tmp_path / "bad.caffemodel"
    if make == "lenet":
        path = deploy_variant(caffe, tmp_path, "lenet", lenet)
    elif make == "fc7":
        path = deploy_variant(caffe, tmp_path, "fc7", lambda text: text.replace(
            'name: "fc7"\n  type: "InnerProduct"\n  bottom: "fc6"\n  top: "fc7"\n  inner_product_param {\n    num_output: 4096',
            'name: "fc7"\n  type: "InnerProduct"\n  bottom: "fc6"\n  top: "fc7"\n  inner_product_param {\n    num_output: 1024'))
    else:
        make(random_caffemodel, path, caffe)
    line = one_line_error(capsys, extract(tiny, "--weights", str(path)), str(path))
    assert says in line, line
    assert not (tiny / "out" / "all_splits_fc7.h5.parts").exists()   # nothing left behind
    assert not (tiny / "out" / "all_splits_fc7.h5.lock").exists()    # (the lock was)


@pytest.mark.parametrize("blob", [b"\x3a\x03\x0a\x01\x03",        # a shape (3,), no data
                                  b"\x3a\x03\x0a\x01\x01\x2a\x05" + bytes(5)],  # 5 bytes of float32
                         ids=["no data", "5 bytes"])
def test_a_malformed_blob_is_a_caffemodel_error_naming_the_file(tmp_path, blob):
    """A blob whose bytes numpy cannot read is the file's error, named (it was numpy's
    ValueError, said without the file: "need at least one array to concatenate")."""
    from caffe_extract.caffemodel import CaffeModelError, read_blobs
    layer = b"\x0a\x05conv1" + bytes([0x3a, len(blob)]) + blob         # LayerParameter: name, blobs
    path = tmp_path / "bad.caffemodel"
    path.write_bytes(b"\xa2\x06" + bytes([len(layer)]) + layer)        # NetParameter.layer (100)
    with pytest.raises(CaffeModelError, match=f"{path} is truncated or not a .caffemodel"):
        read_blobs(path)


def test_a_folder_as_weights(tiny, capsys, tmp_path):
    code = run_cli(lambda argv: extract(tiny, *argv), ["--weights", str(tmp_path)])
    one_line_error(capsys, code, str(tmp_path), "is a folder, not a file")


def test_wrong_weights_then_right_weights(tiny, capsys, tmp_path, random_caffemodel):
    """The issue's example: a start-up failure must not block the next run."""
    bad = tmp_path / "bad.caffemodel"
    bad.write_bytes(open(random_caffemodel, "rb").read(1000))
    one_line_error(capsys, extract(tiny, "--weights", str(bad)), str(bad))
    assert extract(tiny, "--weights", random_caffemodel) == 0
    assert (tiny / "out" / "all_splits_fc7.h5").exists()


# ------------------------------------------------------------------------------ CLI misuse

def test_missing_video_folder(tiny, capsys):
    """The issue's example: once 'cannot reshape array of size 0 into shape (0,newaxis)'."""
    code = run_cli(extract_main, ["extract", "--videos", str(tiny / "WRONG_FOLDER"), "--splits",
                                  str(tiny / "splits"), "--random-weights", "0", "--backend", "torch"])
    one_line_error(capsys, code, "WRONG_FOLDER", "does not exist")


def test_video_folder_without_class_folders(tiny, capsys):
    code = extract_main(["extract", "--videos", str(tiny / "splits"), "--splits",
                         str(tiny / "splits"), "--random-weights", "0", "--backend", "torch"])
    one_line_error(capsys, code, "splits", "none of the class folders")


ARGPARSE_CASES = {   # argv -> what the usage error says
    "weights and random weights": (["extract", "--videos", "v", "--splits", "s", "--weights", "w",
                                    "--random-weights", "0"], "not allowed with argument"),
    "shard out of range": (["extract", "--videos", "v", "--splits", "s", "--shard", "3/2"],
                           "--shard i/n needs 0 <= i < n"),
    "unknown layer": (["extract", "--videos", "v", "--splits", "s", "--layer", "fc9"], "invalid choice"),
    "unknown configuration": (["extract", "--videos", "v", "--splits", "s", "--config", "2016"],
                              "invalid choice"),
    "no videos option": (["extract", "--splits", "s"], "the following arguments are required"),
}


@pytest.mark.parametrize("case", sorted(ARGPARSE_CASES))
def test_cli_usage_errors(capsys, tmp_path, case):
    argv, says = ARGPARSE_CASES[case]
    (tmp_path / "v").mkdir(), (tmp_path / "s").mkdir()
    (tmp_path / "w").write_bytes(b"weights")          # v, s, w: paths that exist, so that the
    argv = [str(tmp_path / a) if a in ("v", "s", "w") else a for a in argv]   # error is the case's
    with pytest.raises(SystemExit) as exit_:
        extract_main(argv)
    one_line_error(capsys, exit_.value.code, says)


def test_subset_with_all_splits(tiny, capsys):
    one_line_error(capsys, extract(tiny, "--split", "all", "--subset", "test"), "--subset needs --split K")


def test_merge_of_a_store_that_is_not_a_shard(tmp_path, capsys):
    stores(tmp_path)
    code = extract_main(["merge", "--out", str(tmp_path / "m.h5"), str(tmp_path / "split1_test_fc7.h5")])
    one_line_error(capsys, code, "split1_test_fc7.h5", "not a shard store")


# ------------------------------------------------------------ codes not finite, at extraction

def nan_for(rows, value):
    """A stand-in for the pipeline's network forward that gives ``value`` codes for the videos
    at list positions ``rows`` (as a broken frame or kernel would), the real codes elsewhere."""
    from caffe_extract import chunks
    forward = chunks.forward_batch

    def broken(backend, batch, blob, *args):
        done = forward(backend, batch, blob, *args)
        return [(i, np.full_like(codes, value) if i in rows else codes, times)
                for i, codes, times in done]
    return broken


@pytest.mark.parametrize("value", [np.nan, np.inf], ids=["NaN", "infinite"])
def test_non_finite_codes_at_extraction(tiny, capsys, monkeypatch, value):
    """Codes that are not finite never enter a store: the video is left out, with the count
    of its bad values as the reason, and summarised; the other videos are kept."""
    from caffe_extract import chunks
    monkeypatch.setattr(chunks, "forward_batch", nan_for({0, 5}, value))
    assert extract(tiny) == 0
    data = read_store(tiny / "out" / "all_splits_fc7.h5")
    failed = dict(zip(data["failed_video"], data["failed_reason"]))
    assert len(failed) == 2 and all(r.startswith("non-finite codes: ") for r in failed.values())
    assert ("40960 NaN" if np.isnan(value) else "40960 infinite") in next(iter(failed.values()))
    assert np.isfinite(data["features"]).all() and len(data["video"]) == 6 - 2
    assert "2 video(s) could not be used" in capsys.readouterr().err


def test_weights_with_a_nan(tiny, capsys, caffe, random_caffemodel, tmp_path):
    """A .caffemodel holding a NaN weight would give NaN codes for every video: refused."""
    net = caffe.Net(str(DEPLOY_PROTOTXT), random_caffemodel, caffe.TEST)
    net.params["fc7"][0].data[0, 0] = np.nan
    path = tmp_path / "nan.caffemodel"
    net.save(str(path))
    one_line_error(capsys, extract(tiny, "--weights", str(path)), str(path), "fc7", "non-finite")
    assert not (tiny / "out" / "all_splits_fc7.h5").exists()
    assert not (tiny / "out" / "all_splits_fc7.h5.parts").exists()   # nothing left behind


# ------------------------------------------------------------------------ merge refusals

def shard_stores(folder, n=3, attrs=None, classes=None):
    """Shard stores i/n of the toy records (videos i, i+n, ...), as `--shard i/n` writes them;
    ``attrs``/``classes``: {shard: override} to make one shard differ."""
    records = toy_records()
    paths = []
    for i in range(n):
        rows = np.arange(i, 12, n)
        part = {k: (np.asarray(v)[rows] if k != "video" else [v[r] for r in rows])
                for k, v in records.items()}
        path = folder / f"all_splits_fc7.h5.shard{i}of{n}"
        write_store(path, part, [], (classes or {}).get(i, ["C0", "C1"]),
                    {**ATTRS, "n_videos_listed": 12, "shard": f"{i}/{n}", **(attrs or {}).get(i, {})},
                    {"index": rows, "failed_index": np.zeros(0, np.int64)})
        paths.append(str(path))
    return paths


MERGE_CASES = {   # name -> (shards made, command line tail, what the error names)
    "shards of two configurations": (dict(attrs={2: {"config": "modern"}}), None,
                                     ("shard2of3", "config", "'modern'")),
    "a shard with other weights": (dict(attrs={1: {"weights_sha1": "c" * 40}}), None,
                                   ("shard1of3", "weights_sha1")),
    "a shard of another layer": (dict(attrs={1: {"layer": "fc6"}}), None, ("shard1of3", "layer")),
    "a shard listing other classes": (dict(classes={2: ["C0", "C9"]}), None,
                                      ("shard2of3", "other classes")),
    "a shard given twice": ({}, lambda p: [p[0], p[1], p[1]], ("shard1of3", "given twice")),
    "a shard missing": ({}, lambda p: p[:2], ("2/3", "missing")),
    "--out is one of the shards": ({}, "out", ("--out", "is one of the shards")),
}


@pytest.mark.parametrize("case", sorted(MERGE_CASES))
def test_merge_names_the_culprit(tmp_path, capsys, case):
    """The issue's example: shards of two configurations once gave only 'their attributes
    differ', naming neither the attribute nor the shard."""
    make, pick, says = MERGE_CASES[case]
    paths = shard_stores(tmp_path, **make)
    out = str(tmp_path / "merged.h5")
    if pick == "out":
        out = paths[0]
    elif pick is not None:
        paths = pick(paths)
    before = snapshot(tmp_path)
    code = run_cli(extract_main, ["merge", "--out", out] + paths)
    one_line_error(capsys, code, *says)
    assert snapshot(tmp_path) == before


def test_merge_of_good_shards(tmp_path):
    """The shards above, untouched, merge into the toy store: the refusals are the changes'."""
    paths = shard_stores(tmp_path)
    assert extract_main(["merge", "--out", str(tmp_path / "m.h5")] + paths[::-1]) == 0
    merged = read_store(tmp_path / "m.h5")
    np.testing.assert_array_equal(merged["features"], toy_records()["features"])
