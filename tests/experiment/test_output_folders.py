"""One results folder, one command (experiment/train/outputs.py; issue 30, item 3): no command
writes into a folder that holds another command's results or that it reads from; the refusal is
one line naming the folder to use; rerunning a command into its own folder still resumes."""
import json
import os
import subprocess

import numpy as np
import pytest

from experiment.future import augment as A
from experiment.studies import drift as D
from experiment.future import finetune as FT
from experiment.future import study as F
from experiment import train as T
from experiment.train import outputs as O

from . import crafted_stores as crafted
from .test_stores_together import CLASSES, rows

TINY = ["--hidden", "4", "--lr", "0.01", "--epochs", "1", "--seeds", "2", "--no-progress"]


@pytest.fixture(scope="module")
def features(tmp_path_factory):
    """Toy fc7 codes of all splits (group 1 test, 2-7 train), with an extractor's provenance."""
    folder = tmp_path_factory.mktemp("features")
    videos, labels, groups = rows()
    codes = np.random.default_rng(0).random((len(videos), 10, 4096), np.float32)
    codes[np.arange(len(videos)), :, np.asarray(labels)] += 3.0
    membership = np.where(np.asarray(groups) == 1, 2, 1)[:, None].repeat(3, axis=1)
    crafted.write(folder / "all_splits_fc7.h5", codes, labels, videos, groups, CLASSES, membership)
    return folder


@pytest.fixture(scope="module")
def main_table(features, tmp_path_factory):
    """A main table as `make demo` leaves it: experiment.train's table.json and runs."""
    out = tmp_path_factory.mktemp("runs") / "demo-paper"
    assert T.main(["--features", str(features), "--out", str(out), "--models", "average",
                   "--patience", "0", "--device", "cpu"] + TINY) == 0
    return out


def one_line_error(capsys, code, *says):
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and err and err[-1].startswith("error: "), err
    for text in says:
        assert text in err[-1], (text, err[-1])
    return err[-1]


