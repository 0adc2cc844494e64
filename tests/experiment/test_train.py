"""Training and evaluation: learning, determinism, resume after a kill, the results files."""
import csv
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from rnn_models import build

from caffe_extract.store import write_store
from experiment import train as T
from experiment.train import checkpoints

N_CLASSES, D = 4, 32


def toy_store(path, n_per_group, groups, seed):
    """Codes in which the class shows as a prototype pattern plus noise."""
    rng = np.random.default_rng(seed)
    features, labels, videos, group = [], [], [], []
    prototypes = np.random.default_rng(123).normal(0, 1, (N_CLASSES, D)).astype(np.float32)
    for g in groups:
        for c in range(N_CLASSES):
            for k in range(n_per_group):
                x = np.abs(rng.normal(0, 0.3, (10, D))).astype(np.float32)
                x += np.abs(prototypes[c])
                features.append(x)
                labels.append(c)
                videos.append(f"C{c}/v_C{c}_g{g:02d}_c{k + 1:02d}.avi")
                group.append(g)
    records = {"features": np.stack(features), "labels": labels, "video": videos, "group": group,
               "frame_times": np.tile(np.arange(10) * 0.2, (len(labels), 1))}
    write_store(path, records, [], [f"C{c}" for c in range(N_CLASSES)],
                {"weights": "RANDOM weights (seed 0): test", "layer": "fc7"})


@pytest.fixture(scope="module")
def features(tmp_path_factory):
    folder = tmp_path_factory.mktemp("features")
    toy_store(folder / "split1_train_fc7.h5", 3, range(8, 16), seed=0)
    toy_store(folder / "split1_test_fc7.h5", 2, range(1, 4), seed=1)
    return folder


def test_load_data_carves_validation_by_groups(features):
    train, val, test, info = T.load_data(str(features), val_groups=2)
    assert len(val.y) == 2 * 3 * N_CLASSES and len(train.y) == 6 * 3 * N_CLASSES
    assert len(test.y) == 3 * 2 * N_CLASSES and len(info["val_groups"]) == 2
    assert train.x.dtype == torch.float32 and train.x.shape[1:] == (10, D)


@pytest.mark.parametrize("model", ["average", "rnn", "lstm", "birnn", "tconv"])
def test_loss_falls_and_accuracy_beats_chance(features, tmp_path, model):
    train, val, _, _ = T.load_data(str(features), val_groups=2)
    config = T.RunSettings(model=model, hidden_dim=16, lr=0.003, epochs=15, batch_size=16)
    record = T.train_run(config, train, val, N_CLASSES, str(tmp_path), progress=False)
    history = record["history"]
    assert history[-1]["train_loss"] < 0.5 * history[0]["train_loss"]
    assert record["best"]["val_acc"] >= 0.9 > 1 / N_CLASSES


def test_checkpoints_are_plain_state_dicts(features, tmp_path):
    train, val, _, _ = T.load_data(str(features), val_groups=2)
    config = T.RunSettings(model="rnn", hidden_dim=8, epochs=2, batch_size=16)
    T.train_run(config, train, val, N_CLASSES, str(tmp_path), progress=False)
    saved = torch.load(tmp_path / "checkpoints" / f"{config.run_id()}.pt", weights_only=True)
    assert saved["epoch"] == 2 and set(saved["model"]) >= {"W_ih", "W_hh", "W_s"}
    assert len((tmp_path / "logs" / f"{config.run_id()}.jsonl").read_text().splitlines()) == 2


