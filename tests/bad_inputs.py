"""The bad-input corpus's shared helpers. The corpus: every input a user hands us, broken in the
ways files break.

It is split per command: the extraction's cases (videos, split files, caffemodels, the
extraction's command line, codes that are not finite at extraction, merges of shards that do not
belong together) in tests/caffe_extract/test_bad_inputs_extract.py; the training's (HDF5 stores,
checkpoints, its usage errors, store contents: codes that are not finite, labels and class counts
off by one) in tests/experiment/test_bad_inputs_train.py; every numeric option and path of every
command (issue 18) in tests/test_bad_inputs_every_command.py, with the corpus's size. Every case
is made at run time and asserts its outcome, which is one of:

- **error**: the command exits non-zero with one line on stderr, ``error: ...``, naming the
  file (or option) and what is wrong; never a traceback (the commands run in-process, so an
  unexpected exception fails the test);
- **skip**: the video is left out of the store, with its reason recorded (``failed_reason``);
- **warn**: the video is kept, with a warning recorded (``warning``: damaged, declared vs
  decoded frames) and counted in the end-of-run summary;
- **ok**: the input is valid after all (a one-frame clip, another container under .avi) and
  its codes are in the store.

docs/reliability.md's table is the corpus's table: the ``*_CASES`` tables list each case and its
outcome.
"""
import numpy as np

from caffe_extract.store import write_store


def one_line_error(capsys, code, *names):
    """Assert the outcome "error": non-zero exit, one error line naming each of ``names``."""
    err = capsys.readouterr().err
    assert code not in (0, None), err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for name in names:
        assert name in lines[0], (name, lines[0])
    return lines[0]


def run_cli(main, argv):
    """The exit code of a command run in-process: its return value, or argparse's exit."""
    try:
        return main(argv)
    except SystemExit as exit_:
        return exit_.code


def snapshot(folder):
    """Every file under ``folder`` with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def lost(before, folder):
    """The files of ``before`` (a snapshot) that are gone or changed: nothing already written
    may be lost, whatever the error."""
    after = snapshot(folder)
    return sorted(name for name, data in before.items() if after.get(name) != data)


AS_ROOT = "running as root: every file is readable and writable, so a permission error cannot be made"


def toy_records(n=12, d=8, seed=0):
    rng = np.random.default_rng(seed)
    return {"features": rng.random((n, 10, d), np.float32), "labels": np.arange(n) % 2,
            "video": [f"C{i % 2}/v_C{i % 2}_g{i // 2 + 1:02d}_c01.avi" for i in range(n)],
            "group": np.arange(n) // 2 + 1, "frame_times": np.tile(np.arange(10) * 0.2, (n, 1))}


ATTRS = {"weights": "x.caffemodel", "weights_sha1": "a" * 40, "layer": "fc7", "split": 1,
         "preprocessing": "p", "sampler": "s", "decoder": "pyav", "config": "paper",
         "splits_sha1": "b" * 40}


def stores(folder, train_attrs=None, test_attrs=None, test_classes=("C0", "C1")):
    write_store(folder / "split1_train_fc7.h5", toy_records(), [], ["C0", "C1"], {**ATTRS, **(train_attrs or {})})
    write_store(folder / "split1_test_fc7.h5", toy_records(8, seed=1), [], list(test_classes),
                {**ATTRS, **(test_attrs or {})})
