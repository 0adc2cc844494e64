"""The named configurations: `paper` is the 2015 stack and the default everywhere; the docs'
table says what the code does."""
import pathlib
import re
import shutil
import subprocess

import numpy as np
import pytest
import torch

import reference
import rnn_models
import configurations as configs
from experiment import train as T

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_paper_is_the_papers_text_and_the_nntools_code_where_it_is_silent():
    """Fails when any knob of `paper` changes (each value's source: configs.KNOBS)."""
    assert configs.PAPER.as_dict() == {
        "name": "paper", "anti_aliasing": False, "mean": "channel", "decoder": "pyav",
        "rnn_step": "equation",            # the paper's h_t equation (Models)
        "learn_init": True,                # nntools: learn_init=backwards
        "lasagne_output_gate": True, "peepholes": True, "relu_grad_at_zero": 0.5,
        "init": "nntools-2015", "dtype": "float32", "loss": "averaged"}


def test_nntools_2015_is_craffels_code_of_march_2015():
    """recurrent.py at fce361f with the init.py the fork ran then (b237390^)."""
    assert configs.NNTOOLS_2015.as_dict() == {
        **configs.PAPER.as_dict(), "name": "nntools-2015", "rnn_step": "nntools"}


def test_lasagne_0_1_is_the_first_release():
    assert configs.LASAGNE_0_1.as_dict() == {
        **configs.PAPER.as_dict(), "name": "lasagne-0.1", "learn_init": False,
        "init": "lasagne-0.1"}


def test_modern_differs_from_lasagne_0_1_in_the_three_knobs_todays_libraries_changed():
    old, modern = configs.LASAGNE_0_1.as_dict(), configs.MODERN.as_dict()
    changed = {k for k in old if old[k] != modern[k]} - {"name"}
    assert changed == {"anti_aliasing", "lasagne_output_gate", "relu_grad_at_zero"}
    assert modern["anti_aliasing"] and not modern["lasagne_output_gate"]
    assert modern["relu_grad_at_zero"] == 0.0


def test_paper_is_the_default_of_every_entry_point(tmp_path):
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^CONFIG\s*\?=\s*paper$", makefile, re.M)
    for target in ("demo", "extract", "train"):
        recipe = makefile.split(f"\n{target}:")[1].split("\n\n")[0]
        assert "--config $(CONFIG)" in recipe, target
    assert configs.DEFAULT == "paper"
    from caffe_extract.__main__ import build_parser
    folders = ["--videos", str(tmp_path), "--splits", str(tmp_path)]
    extract = build_parser().parse_args(["extract", *folders])
    assert extract.config == "paper"
    for name in configs.CONFIGS:     # every configuration is accepted by extraction
        assert build_parser().parse_args(["extract", *folders, "--config", name]).config == name


@pytest.mark.parametrize("model", ["average", "rnn", "lstm", "birnn", "bilstm", "rnn2",
                                   "tconv"])
def test_the_librarys_build_defaults_to_the_paper_configuration(model):
    """One default everywhere: rnn_models.build without options builds what `make train`
    trains (the options and the initial values of `paper`)."""
    net = rnn_models.build(model, 6, 5, 4)
    expected = configs.PAPER.model_options(model)
    assert {k: net.config[k] for k in expected} == expected
    assert net.config["init"] == configs.PAPER.init
    assert T.RunSettings().config == configs.DEFAULT
    assert T.RunSettings().init == configs.PAPER.init
    assert T.RunSettings().loss == configs.PAPER.loss


@pytest.mark.parametrize("model", ["average", "rnn", "lstm", "birnn", "bilstm", "rnn2",
                                   "tconv"])
def test_paper_configuration_builds_the_papers_variants(model, tmp_path):
    """Through the training code's own path (run_model), the built model has the 2015 options,
    and they reach the equations: its output equals the NumPy reference in Lasagne modes."""
    torch.manual_seed(0)
    x = torch.rand(3, 10, 6, dtype=torch.float64)
    y = torch.tensor([0, 1, 2])
    data = T.Split(x.float(), y)
    base = T.RunSettings(config="paper", epochs=1, batch_size=3, patience=0)
    result = T.run_model(model, T.Protocol(base, (0.001,), (5,), (0,)),
                         T.Data(data, data, data, {"classes": list("abcd")}), str(tmp_path),
                         T.Runtime("cpu", False))
    options = result["chosen"]["options"]
    assert result["chosen"]["dtype"] == "float32"
    assert result["chosen"]["init"] == "nntools-2015"
    assert result["chosen"]["loss"] == "averaged"
    if model in ("lstm", "bilstm"):
        assert options == {"peepholes": True, "lasagne_output_gate": True}
    elif model == "average":
        assert options == {"relu_grad_at_zero": 0.5}
    elif model == "tconv":
        assert options == {"relu_grad_at_zero": 0.5, "width": 3}
    else:
        assert options == {"relu_grad_at_zero": 0.5, "rnn_step": "equation", "learn_init": True}
    torch.manual_seed(1)
    net = rnn_models.build(model, 6, 5, 4, **options).double()
    with torch.no_grad():     # a learnt initial state that is not 0, so that it is tested
        for name, value in net.named_parameters():
            if name.startswith("h_init"):
                value.uniform_(-1.0, 1.0)
    params = {k: v.detach().numpy() for k, v in net.state_dict().items()}
    p_ref, _ = reference.forward(model, params, x.numpy(), **options,
                                 **({"dropout_mask": np.ones((3, 5))} if model == "average" else {}))
    net.eval()
    np.testing.assert_allclose(net(x).detach().numpy(), p_ref, rtol=0, atol=1e-12)  # float64
    if model == "lstm":   # and it is not Graves' LSTM
        p_graves, _ = reference.forward(model, params, x.numpy(), lasagne_output_gate=False)
        assert np.abs(p_graves - p_ref).max() > 1e-4
    if model == "birnn":  # the backward layer's learnt initial state is part of the equations
        assert "h_init_b" in params and "h_init_f" not in params
        zero = {**params, "h_init_b": np.zeros_like(params["h_init_b"])}
        p_zero, _ = reference.forward(model, zero, x.numpy(), **options)
        assert np.abs(p_zero - p_ref).max() > 1e-4