def test_saved_after_the_last_epoch_and_mid_run_when_the_interval_passed(features, tmp_path,
                                                                         monkeypatch):
    """A run is saved after its last epoch; before it, only when TRAIN_CHECKPOINT_SECONDS have
    passed since the previous save (0: every epoch). A bad value is a clear error."""
    train, val, _, _ = T.load_data(str(features), val_groups=2)
    config = T.RunSettings(model="rnn", hidden_dim=8, epochs=3, batch_size=16)
    saved, real = [], T.atomic_save
    monkeypatch.setattr(checkpoints, "atomic_save", lambda obj, path: (saved.append(obj["epoch"]),
                                                              real(obj, path)))
    for seconds, epochs in (("1000", [3]), ("0", [1, 2, 3])):
        monkeypatch.setenv("TRAIN_CHECKPOINT_SECONDS", seconds)
        saved.clear()
        T.train_run(config, train, val, N_CLASSES, str(tmp_path / seconds), progress=False)
        assert saved == epochs
    monkeypatch.setenv("TRAIN_CHECKPOINT_SECONDS", "1000")
    stopping = T.RunSettings(model="rnn", hidden_dim=8, epochs=40, patience=1, batch_size=16)
    saved.clear()
    record = T.train_run(stopping, train, val, N_CLASSES, str(tmp_path / "stop"), progress=False)
    assert record["stopped"] and saved == [record["epoch"]] and record["epoch"] < 40
    monkeypatch.setenv("TRAIN_CHECKPOINT_SECONDS", "soon")
    with pytest.raises(ValueError, match="TRAIN_CHECKPOINT_SECONDS='soon': give the seconds"):
        T.train_run(config, train, val, N_CLASSES, str(tmp_path / "bad"), progress=False)


def test_a_resumed_run_keeps_one_timing_per_epoch(features, tmp_path):
    """Epochs trained after the last checkpoint and lost in a crash are trained again: their
    timings (logs/RUN.seconds.jsonl) are dropped, so each epoch keeps one line."""
    train, val, _, _ = T.load_data(str(features), val_groups=2)
    config = T.RunSettings(model="rnn", hidden_dim=8, epochs=3, batch_size=16)
    T.train_run(config, train, val, N_CLASSES, str(tmp_path), progress=False)
    timings = tmp_path / "logs" / f"{config.run_id()}.seconds.jsonl"
    with timings.open("a") as f:          # as if epochs 4 and 5 ran, unsaved, and a crash came
        f.write('{"epoch": 4, "train_s": 0.1}\n{"epoch": 5, "tr')
    T.train_run(config, train, val, N_CLASSES, str(tmp_path), progress=False)      # resumes
    assert [json.loads(line)["epoch"] for line in timings.read_text().splitlines()] == [1, 2, 3]


def command(features, out, epochs=40):
    return [sys.executable, "-m", "experiment.train", "--features", str(features), "--out", str(out),
            "--models", "average", "lstm", "--hidden", "16", "--lr", "0.003", "--seeds", "2",
            "--epochs", str(epochs), "--patience", "0", "--batch-size", "8", "--val-groups", "2",
            "--no-progress"]


def results_of(out):
    data = json.loads((out / "table.json").read_text())
    data["settings"].pop("out")
    return data


