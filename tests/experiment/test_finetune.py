"""Fine-tuning fc6/fc7 with a trained head (experiment.future.finetune): where it starts, its results'
format, resume after a kill, and its refusals of bad input. The gradients' parity is in
parity_tests/test_finetune.py."""
import json
from dataclasses import asdict

import numpy as np
import pytest
import torch

import configurations
import rnn_models
from experiment.future import finetune as FT
from experiment import train as T
from experiment.train import checkpoints
from rnn_models.finetune import FineTuned

N_CLASSES = 4


def pool5_split(n, seed):
    """n videos of pool5-like codes (>= 0, a third exactly 0), classes in turn."""
    rng = np.random.default_rng(seed)
    x = np.abs(rng.normal(0, 1.5, (n, 10, 9216))) * (rng.random((n, 10, 9216)) > 0.33)
    return T.Split(torch.from_numpy(x.astype(np.float32)), torch.arange(n) % N_CLASSES)


@pytest.fixture(scope="module")
def setup(tmp_path_factory, random_caffemodel):
    """pool5 data, CaffeNet's fc6/fc7 (the random-weight model real Caffe wrote), and an INIT
    folder as experiment.train leaves it: a BiRNN trained on the same videos' fc7 codes, its
    checkpoint and table.json."""
    from caffe_extract.weights import file_sha1
    classes = {"classes": [f"C{c}" for c in range(N_CLASSES)]}
    data = T.Data(*(pool5_split(n, seed) for n, seed in ((16, 0), (8, 1), (8, 2))), classes)
    fc = FT.caffenet_fc(random_caffemodel)
    stem = FineTuned(rnn_models.build("average", 4096, 4, N_CLASSES)).eval()
    stem.load_fc(fc)
    with torch.no_grad():
        fc7 = T.Data(*(T.Split(stem.codes(s.x), s.y) for s in data.splits()), classes)
    init = tmp_path_factory.mktemp("init")
    base = T.RunSettings(model="birnn", hidden_dim=8, lr=0.003, epochs=2, batch_size=8,
                         options=configurations.PAPER.model_options("birnn"))
    for seed in (0, 1):
        T.train_run(T.RunSettings(**{**asdict(base), "seed": seed}), fc7[0], fc7[1], N_CLASSES,
                    str(init), progress=False)
    table = {"provenance": {"weights_sha1": file_sha1(random_caffemodel)},
             "models": [{"model": "birnn", "chosen": asdict(base)}]}
    (init / "table.json").write_text(json.dumps(table))
    return {"data": data, "fc7": fc7, "fc": fc, "init": init, "base": base,
            "caffemodel": random_caffemodel}


def finetune(setup, out, **knobs):
    recipe = FT.FineTuning(setup["caffemodel"], str(setup["init"]), **knobs)
    return FT.run_finetune("birnn", [1], setup["data"], recipe, str(out), T.Runtime("cpu", False))


def test_starts_where_the_trained_model_stands(setup):
    """Before any step, the fine-tuned model on pool5 codes predicts what the trained BiRNN
    predicts on the fc7 codes (float32: fc6/fc7 recomputed, 1e-5)."""
    state, _ = FT.start_state(str(setup["init"]), setup["base"])
    config = FT.FineTuneSettings(**asdict(setup["base"]))
    model, optimizer = FT.finetuned(config, state, setup["fc"], N_CLASSES)
    head = rnn_models.build("birnn", 4096, 8, N_CLASSES, **config.options)
    head.load_state_dict(state)
    _, _, p = T.evaluate(model, setup["data"][2])
    _, _, p_head = T.evaluate(head, setup["fc7"][2])
    assert (p - p_head).abs().max() < 1e-5 and p.max() < 0.999
    assert [g["lr"] for g in optimizer.param_groups] == [0.003, 0.003 * FT.FC_LR_SCALE]


def test_result_format_and_resume_after_a_kill(setup, tmp_path, monkeypatch):
    """run_model's format (seed 1; the chosen setting is named with seed 0, as run_model's);
    fc6 moves; a run killed while saving its second epoch resumes to the very numbers of an
    uninterrupted one. (Each checkpoint holds fc6/fc7 three times, 650 MB: the slow part.)"""
    straight = finetune(setup, tmp_path / "a", epochs=2)
    assert straight["model"] == "birnn+fine-tuned fc6/fc7" and straight["search"] == []
    assert set(straight) == {"model", "chosen", "search", "runs", "train_acc_mean",
                             "train_acc_std", "val_acc_mean", "val_acc_std", "test_acc_mean",
                             "test_acc_std"}
    assert straight["chosen"]["fc_lr_scale"] == FT.FC_LR_SCALE and straight["chosen"]["seed"] == 0
    run, = straight["runs"]
    assert run["seed"] == 1 and len(run["history"]) == 2 and run["best_epoch"] in (1, 2)
    assert run["test_probabilities"].shape == (8, N_CLASSES)
    saved = torch.load(tmp_path / "a" / "checkpoints" / "birnn-finetune-paper-h8-lr0.003-x0.1-"
                       "seed1.pt", weights_only=True)
    assert saved["config"]["start"] == "birnn-paper-h8-lr0.003-seed1"
    assert (saved["model"]["W6"] - setup["fc"]["fc6"][0]).abs().max() > 1e-6

    saves, real = [], T.atomic_save

    def killed_at_the_second_save(obj, path):
        saves.append(path)
        if len(saves) == 2:
            raise KeyboardInterrupt
        real(obj, path)

    monkeypatch.setattr(checkpoints, "atomic_save", killed_at_the_second_save)
    monkeypatch.setenv("TRAIN_CHECKPOINT_SECONDS", "0")            # a save after each epoch
    with pytest.raises(KeyboardInterrupt):
        finetune(setup, tmp_path / "b", epochs=2)
    monkeypatch.setattr(checkpoints, "atomic_save", real)
    resumed = finetune(setup, tmp_path / "b", epochs=2)
    for a, b in zip(straight["runs"], resumed["runs"]):
        assert a["history"] == b["history"]
        assert np.array_equal(a["test_probabilities"], b["test_probabilities"])


