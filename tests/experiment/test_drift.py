"""The drift ledger's command (experiment/studies/drift.py): its failures in one line, its work
folder's leftovers removed."""
import pytest

from caffe_extract.pycaffe import CaffeUnavailable
from experiment.studies import drift as D
from experiment.train.loop import NonFiniteLoss

from .test_stores_together import one_line_error


def drift_failing_with(error, tmp_path, monkeypatch):
    """The exit status of ``python -m experiment.studies.drift`` into ``tmp_path`` whose ledger
    raises ``error`` once the command has claimed its folders."""
    def fails(args):
        raise error

    monkeypatch.setattr(D, "run", fails)
    weights = tmp_path / "w.caffemodel"
    weights.write_bytes(b"w")
    return D.main(["--videos", str(tmp_path), "--splits", str(tmp_path), "--work",
                   str(tmp_path / "work"), "--out", str(tmp_path / "out"), "--weights",
                   str(weights), "--no-progress"])


@pytest.mark.parametrize("error, says", [(NonFiniteLoss("rnn's loss is nan at epoch 3"), "nan"),
                                         (CaffeUnavailable("no module named caffe"), "caffe")])
def test_drift_says_a_diverged_run_or_a_missing_caffe_in_one_line(tmp_path, capsys, monkeypatch,
                                                                  error, says):
    """Errors the engine and the extraction say in one line, drift too (they once escaped its
    guard as a traceback: a NonFiniteLoss is an ArithmeticError, CaffeUnavailable an ImportError)."""
    one_line_error(capsys, drift_failing_with(error, tmp_path, monkeypatch), says)


def test_a_killed_save_s_part_in_the_work_folder_is_removed(tmp_path, monkeypatch, capsys):
    """The ledger's runs checkpoint under WORK/runs/NAME/: a part a kill left there goes at the
    next run, as in the results folders (only those were swept)."""
    part = tmp_path / "work" / "runs" / "paper" / "checkpoints" / "rnn-seed0.pt.9.tmp"
    part.parent.mkdir(parents=True)
    part.write_bytes(b"half a checkpoint")
    code = drift_failing_with(ValueError("stopped after the claims"), tmp_path, monkeypatch)
    one_line_error(capsys, code, "stopped after the claims")
    assert not part.exists() and part.parent.is_dir()