def test_paper_initial_values_are_nntools_march_2015():
    """Glorot for the RNN (4096 x 512: +-0.0361, 512 x 512: +-0.0765), N(0, 0.1) for every LSTM
    weight and bias: fails when the default initialisation changes."""
    torch.manual_seed(0)
    rnn = rnn_models.build("rnn", 4096, 512, 101)
    assert 0.0355 < rnn.W_ih.abs().max() <= np.sqrt(6 / 4608)
    assert 0.0750 < rnn.W_hh.abs().max() <= np.sqrt(6 / 1024)
    assert torch.all(rnn.b_h == 0)
    lstm = rnn_models.build("lstm", 300, 200, 10)
    for name in ("b_i", "b_f", "b_c", "b_o_gate", "W_xi", "W_hc", "w_co"):
        std = float(getattr(lstm, name).detach().std())
        assert 0.085 < std < 0.115, (name, std)


def test_model_labels_name_the_variant():
    assert configs.model_label("lstm", configs.PAPER) == "LSTM (Lasagne 0.1 output gate)"
    assert configs.model_label("lstm", configs.MODERN) == ("LSTM (Graves' output gate, "
                                                           "lasagne-0.1 init)")
    assert configs.model_label("rnn", configs.PAPER) == "RNN"
    assert configs.model_label("birnn", configs.PAPER) == "Bidirectional RNN"
    assert configs.model_label("rnn", configs.MODERN) == "RNN (ReLU'(0) = 0, lasagne-0.1 init)"
    assert configs.model_label("rnn", configs.NNTOOLS_2015) == "RNN (nntools step)"
    assert configs.model_label("birnn", configs.LASAGNE_0_1) == ("Bidirectional RNN "
                                                                 "(h_{T+1} = 0, lasagne-0.1 init)")
    assert configs.model_label("tconv", configs.PAPER) == "Temporal convolution (1-D, width 3)"


def test_the_docs_show_the_knob_table_the_code_holds():
    table = configs.markdown_table()
    assert table in (ROOT / "docs" / "faithfulness.md").read_text()
    columns = table.splitlines()[0].count("|")
    assert all(row.count("|") == columns for row in table.splitlines())  # no cell breaks it
    fields = {k.field for k in configs.KNOBS if k.field}
    assert fields == set(configs.PAPER.as_dict()) - {"name"}     # every knob is in the table
    for knob in configs.KNOBS:
        assert knob.decided_by in ("the paper", "nntools", "our choice"), knob.knob
        if knob.decided_by == "our choice":         # a choice says so, with its reason
            assert "our choice" in knob.source, knob.knob
        for config in configs.CONFIGS.values():     # every value a configuration takes reads
            assert configs.knob_value(knob, config), (knob.knob, config.name)


def test_unknown_configuration_is_a_clear_error():
    with pytest.raises(ValueError, match="choose one of paper, nntools-2015, lasagne-0.1, modern"):
        configs.get("2016")


@pytest.mark.skipif(shutil.which("make") is None, reason="no make here")
@pytest.mark.parametrize("name", sorted(configs.CONFIGS))
def test_make_extract_gives_a_configuration_of_other_codes_its_own_store(name):
    """`make extract CONFIG=modern` once wrote modern's codes over paper's store in
    `features/` (hours of UCF-101 lost): a configuration that extracts otherwise than paper
    (``extraction()``) gets its own default folder, and those that extract alike share it."""
    argv = ["make", "-n", "--no-print-directory", "-C", str(ROOT), "extract", f"CONFIG={name}"]
    recipe = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    alike = configs.get(name).extraction() == configs.PAPER.extraction()
    assert f"--out-dir {'features' if alike else 'features-' + name} " in recipe


def test_a_models_runs_in_one_split():
    """The grid's settings at the first seed, then the chosen one's other seeds: 2 learning
    rates x 1 hidden size + 2 seeds = 4, which the benches and the rehearsal project with."""
    from dataclasses import replace

    from configurations import TRAINING
    from experiment.studies.rehearsal import FULL_RUNS
    from experiment.tools.workload import RUNS_PER_MODEL
    assert TRAINING.runs() == FULL_RUNS == RUNS_PER_MODEL == 4
    assert replace(TRAINING, hidden=(256, 512), seeds=5).runs() == 8
