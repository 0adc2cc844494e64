"""UCF-101 split files: their quirks, 0-based labels, clear errors, group-disjoint validation."""
import pytest

from caffe_extract.ucf101 import (SplitFileError, Video, VideoIndex, parse_name, read_classes,
                                  read_list, read_split, validation_split)

CLASSES = "1 ApplyEyeMakeup\r\n2 Archery\r\n3 HandstandPushups\r\n"


@pytest.fixture
def splits(tmp_path):
    (tmp_path / "classInd.txt").write_bytes(("\ufeff" + CLASSES).encode("utf-8"))
    (tmp_path / "trainlist01.txt").write_bytes(
        b"ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1\r\n"
        b"Archery/v_Archery_g09_c02.avi 2\r\n"
        b"\r\n"
        b"HandStandPushups/v_HandStandPushups_g10_c03.avi 3\r\n")
    (tmp_path / "testlist01.txt").write_bytes(
        b"ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi\r\nArchery/v_Archery_g07_c04.avi\r\n")
    return tmp_path


def test_split_files_with_their_quirks(splits):
    classes, train, test = read_split(splits, 1)
    assert classes == ["ApplyEyeMakeup", "Archery", "HandstandPushups"]  # BOM and CRLF gone
    assert [(v.label, v.group, v.clip) for v in train] == [(0, 8, 1), (1, 9, 2), (2, 10, 3)]
    assert train[2].path == "HandStandPushups/v_HandStandPushups_g10_c03.avi"  # case differs
    assert [(v.label, v.group) for v in test] == [(0, 1), (1, 7)]  # labels from the folder


@pytest.mark.parametrize("line, message", [
    (b"Archery/v_Archery_g09_c02.avi 1\r\n", "label 1 does not match class 'Archery'"),
    (b"Bowling/v_Bowling_g09_c02.avi 2\r\n", "unknown class 'Bowling'"),
    (b"Archery/v_Archery_g09_c02.avi 2 extra\r\n", "expected 'Class/v_Class_gXX_cYY.avi"),
    (b"Archery/archery_09_02.avi 2\r\n", "'Archery/archery_09_02.avi' is not a UCF-101 clip name"),
])
def test_bad_lines_name_file_and_line(splits, line, message):
    path = splits / "trainlist01.txt"
    path.write_bytes(b"ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1\r\n" + line)
    with pytest.raises(SplitFileError, match=f"trainlist01.txt, line 2: {message}"):
        read_list(path, read_classes(splits / "classInd.txt"))


def test_class_index_errors(tmp_path):
    path = tmp_path / "classInd.txt"
    path.write_text("1 A\n3 B\n")
    with pytest.raises(SplitFileError, match="line 2: class index 3 out of order"):
        read_classes(path)
    with pytest.raises(SplitFileError, match="cannot read"):
        read_classes(tmp_path / "missing.txt")
    with pytest.raises(ValueError, match="splits 1, 2 and 3"):
        read_split(tmp_path, 4)


def test_parse_name():
    assert parse_name("YoYo/v_YoYo_g25_c05.avi") == ("YoYo", 25, 5)
    assert parse_name("YoYo/yoyo.avi") is None


def test_validation_split_holds_out_whole_groups_seeded():
    train = [Video(f"C{c}/v_C{c}_g{g:02d}_c01.avi", c, g, 1) for c in range(3) for g in range(8, 26)]
    kept, val = validation_split(train, n_groups=3, seed=0)
    assert len(val) == 9 and len(kept) == 45
    assert not {v.group for v in kept} & {v.group for v in val}
    assert {v.label for v in val} == {0, 1, 2}  # every class is validated
    assert validation_split(train, 3, seed=0) == (kept, val)
    assert validation_split(train, 3, seed=1)[1] != val
    with pytest.raises(ValueError, match="n_groups"):
        validation_split(train, n_groups=18)


def test_video_index_is_case_insensitive_where_needed(tmp_path):
    folder = tmp_path / "HandstandPushups"
    folder.mkdir()
    (folder / "v_HandStandPushups_g10_c03.avi").write_bytes(b"x")
    index = VideoIndex(tmp_path)
    assert index.locate("HandStandPushups/v_HandStandPushups_g10_c03.avi") == \
        str(folder / "v_HandStandPushups_g10_c03.avi")
    assert index.locate("Archery/v_Archery_g01_c01.avi") is None


def test_all_splits_membership_and_duplicates(tmp_path):
    from caffe_extract.synthetic import test_groups
    from caffe_extract.ucf101 import SplitFileError, read_all_splits
    assert [list(test_groups(k, 25)) for k in (1, 2, 3)] == \
        [list(range(1, 8)), list(range(8, 15)), list(range(15, 22))]      # as UCF-101
    (tmp_path / "classInd.txt").write_text("1 A\n2 B\n")
    videos = [f"{c}/v_{c}_g{g:02d}_c01.avi" for c in "AB" for g in range(1, 4)]
    for k in (1, 2, 3):
        (tmp_path / f"trainlist0{k}.txt").write_text(
            "".join(f"{v} {'AB'.index(v[0]) + 1}\n" for v in videos if f"_g0{k}_" not in v))
        (tmp_path / f"testlist0{k}.txt").write_text("".join(f"{v}\n" for v in videos if f"_g0{k}_" in v))
    classes, listed, membership = read_all_splits(str(tmp_path))
    assert classes == ["A", "B"] and sorted(v.path for v in listed) == sorted(videos)
    for video, row in zip(listed, membership):
        assert row == [2 if f"_g0{k}_" in video.path else 1 for k in (1, 2, 3)]
    with open(tmp_path / "testlist02.txt", "a") as f:
        f.write(videos[0] + "\n")                       # also in trainlist02
    with pytest.raises(SplitFileError, match="listed twice in split 2"):
        read_all_splits(str(tmp_path))