def snapshot(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def test_future_into_the_main_table_s_folder_is_refused_and_nothing_is_overwritten(
        features, main_table, capsys):
    """The hidden check: `--out` the main table's folder once wrote the future table over the
    table.json that fine-tuning reads (its "models"), with exit 0."""
    before = snapshot(main_table)
    code = F.main(["--features", str(features), "--main", str(main_table), "--out",
                   str(main_table), "--parts", "tconv"] + TINY)
    one_line_error(capsys, code, f"--out {main_table} is also --main",
                   f"--out {main_table}-future")
    assert snapshot(main_table) == before
    assert "models" in json.loads((main_table / "table.json").read_text())


def test_future_into_another_train_folder_is_refused(features, main_table, tmp_path, capsys):
    other = tmp_path / "other-train"
    other.mkdir()
    (other / "table.json").write_text(json.dumps({"models": [], "settings": {}}))  # an older run
    before = snapshot(other)
    code = F.main(["--features", str(features), "--main", str(main_table), "--out", str(other),
                   "--parts", "tconv"] + TINY)
    one_line_error(capsys, code, f"{other} holds the results of python -m experiment.train",
                   f"--out {other}-future")
    assert snapshot(other) == before


def test_train_into_a_future_folder_is_refused(features, tmp_path, capsys):
    future = tmp_path / "demo-future"
    future.mkdir()
    (future / "table.json").write_text(json.dumps({"rows": [], "reference": "x"}))
    before = snapshot(future)
    code = T.main(["--features", str(features), "--out", str(future), "--models", "average"]
                  + TINY)
    one_line_error(capsys, code, "holds the results of python -m experiment.future",
                   f"--out {future}-train")
    assert snapshot(future) == before


def test_finetune_into_its_init_folder_is_refused(features, main_table, capsys, tmp_path):
    before = snapshot(main_table)
    weights = tmp_path / "w.caffemodel"
    weights.write_bytes(b"w")
    code = FT.main(["--features", str(features), "--init", str(main_table), "--out",
                    str(main_table), "--weights", str(weights), "--device", "cpu",
                    "--no-progress"])
    one_line_error(capsys, code, f"--out {main_table} is also --init")
    assert snapshot(main_table) == before


def test_a_future_folder_given_as_the_main_table_is_refused(features, tmp_path, capsys):
    future = tmp_path / "demo-future"
    future.mkdir()
    (future / O.MARKER).write_text(json.dumps({"command": "python -m experiment.future"}))
    code = F.main(["--features", str(features), "--main", str(future), "--out",
                   str(tmp_path / "new"), "--parts", "tconv"] + TINY)
    one_line_error(capsys, code, f"--main {future} holds the results of python -m "
                   "experiment.future, not of python -m experiment.train")


@pytest.mark.parametrize("command", ["augment", "drift"])
def test_the_other_writers_refuse_a_train_folder(main_table, features, tmp_path, capsys, command):
    before = snapshot(main_table)
    weights = tmp_path / "w.caffemodel"
    weights.write_bytes(b"w")
    if command == "augment":
        code = A.main(["--features", str(features), "--out", str(main_table), "--no-progress"])
    else:
        code = D.main(["--videos", str(tmp_path), "--splits", str(tmp_path), "--work",
                       str(tmp_path / "work"), "--out", str(main_table), "--weights", str(weights),
                       "--no-progress"])
    one_line_error(capsys, code, "holds the results of python -m experiment.train",
                   f"{main_table}-{command}")
    assert snapshot(main_table) == before


def test_drift_s_refusals_of_its_work_folder_name_work(main_table, tmp_path, capsys):
    """drift claims --work as well as --out; a refusal of --work told the user to give "another
    --out", the option that was not the trouble."""
    weights = tmp_path / "w.caffemodel"
    weights.write_bytes(b"w")
    work, args = tmp_path / "work", ["--videos", str(tmp_path), "--splits", str(tmp_path),
                                     "--weights", str(weights), "--no-progress"]
    with O.claimed(str(work), "experiment.studies.drift", option="--work"):
        code = D.main(args + ["--work", str(work), "--out", str(tmp_path / "a")])
        one_line_error(capsys, code, f"another command is writing {work} now",
                       "(another --work)")
    code = D.main(args + ["--work", str(main_table), "--out", str(tmp_path / "b")])
    one_line_error(capsys, code, "holds the results of python -m experiment.train",
                   f"(e.g. --work {main_table}-drift)")


def test_a_folder_recorded_by_another_command_is_refused(features, tmp_path, capsys):
    out = tmp_path / "crops"
    out.mkdir()
    (out / O.MARKER).write_text(json.dumps({"command": "python -m experiment.future.augment"}))
    code = T.main(["--features", str(features), "--out", str(out), "--models", "average"] + TINY)
    one_line_error(capsys, code, "holds the results of python -m experiment.future.augment")


def test_rerunning_a_command_into_its_own_folder_resumes(features, main_table, tmp_path):
    """The main table's folder records experiment.train (a file of its own: table.json keeps
    its keys, as make demo's digest needs); a rerun is welcome, and so is a rerun into a folder
    an older experiment.train wrote before folders kept the record."""
    assert json.loads((main_table / O.MARKER).read_text()) == {
        "command": "python -m experiment.train"}
    table = json.loads((main_table / "table.json").read_text())
    assert "written_by" not in table and "command" not in table
    older = tmp_path / "older"
    older.mkdir()
    (older / "table.json").write_text(json.dumps({"models": []}))
    assert O.claim(str(older), "experiment.train") == str(older)
    assert O.claim(str(main_table), "experiment.train", {"--features": "elsewhere"})
    assert O.recognise(str(older)) == "experiment.train"


def test_a_command_that_fails_before_writing_leaves_no_claim(tmp_path):
    """A refused command once left written-by.json in a new --out, so that the folder then
    refused every other command. Failing before writing, it leaves the folder as it found it;
    once it wrote something, the record stays with what it wrote."""
    new, kept, wrote = tmp_path / "new", tmp_path / "kept", tmp_path / "wrote"
    kept.mkdir()
    (kept / "notes.txt").write_text("the user's")
    for folder in (new, kept, wrote):
        with pytest.raises(O.OutputFolderError, match="refused"):
            with O.claimed(str(folder), "experiment.future"):
                assert O.recognise(str(folder)) == "experiment.future"
                if folder == wrote:
                    (folder / "table.json").write_text("{}")
                raise O.OutputFolderError("refused")
    assert not new.exists()
    assert sorted(p.name for p in kept.iterdir()) == ["notes.txt"]
    assert O.recognise(str(wrote)) == "experiment.future" and (wrote / O.MARKER).is_file()
    with O.claimed(str(new), "experiment.future"):
        pass
    assert O.recognise(str(new)) == "experiment.future"


def test_a_second_command_into_a_folder_being_written_is_refused(features, tmp_path, capsys):
    """Two experiment.train commands into one new --out at once both passed the check of the
    table they would replace (none yet): one's table replaced the other's, exit 0 (audit 7).
    The folder is held for a command's whole work: the second is refused before it trains, and
    does not take back the first one's claim. A cluster stage's tasks share it."""
    out = tmp_path / "out"
    with O.claimed(str(out), "experiment.train"):
        assert T.main(["--features", str(features), "--out", str(out), "--models", "average",
                       "--device", "cpu"] + TINY) == 1
        assert f"error: another command is writing {out} now" in capsys.readouterr().err
        assert sorted(p.name for p in out.iterdir()) == [O.MARKER]
        with pytest.raises(O.OutputFolderError, match="another command is writing"):
            with O.claimed(str(out), "experiment.train", shared=True):
                pass
    with O.claimed(str(out), "experiment.train", shared=True), \
            O.claimed(str(out), "experiment.train", shared=True):
        with pytest.raises(O.OutputFolderError, match="another command is writing"):
            with O.claimed(str(out), "experiment.train"):
                pass


def test_a_killed_write_s_part_is_removed_by_the_next_command(tmp_path):
    """``replacing`` writes NAME.PID.tmp, then renames it; a kill -9 between leaves the part
    (650 MB for a fine-tuned network's checkpoint), which no rerun removed but in a
    checkpoints/ folder; a table's or a log's nowhere. The future study's parts lie
    two and three folders down (crops/oversample/, pretrain/fraction-F/MODEL/). Not removed: a
    file ending in .tmp that is no part, a part whose process still runs, and a subfolder of
    another command's results (its own record): that is its command's to sweep."""
    out, dead = tmp_path / "out", _ended_pid()
    for part in (f"checkpoints/rnn-seed0.pt.{dead}.tmp",
                 f"flow/checkpoints/rnn-seed0.pt.{dead}.tmp",
                 f"crops/oversample/checkpoints/rnn-seed0.pt.{dead}.tmp",
                 f"pretrain/fraction-0.25/lstm/checkpoints/lstm-seed0.pt.{dead}.tmp",
                 f"table.md.{dead}.tmp", f"logs/rnn-seed0.log.{dead}.tmp",
                 f"other/{O.MARKER}", f"other/checkpoints/rnn-seed0.pt.{dead}.tmp",
                 f"table.json.{os.getpid()}.tmp", "notes.tmp", "checkpoints/rnn-seed0.pt"):
        (out / part).parent.mkdir(parents=True, exist_ok=True)
        (out / part).write_text("x")
    with O.claimed(str(out), "experiment.future"):
        pass
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == \
        ["checkpoints/rnn-seed0.pt", "notes.tmp", f"other/checkpoints/rnn-seed0.pt.{dead}.tmp",
         f"other/{O.MARKER}", f"table.json.{os.getpid()}.tmp", O.MARKER]


def test_a_refused_command_leaves_no_record_where_it_swept_a_part(tmp_path):
    """A folder that held only a killed write's part: the claim sweeps it, and a command
    refused then must still take its record back (it compared the folder with the one it found,
    part included, and kept the record, so that every other command was refused there)."""
    out = tmp_path / "out"
    out.mkdir()
    (out / f"bench.md.{_ended_pid()}.tmp").write_text("x")
    with pytest.raises(O.OutputFolderError, match="refused"):
        with O.claimed(str(out), "experiment.future"):
            raise O.OutputFolderError("refused")
    assert list(out.iterdir()) == []


def _ended_pid():
    """The PID of a process that has ended (as a killed writer's)."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_what_an_older_folder_holds_is_recognised_by_its_files(tmp_path):
    assert O.recognise(str(tmp_path)) is None
    (tmp_path / "table.json").write_text('{"written": "by an earlier run"}')
    assert O.recognise(str(tmp_path)) is None                     # not a known table: allowed
    (tmp_path / "table.json").write_text('{"splits": [1, 2], "test_acc": {}}')
    assert O.recognise(str(tmp_path)) == "experiment.train"
    (tmp_path / "table.json").unlink()
    (tmp_path / "drift.json").write_text("{}")
    assert O.recognise(str(tmp_path)) == "experiment.studies.drift"
    (tmp_path / "drift.json").unlink()
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "birnn-finetune-paper-h8-lr0.003-x0.1-seed0.pt").write_bytes(b"")
    assert O.recognise(str(tmp_path)) == "experiment.future.finetune"
    (tmp_path / O.MARKER).write_text("not json")
    with pytest.raises(O.OutputFolderError, match="damaged"):
        O.recognise(str(tmp_path))


@pytest.mark.parametrize("other, says", [(["--models", "rnn"], "(models ['average'] there, "
                                                               "['rnn'] here)"),
                                         (["--config", "nntools-2015"], "(config 'paper' there, "
                                                                        "'nntools-2015' here)"),
                                         (["--seeds", "3"], "(seeds 2 there, 3 here)"),
                                         (["--splits", "1", "2"], "(splits [1] there, [1, 2] here)")])
def test_a_table_of_other_settings_is_not_replaced(features, main_table, capsys, other, says):
    """A rerun into a results folder with other settings (another model list, configuration,
    number of seeds, splits) once replaced its table with exit 0, the main table's rows lost
    (both configurations' runs "can share a folder", their tables could not): refused before
    any training, the folder as it was; the same command still rewrites it."""
    before = snapshot(main_table)
    argv = ["--features", str(features), "--out", str(main_table), "--models", "average",
            "--patience", "0", "--device", "cpu"] + TINY
    one_line_error(capsys, T.main(argv + other), f"{main_table}/table.json is the table of "
                   f"other settings {says}, which this command would replace: give another --out")
    assert snapshot(main_table) == before
    assert T.main(argv) == 0
    assert {k: v for k, v in snapshot(main_table).items() if k.startswith("checkpoints")} == \
        {k: v for k, v in before.items() if k.startswith("checkpoints")}
