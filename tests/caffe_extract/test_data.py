"""Getting UCF-101: resumable verified downloads, safe unpacking, clear failures."""
import hashlib
import os
import time
import zipfile

import pytest

from caffe_extract import data


def test_download_resumes_a_partial_file(http_host, tmp_path):
    root, url = http_host
    payload = os.urandom(2_000_000)
    (root / "UCF101.rar").write_bytes(payload)
    dest = tmp_path / "UCF101.rar"
    (tmp_path / "UCF101.rar.part").write_bytes(payload[:700_000])  # an interrupted download
    data.download(f"{url}/UCF101.rar", str(dest), hashlib.sha256(payload).hexdigest(), progress=False)
    assert dest.read_bytes() == payload and not (tmp_path / "UCF101.rar.part").exists()


def test_download_refuses_a_wrong_checksum(http_host, tmp_path):
    root, url = http_host
    (root / "splits.zip").write_bytes(b"not the split file")
    with pytest.raises(data.DataError, match="refused"):
        data.download(f"{url}/splits.zip", str(tmp_path / "splits.zip"), "0" * 64, progress=False)
    assert not list(tmp_path.glob("splits.zip*"))


def test_unreachable_host_fails_fast_with_instructions(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(data.SPLITS, "url", "http://127.0.0.1:9/splits.zip")
    start = time.monotonic()
    assert data.main(["--root", str(tmp_path)]) == 1
    assert time.monotonic() - start < 10
    err = capsys.readouterr().err
    assert "cannot download http://127.0.0.1:9/splits.zip" in err
    assert f"put it at {tmp_path}" in err


@pytest.mark.parametrize("name", ["../evil.txt", "/etc/evil", "ok/../../evil"])
def test_unpacking_refuses_paths_outside_the_target(tmp_path, name):
    archive = tmp_path / "bad.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("ucfTrainTestlist/classInd.txt", "1 A\n")
        z.writestr(name, "x")
    target = tmp_path / "out"
    with pytest.raises(data.DataError, match="outside"):
        data.unpack_zip(archive, target)
    assert not (tmp_path / "evil.txt").exists() and not target.exists()


def test_safe_members_accepts_a_normal_tree(tmp_path):
    data.safe_members(["UCF-101/ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi", "UCF-101/"], tmp_path)


def test_verify_videos_finds_an_incomplete_tree(tmp_path):
    (tmp_path / "UCF-101" / "ApplyEyeMakeup").mkdir(parents=True)
    (tmp_path / "UCF-101" / "ApplyEyeMakeup" / "v_ApplyEyeMakeup_g01_c01.avi").write_bytes(b"")
    with pytest.raises(data.DataError, match="1 class folders and 1 videos, expected 101 and 13320"):
        data.verify_videos(tmp_path / "UCF-101", tmp_path)


def test_no_unar_and_no_apt_get_says_what_to_install(tmp_path, monkeypatch):
    """Without unar and without apt-get (or sudo) to install it: the DataError naming unar, not
    "apt-get: No such file or directory"."""
    def no_such_program(command, *args, **kwargs):
        assert command == [data.APT_INSTALL, "unar"] and os.access(command[0], os.X_OK)
        raise FileNotFoundError(2, "No such file or directory", "apt-get")

    monkeypatch.setattr(data.shutil, "which", lambda name: None)
    monkeypatch.setattr(data.subprocess, "run", no_such_program)
    with pytest.raises(data.DataError, match="need the 'unar' tool"):
        data.unpack_rar(str(tmp_path / "UCF101.rar"), str(tmp_path))


def test_an_unpack_cut_short_is_not_taken_for_a_whole_one(tmp_path, monkeypatch):
    """Ctrl-C part-way through unpacking left data/UCF-101 half full, and every rerun skipped
    the unpack and failed its count ("incomplete or not UCF-101"); now the rerun unpacks again."""
    archive = tmp_path / "splits.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("ucfTrainTestlist/classInd.txt", "1 ApplyEyeMakeup\n")
        z.writestr("ucfTrainTestlist/trainlist01.txt", "")
    real = data.unpack_zip

    def cut_short(path, target):
        real(path, target)
        os.remove(os.path.join(target, "ucfTrainTestlist", "trainlist01.txt"))
        raise KeyboardInterrupt

    folder = str(tmp_path / "ucfTrainTestlist")
    with pytest.raises(KeyboardInterrupt):
        data.unpack_whole(cut_short, str(archive), folder)
    assert not os.path.exists(folder)
    data.unpack_whole(data.unpack_zip, str(archive), folder)
    assert sorted(os.listdir(folder)) == ["classInd.txt", "trainlist01.txt"]
    assert sorted(os.listdir(tmp_path)) == ["splits.zip", "ucfTrainTestlist"]
