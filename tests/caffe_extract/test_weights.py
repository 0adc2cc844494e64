"""Downloading the CaffeNet weights: SHA1 verified, wrong files refused, no network fails fast."""
import hashlib
import os
import time

import pytest

from caffe_extract import weights


def test_download_verifies_and_installs(http_host, tmp_path):
    root, url = http_host
    payload = os.urandom(3_000_000)
    (root / "net.caffemodel").write_bytes(payload)
    dest = tmp_path / "models" / "net.caffemodel"
    sha1 = hashlib.sha1(payload).hexdigest()
    assert weights.download(dest, f"{url}/net.caffemodel", sha1, progress=False) == str(dest)
    assert dest.read_bytes() == payload and not os.path.exists(str(dest) + ".part")
    (root / "net.caffemodel").unlink()  # a verified file is not downloaded again
    assert weights.download(dest, f"{url}/net.caffemodel", sha1, progress=False) == str(dest)


def test_wrong_file_is_refused_and_deleted(http_host, tmp_path):
    root, url = http_host
    (root / "net.caffemodel").write_bytes(b"<html>a proxy's error page</html>")
    dest = tmp_path / "net.caffemodel"
    with pytest.raises(weights.WeightsError, match="refused"):
        weights.download(dest, f"{url}/net.caffemodel", "0" * 40, progress=False)
    assert not dest.exists() and not os.path.exists(str(dest) + ".part")


def test_existing_file_with_wrong_sha1_is_an_error(tmp_path):
    dest = tmp_path / "net.caffemodel"
    dest.write_bytes(b"half a download")
    with pytest.raises(weights.WeightsError, match="partial download or another file"):
        weights.download(dest, "http://127.0.0.1:9/unused", "0" * 40, progress=False)


def test_unreachable_host_fails_fast_with_instructions(tmp_path, capsys):
    start = time.monotonic()
    code = weights.main(["--dest", str(tmp_path / "m.caffemodel"),
                         "--url", "http://127.0.0.1:9/bvlc_reference_caffenet.caffemodel"])
    assert code == 1 and time.monotonic() - start < 10
    err = capsys.readouterr().err
    assert "cannot download" in err and weights.SHA1 in err and str(tmp_path / "m.caffemodel") in err


def test_the_official_sha1_and_url():
    assert weights.SHA1 == "4c8d77deb20ea792f84eb5e6d0a11ca0a8660a46"
    assert weights.URL.endswith("/bvlc_reference_caffenet.caffemodel")


@pytest.mark.parametrize("module, option", [("weights", "--dest"), ("data", "--root")])
def test_a_full_disk_while_downloading_is_one_line(module, option, tmp_path, monkeypatch, capsys):
    """Both download commands say a full disk in one line, how to resume included (the
    commands' one error wrapper), instead of a traceback."""
    import errno
    import importlib

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "part"))

    command = importlib.import_module(f"caffe_extract.{module}")
    monkeypatch.setattr(command, "download", full)
    assert command.main([option, str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: cannot write {tmp_path / 'part'}: No space left on device (disk full "
                   "or file-size limit); free space and rerun the same command: it resumes where "
                   "it stopped"]


def test_a_full_disk_mid_download_is_not_an_unreachable_host(http_host, tmp_path, monkeypatch,
                                                             capsys):
    """The disk's error part-way through a download names the partial file and says how to
    resume; it was reported as the host's, with the "download it elsewhere" hint."""
    import errno

    from caffe_extract import download

    class FullDisk:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def write(self, block):
            raise OSError(errno.ENOSPC, "No space left on device")

    root, url = http_host
    (root / "net.caffemodel").write_bytes(os.urandom(100_000))
    monkeypatch.setattr(download, "open", lambda path, mode: FullDisk(), raising=False)
    dest = tmp_path / "m.caffemodel"
    assert weights.main(["--dest", str(dest), "--url", f"{url}/net.caffemodel"]) == 1
    err = capsys.readouterr().err
    assert [line for line in err.splitlines() if "error" in line] == [
        f"error: cannot write {dest}.part: No space left on device (disk full or file-size "
        "limit); free space and rerun the same command: it resumes where it stopped"]
    assert "Traceback" not in err and "cannot download" not in err
