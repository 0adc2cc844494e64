"""``common.files``: a write cut short (an error, Ctrl-C) leaves the old file and no part; the
reports are written through it."""
import argparse
import errno
import json
import os
import subprocess
import sys

import pytest

from common import cli
from common.files import is_stale_part, replacing, write_atomic


def test_a_whole_write_replaces_the_file(tmp_path):
    path = tmp_path / "table.md"
    path.write_text("old\n")
    write_atomic(str(path), "new\n")
    write_atomic(str(tmp_path / "blob"), b"\x00\x01", sync=True)
    assert path.read_text() == "new\n" and (tmp_path / "blob").read_bytes() == b"\x00\x01"
    assert sorted(os.listdir(tmp_path)) == ["blob", "table.md"]


@pytest.mark.parametrize("stop", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_a_write_cut_short_keeps_the_old_file_and_leaves_no_part(tmp_path, stop):
    path = tmp_path / "table.json"
    path.write_text('{"old": 1}')
    with pytest.raises(type(stop)):
        with replacing(str(path)) as partial, open(partial, "w") as f:
            f.write('{"new": ')               # half of it, then the disk fills or Ctrl-C
            raise stop
    assert json.loads(path.read_text()) == {"old": 1} and os.listdir(tmp_path) == ["table.json"]


def test_a_link_is_written_through_and_a_device_in_place(tmp_path):
    """A link's file is replaced, not the link (the link would have become a file beside a stale
    one); a device is written to, never replaced (as root, ``--out /dev/stdout`` would have put
    a file in /dev in place of the link)."""
    (tmp_path / "results").mkdir()
    (tmp_path / "table.md").symlink_to(tmp_path / "results" / "table.md")
    (tmp_path / "null").symlink_to("/dev/null")
    write_atomic(str(tmp_path / "table.md"), "new\n")
    write_atomic(str(tmp_path / "null"), "into /dev/null\n")
    assert (tmp_path / "table.md").is_symlink() and (tmp_path / "null").is_symlink()
    assert (tmp_path / "results" / "table.md").read_text() == "new\n"
    assert sorted(os.listdir(tmp_path)) == ["null", "results", "table.md"]
    assert os.listdir(tmp_path / "results") == ["table.md"]


def test_a_device_is_an_output_in_a_folder_the_user_cannot_write(tmp_path, monkeypatch):
    """``--out /dev/stdout`` as a user, whom /dev does not let write (a file beside it is
    refused there: its part could not be made); it was refused as "cannot be created"."""
    monkeypatch.setattr(cli.os, "access", lambda path, mode: not os.path.isdir(path))
    assert cli.writable_file("/dev/null") == "/dev/null"
    with pytest.raises(argparse.ArgumentTypeError, match="cannot be created: .* is not writable"):
        cli.writable_file(str(tmp_path / "table.md"))


def test_a_link_needs_the_folder_of_the_file_it_names_writable(tmp_path, monkeypatch):
    """Through a link the part is made beside the file the link names (``replacing``): that
    folder must be writable, not the link's (``--out /dev/stdout > t.md`` as a user)."""
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "t.md").write_text("")
    (tmp_path / "t.md").symlink_to(locked / "t.md")
    monkeypatch.setattr(cli.os, "access", lambda path, mode: os.path.realpath(path) != str(
        locked.resolve()))
    with pytest.raises(argparse.ArgumentTypeError, match="locked is not writable"):
        cli.writable_file(str(tmp_path / "t.md"))


def test_a_part_is_stale_only_when_its_writer_has_ended_here(monkeypatch):
    """``PATH.PID.tmp`` whose process has ended is a kill -9's leftover. Kept: a running
    writer's part (this process's; another user's, which only refuses the signal), a shard's
    (its extraction's to sweep), and names that are no part at all."""
    ended = subprocess.Popen(["true"])
    ended.wait()
    assert is_stale_part(f"table.md.{ended.pid}.tmp")
    assert not is_stale_part(f"table.md.{os.getpid()}.tmp")
    assert not is_stale_part(f"all_splits_fc7.h5.shard0of2.{ended.pid}.tmp")
    for name in ("notes.tmp", f".{ended.pid}.tmp", "a..tmp", "x.\u00b2.tmp",
                 f"table.md.{ended.pid}", f"table.md.{10 ** 30}.tmp"):
        assert not is_stale_part(name), name

    def another_user_s(pid, signal):
        raise PermissionError(1, "Operation not permitted")
    monkeypatch.setattr(os, "kill", another_user_s)
    assert not is_stale_part(f"table.md.{ended.pid}.tmp")


def test_a_report_cut_short_keeps_the_tables_it_had(tmp_path):
    """A full disk (here a file-size limit) while a results folder's tables are rewritten: the
    earlier table.md and table.json stay whole (written in place, they were left cut short)."""
    old = {"table.md": "| old |\n", "table.json": '{"models": []}'}
    for name, text in old.items():
        (tmp_path / name).write_text(text)
    script = f"""
import resource, signal
from experiment.analysis import report
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
results = [{{"model": "rnn", "test_acc_mean": 0.5}}] * 400
try:
    report.write_split_summary({str(tmp_path)!r}, [(1, results, {{"attrs": {{}}}})], {{}},
                               report.get("paper"))
except OSError as error:
    print(error.errno)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert done.stdout.strip() == str(errno.EFBIG), done.stderr[-2000:]
    assert {name: (tmp_path / name).read_text() for name in old} == old
    assert sorted(os.listdir(tmp_path)) == sorted(old)