def test_codes_that_are_not_pool5_are_refused(setup, tmp_path):
    with pytest.raises(ValueError, match="4096-dimensional, not pool5's 9216"):
        FT.run_finetune("birnn", [0], setup["fc7"], FT.FineTuning(setup["caffemodel"],
                        str(setup["init"])), str(tmp_path))


def test_a_missing_checkpoint_is_a_clear_error(setup, tmp_path):
    with pytest.raises(FileNotFoundError, match="seed2.pt does not exist: .* train it first"):
        FT.run_finetune("birnn", [2], setup["data"], FT.FineTuning(setup["caffemodel"],
                        str(setup["init"])), str(tmp_path))


def test_other_weights_than_the_models_codes_are_refused(setup, tmp_path):
    init = tmp_path / "init"
    (init / "checkpoints").mkdir(parents=True)
    table = json.loads((setup["init"] / "table.json").read_text())
    table["provenance"]["weights_sha1"] = "a" * 40
    (init / "table.json").write_text(json.dumps(table))
    with pytest.raises(ValueError, match="is not the CaffeNet whose codes trained"):
        FT.run_finetune("birnn", [0], setup["data"], FT.FineTuning(setup["caffemodel"],
                        str(init)), str(tmp_path / "out"))


def test_a_model_the_table_lacks_is_a_clear_error(setup):
    with pytest.raises(ValueError, match="has no lstm .* train it first"):
        FT.chosen_setting(str(setup["init"]), "lstm")


def test_a_features_folder_without_pool5_is_a_clear_error(setup, tmp_path, capsys):
    assert FT.main(["--features", str(tmp_path), "--init", str(setup["init"]), "--out",
                    str(tmp_path / "out"), "--random-weights", "0", "--no-progress"]) == 1
    assert "extract --layer pool5" in capsys.readouterr().err


def test_load_fc_is_strict():
    model = FineTuned(rnn_models.build("rnn", 6, 3, 2), input_dim=5, fc6_dim=4)
    right = {"fc6": (np.ones((4, 5)), np.ones(4)), "fc7": (np.ones((6, 4)), np.ones(6))}
    model.load_fc(right)
    assert float(model.W7.detach().sum()) == 24.0
    wrong = r"fc7 has a blob of shape \(4, 6\), this model's is \(6, 4\)"
    with pytest.raises(ValueError, match=wrong):
        model.load_fc({**right, "fc7": (np.ones((4, 6)), np.ones(6))})
    with pytest.raises(ValueError, match="need the layers fc6 and fc7 exactly"):
        model.load_fc({**right, "fc8": right["fc7"]})


def test_pool5_store_through_fc6_fc7_gives_the_fc7_store(tmp_path, random_caffemodel):
    """`extract --layer pool5` stores what fc6 reads: through fc6 ... relu7 (eval mode) its
    codes are the fc7 store's, video by video (float32 GEMMs in other shapes: 1e-5 of the
    largest code, as parity_tests/test_finetune.py)."""
    from caffe_extract.__main__ import main as extract_main
    from caffe_extract.store import read_store
    from caffe_extract.synthetic import CLASSES, make_dataset
    make_dataset(tmp_path, n_groups=3, classes=CLASSES[:2], seed=2)
    for layer in ("pool5", "fc7"):
        assert extract_main(["extract", "--videos", str(tmp_path / "videos"), "--splits",
                             str(tmp_path / "splits"), "--out-dir", str(tmp_path / "out"),
                             "--backend", "torch", "--workers", "0", "--no-progress",
                             "--random-weights", "0", "--layer", layer]) == 0
    pool5, fc7 = (read_store(tmp_path / "out" / f"all_splits_{layer}.h5")
                  for layer in ("pool5", "fc7"))
    assert pool5["features"].shape[1:] == (10, 9216) and list(pool5["video"]) == list(fc7["video"])
    model = FineTuned(rnn_models.build("average", 4096, 4, 2)).eval()
    model.load_fc(FT.caffenet_fc(random_caffemodel))
    with torch.no_grad():
        codes = model.codes(torch.from_numpy(pool5["features"])).numpy()
    assert np.abs(codes - fc7["features"]).max() <= 1e-5 * np.abs(fc7["features"]).max()


def test_a_typo_in_the_head_s_name_is_a_usage_error(capsys):
    """``--model birn`` once read the --init table and advised `experiment.train --models birn`,
    a command that is itself refused; it is a usage error naming the models now."""
    with pytest.raises(SystemExit) as exit_:
        FT.main(["--model", "birn"])
    assert exit_.value.code == 2
    assert "argument --model: invalid choice: 'birn'" in capsys.readouterr().err