def test_deterministic_and_resumable_after_kill(features, tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    assert subprocess.run(command(features, first), capture_output=True).returncode == 0
    child = subprocess.Popen(command(features, second), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env={**os.environ, "TRAIN_CHECKPOINT_SECONDS": "0"})   # mid-run saves
    checkpoints = second / "checkpoints"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and child.poll() is None:
        done = [p for p in checkpoints.glob("lstm*.pt")] if checkpoints.exists() else []
        if done:
            break
        time.sleep(0.02)
    assert child.poll() is None, "training ended before it could be killed"
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert not (second / "table.json").exists()
    result = subprocess.run(command(features, second), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert results_of(first) == results_of(second)


def test_results_files(features, tmp_path):
    out = tmp_path / "results"
    assert T.main(command(features, out, epochs=5)[3:]) == 0
    for name in ("table.md", "table.json", "table.tex", "predictions.csv", "curves.png",
                 "confusion_average.png", "confusion_lstm.png", "per_class.csv", "figure7_pca.png"):
        assert (out / name).stat().st_size > 0, name
    table = (out / "table.md").read_text()
    assert table.startswith("*** RANDOM weights")
    assert "Configuration `paper`" in table
    assert "| Average |" in table and "| 50.5 | 50.0 |" in table
    assert "| LSTM (Lasagne 0.1 output gate) |" in table and "| LSTM |" not in table
    assert "sign-flip permutation test" in table and "Holm" in table    # the rule is named
    assert "| UCF-101 split 1, accuracies near 50% | 3783 | 707 |" in table   # the power section
    assert "groups (class, gNN) and seeds" in (out / "table.tex").read_text()
    tex = (out / "table.tex").read_text()
    assert "\\toprule" in tex and "\\bottomrule" in tex and "LSTM (Lasagne 0.1 output gate)" in tex
    predictions = list(csv.DictReader((out / "predictions.csv").open()))
    assert len(predictions) == 2 * 2 * (3 * 2 * N_CLASSES)   # models x seeds x test videos
    row = predictions[0]
    assert row["model"] == "average" and row["seed"] == "0" and row["video"].endswith(".avi")
    assert row["predicted_label"] == row["top1_label"] and "top4_p" in row
    data = json.loads((out / "table.json").read_text())
    model = data["models"][1]
    assert model["model"] == "lstm" and len(model["runs"]) == 2
    assert set(model) >= {"chosen", "search", "train_acc_mean", "val_acc_std", "test_acc_mean"}
    assert data["banner"] and data["provenance"]["layer"] == "fc7"
    assert data["paper"]["rnn"] == [52.2, 49.1]
    rows = (out / "per_class.csv").read_text().splitlines()
    assert rows[0] == "class,average,lstm" and len(rows) == 1 + N_CLASSES


def test_missing_store_is_a_clear_error(tmp_path, capsys):
    assert T.main(["--features", str(tmp_path)]) == 1
    assert "run the extraction first" in capsys.readouterr().err


def test_three_splits_from_one_store(tmp_path):
    """`--splits 1 2 3` on a store of all splits: each split's own table, and the mean."""
    folder = tmp_path / "features"
    folder.mkdir()
    toy_store(folder / "tmp.h5", 2, range(1, 10), seed=2)
    from caffe_extract.store import read_store
    data = read_store(folder / "tmp.h5")
    membership = np.stack([np.where((data["group"] - 1) // 3 == k, 2, 1) for k in range(3)], axis=1)
    records = {k: data[k] for k in ("features", "labels", "video", "group", "frame_times")}
    write_store(folder / "all_splits_fc7.h5", {**records, "split_membership": membership}, [],
                list(data["classes"]), data["attrs"])
    out = tmp_path / "results"
    argv = command(folder, out, epochs=3)[3:] + ["--splits", "1", "2", "3"]
    assert T.main(argv) == 0
    for split in (1, 2, 3):
        table = json.loads((out / f"split{split}" / "table.json").read_text())
        assert table["split"] == split
        # split K's test videos are the groups 3K-2..3K: 3 groups x 2 clips x 4 classes
        assert len(table["models"][0]["runs"][0]) and (out / f"split{split}" / "predictions.csv").exists()
        with open(out / f"split{split}" / "predictions.csv") as f:
            videos = {row["video"] for row in csv.DictReader(f)}
        assert {int(v.split("_g")[1][:2]) for v in videos} == set(range(3 * split - 2, 3 * split + 1))
    summary = json.loads((out / "table.json").read_text())
    assert summary["splits"] == [1, 2, 3]
    per_split = summary["test_acc"]["lstm"]
    table = (out / "table.md").read_text()
    mean = 100 * np.mean([per_split[str(s)] for s in (1, 2, 3)])
    assert f"{mean:.1f} +- " in table.split("| LSTM (Lasagne 0.1 output gate) |")[1].splitlines()[0]
    assert "\\toprule" in (out / "table.tex").read_text()


def test_store_of_all_splits_without_membership_is_a_clear_error(tmp_path):
    toy_store(tmp_path / "all_splits_fc7.h5", 1, range(1, 4), seed=0)
    with pytest.raises(ValueError, match="no split_membership"):
        T.load_data(str(tmp_path))


def test_full_disk_during_training_is_clear_and_resumes(features, tmp_path, file_size_limit):
    limit = file_size_limit(20_000)                                    # checkpoints are larger
    out = tmp_path / "r"
    full = subprocess.run(command(features, out, epochs=3), capture_output=True, text=True,
                          preexec_fn=limit, timeout=300)
    assert full.returncode == 1 and "Traceback" not in full.stderr, full.stderr[-2000:]
    last = full.stderr.strip().splitlines()[-1]
    assert last.startswith("error: cannot write") and "rerun the same command" in last
    assert not list((out / "checkpoints").glob("*.tmp"))
    again = subprocess.run(command(features, out, epochs=3), capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    reference = tmp_path / "ref"
    assert subprocess.run(command(features, reference, epochs=3), capture_output=True).returncode == 0
    assert results_of(out) == results_of(reference)


@pytest.mark.parametrize("loss", ["averaged", "per-step"])
def test_short_training_run_on_each_device(features, tmp_path, device, loss):
    """Training learns on every device present (CUDA where there is one), with the data and the
    model on that device and a checkpoint that loads anywhere; both loss forms, each with
    deterministic kernels only (the per-step loss once raised on CUDA in deterministic mode)."""
    T.set_deterministic(device)
    train, val, _, _ = T.load_data(str(features), val_groups=2)
    train, val = (T.Split(s.x.to(device), s.y.to(device)) for s in (train, val))
    config = T.RunSettings(model="lstm", hidden_dim=16, lr=0.003, epochs=10, batch_size=16,
                           loss=loss)
    record = T.train_run(config, train, val, N_CLASSES, str(tmp_path), progress=False, device=device)
    assert record["history"][-1]["train_loss"] < 0.5 * record["history"][0]["train_loss"]
    assert record["best"]["val_acc"] >= 0.9
    saved = T.load_checkpoint(tmp_path / "checkpoints" / f"{config.run_id()}.pt", config)
    assert all(v.device.type == "cpu" for v in saved["model"].values())


def test_finished_runs_are_reused_only_on_the_codes_they_trained_on(features, tmp_path):
    """A run's checkpoint keeps the digests of its training and validation codes: ``read_run``
    gives its record back on those codes and refuses it on others (another split, store or
    --val-groups under the same run name), where it once reported the old models as new."""
    train, val, _, _ = T.load_data(str(features), val_groups=2)
    config = T.RunSettings(model="average", hidden_dim=8, lr=0.003, epochs=2, batch_size=16)
    T.train_run(config, train, val, N_CLASSES, str(tmp_path), progress=False)
    assert T.read_run(config, str(tmp_path), (train, val))["epoch"] == 2
    assert T.read_run(config, str(tmp_path))["epoch"] == 2              # no codes: not checked
    other = T.load_data(str(features), val_groups=3)
    with pytest.raises(T.CheckpointError, match=r"average-.*\.pt was trained on other codes "
                                                r"than these \(its train and val set differs"):
        T.read_run(config, str(tmp_path), (other.train, other.val))
    with pytest.raises(T.CheckpointError, match=r"\(its train set differs"):
        T.read_run(config, str(tmp_path), (T.Split(train.x + 1, train.y), val))
    with pytest.raises(T.CheckpointError, match=r"\(its val set differs"):
        T.read_run(config, str(tmp_path), (train, T.Split(val.x, val.y.flip(0))))


def test_predict_rebuilds_each_models_network_and_refuses_flow_models(tmp_path):
    """experiment.tools.predict rebuilds a table's model from its checkpoint, its input size
    read off the weights that multiply the codes (a tconv's W_conv too: a tconv table once
    stopped with a bare StopIteration); a table of flow models is refused, since predict
    computes a video's RGB codes."""
    from experiment.tools import predict
    from ..bad_inputs import stores
    stores(tmp_path)
    out = tmp_path / "r"
    assert T.main(["--features", str(tmp_path), "--out", str(out), "--models", "tconv", "rnn",
                   "--hidden", "4", "--lr", "0.003", "--seeds", "1", "--epochs", "1",
                   "--batch-size", "4", "--val-groups", "2", "--no-progress"]) == 0
    table = predict.load_results(str(out))
    for entry in table["models"]:
        net, _ = predict.trained_model(str(out), table, entry, "cpu")
        assert net(torch.zeros(1, 10, 8)).shape == (1, 2)               # D = 8, 2 classes
    table["settings"]["stream"] = "flow"
    (out / "table.json").write_text(json.dumps(table))
    with pytest.raises(ValueError, match="its models read flow codes .* RGB codes only"):
        predict.load_results(str(out))
    (out / "table.json").write_text(json.dumps(table)[:500])    # cut by a kill: the file named
    with pytest.raises(ValueError, match=f"^{out}/table.json is damaged .* rerun its "):
        predict.load_results(str(out))
    (out / "written-by.json").write_text('{"command": "python -m experiment.future"}')
    (out / "table.json").write_text('{"rows": []}')
    with pytest.raises(ValueError, match=r"not a per-split .* \(python -m experiment.future"):
        predict.load_results(str(out))


def test_a_splits_digest_is_of_its_codes_and_labels_wherever_they_are(features):
    """``Split.digest``: equal for equal codes and labels (a copy, the split moved to a device
    and back), different when one value, the dtype or the shape differs."""
    train = T.load_data(str(features), val_groups=2).train
    digest = train.digest()
    assert T.Split(train.x.clone(), train.y.clone()).digest() == digest
    assert train.to("cpu").known_digest == digest
    changed = train.x.clone()
    changed[3, 4, 5] += 1e-6
    assert T.Split(changed, train.y).digest() != digest
    assert T.Split(train.x.double(), train.y).digest() != digest
    assert T.Split(train.x.reshape(len(train.y), 5, -1), train.y).digest() != digest


@pytest.mark.parametrize("weights, sha1, expected", [
    ("bvlc_reference_caffenet.caffemodel", "4c8d77deb20ea792f84eb5e6d0a11ca0a8660a46", ""),
    ("bvlc_reference_caffenet.caffemodel", "0" * 40, "not made with BVLC's published CaffeNet"),
    ("my_finetuned.caffemodel", "1" * 40, "not made with BVLC's published CaffeNet"),
    ("anything", "", "no SHA1 recorded"),
    ("RANDOM weights (seed 3): test", "2" * 40, "RANDOM weights (seed 3)")])
def test_banner_is_decided_by_the_weights_sha1(weights, sha1, expected):
    """The warning banner appears whenever the weights are not BVLC's by SHA1, whatever the
    weights' file name or note says (issue: a non-BVLC .caffemodel made an unmarked table)."""
    from experiment.analysis.report import banner
    note = banner({"weights": weights, "weights_sha1": sha1})
    assert (note == "") if not expected else (expected in note and note.startswith("***"))


def test_readme_check_compares_the_demo_rows(features, tmp_path, capsys):
    """`make demo` ends by comparing its table with the README's block between
    ``<!-- demo table -->`` and ``<!-- /demo table -->`` (experiment.tools.readme_check) and fails,
    with a diff, when they differ."""
    from experiment.tools import readme_check
    out = tmp_path / "results"
    assert T.main(command(features, out, epochs=2)[3:]) == 0
    table = json.loads((out / "table.json").read_text())
    rows = readme_check.rows(table)
    assert rows[1].startswith("| LSTM (Lasagne 0.1 output gate) | ") and rows[1].endswith("] |")
    readme = tmp_path / "README.md"
    block = ["<!-- demo table -->", "| model | train % | validation % | test % |",
             "| --- | --- | --- | --- |", *rows, "<!-- /demo table -->"]
    readme.write_text("intro\n" + "\n".join(block) + "\n| an | other | table |\n")
    assert readme_check.check(readme, out / "table.json")[0]
    assert readme_check.main([str(readme), str(out / "table.json")]) == 0
    changed = rows[1].replace(" +- ", " +- 9", 1)
    readme.write_text(readme.read_text().replace(rows[1], changed))
    ok, message = readme_check.check(readme, out / "table.json")
    assert not ok and f"\n-{changed}\n+{rows[1]}" in message and f"\n {rows[0]}" in message
    assert readme_check.main([str(readme), str(out / "table.json")]) == 3
    assert "DIFFERS" in capsys.readouterr().err
    readme.write_text(readme.read_text().replace(rows[0] + "\n", ""))      # a row missing
    assert f"\n+{rows[0]}" in readme_check.check(readme, out / "table.json")[1]
    readme.write_text("\n".join(rows))                                     # no block at all
    assert readme_check.main([str(readme), str(out / "table.json")]) == 1
    assert "no demo table block" in capsys.readouterr().err


def test_fused_sgd_equals_the_default_one_to_float32_rounding():
    """The fused Nesterov SGD that train_run uses gives the numbers of the default (CPU: one
    tensor at a time) one it replaced: bitwise on whole vector lanes; on a loop's tail (here
    the 7-element bias) its fused multiply-add may round the last bit differently, so the
    bound is 4 float32 ulps of the weights' scale after 5 steps."""
    torch.manual_seed(0)
    weights = [torch.randn(32, 16), torch.randn(7)]
    a = [w.clone().requires_grad_() for w in weights]
    b = [w.clone().requires_grad_() for w in weights]
    holder = type("Holder", (), {"parameters": lambda self: iter(a)})()
    fused = T.sgd(holder, T.RunSettings(lr=0.003, momentum=0.9))
    plain = torch.optim.SGD(b, lr=0.003, momentum=0.9, nesterov=True)   # as train_run had it
    assert fused.defaults["fused"]
    for _ in range(5):
        grads = [torch.randn_like(w) for w in weights]
        for p, q, g in zip(a, b, grads):
            p.grad, q.grad = g.clone(), g.clone()
        fused.step()
        plain.step()
    assert torch.equal(a[0], b[0])
    eps = torch.finfo(torch.float32).eps
    with torch.no_grad():
        assert float((a[1] - b[1]).abs().max()) <= 4 * eps * float(b[1].abs().max())


def test_training_accuracy_comes_from_the_training_pass():
    """Running: the accuracy and mean loss of the batches as they were trained on."""
    seen = T.Running()
    log_p = torch.log(torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]]))
    seen.add(log_p[:2], torch.tensor([0, 0]), torch.tensor(1.0))
    seen.add(log_p[2:], torch.tensor([0]), torch.tensor(4.0))
    assert seen.result() == (2 / 3, (1.0 * 2 + 4.0) / 3)


def test_average_model_inputs_are_the_time_mean_bitwise():
    """train_run gives the Average model x_bar (N, 1, D) once per run: its predictions on a
    shuffled minibatch are bitwise those on the full codes."""
    torch.manual_seed(0)
    split = T.Split(torch.rand(100, 10, 32), torch.randint(0, 4, (100,)))
    averaged = T.model_inputs("average", split)
    assert averaged.x.shape == (100, 1, 32) and T.model_inputs("rnn", split) is split
    net = build("average", 32, 16, 4).eval()
    batch = torch.randperm(100)[:64]
    assert torch.equal(net.log_probabilities(averaged.x[batch]), net.log_probabilities(split.x[batch]))


def test_per_step_loss_avoids_nll_loss2d_and_keeps_its_bits():
    """The per-step loss is nll_loss over (N T, C) rows: over (N, C, T) torch runs nll_loss2d,
    which has no deterministic CUDA kernel (``--device cuda --loss per-step`` raised). The same
    loss and gradient bits on the CPU as the (N, C, T) form it replaced."""
    from torch.utils._python_dispatch import TorchDispatchMode
    from experiment.train.classification import training_loss

    class Ops(TorchDispatchMode):
        seen = set()

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            self.seen.add(func.__name__.split(".")[0])
            return func(*args, **(kwargs or {}))

    torch.manual_seed(0)
    model = build("birnn", input_dim=6, hidden_dim=5, n_classes=4)
    x, y = torch.randn(3, 10, 6), torch.tensor([0, 3, 1])
    with Ops():
        loss, _ = training_loss(model, x, y, "per-step")
        grads = torch.autograd.grad(loss, list(model.parameters()))
    assert "nll_loss_forward" in Ops.seen and not any("nll_loss2d" in op for op in Ops.seen)
    log_P = model.step_log_probabilities(x)
    before = torch.nn.functional.nll_loss(log_P.transpose(1, 2), y[:, None].expand(-1, 10))
    assert torch.equal(loss, before)
    assert all(torch.equal(a, b) for a, b in
               zip(grads, torch.autograd.grad(before, list(model.parameters()))))


def test_a_model_named_twice_is_one_row(tmp_path):
    """``--models rnn rnn`` trains and reports the RNN once, as ``--splits 1 1`` is one split."""
    from ..bad_inputs import stores
    stores(tmp_path)
    out = tmp_path / "r"
    assert T.main(["--features", str(tmp_path), "--out", str(out), "--models", "rnn", "rnn",
                   "--hidden", "4", "--lr", "0.003", "--seeds", "1", "--epochs", "1",
                   "--batch-size", "4", "--val-groups", "2", "--no-progress"]) == 0
    table = json.loads((out / "table.json").read_text())
    assert [m["model"] for m in table["models"]] == ["rnn"]
    assert table["settings"]["models"] == ["rnn"]
