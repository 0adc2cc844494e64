"""The named configurations: `paper` is the 2015 stack and the default everywhere; the docs'
table says what the code does."""
import pathlib
import re

import numpy as np
import pytest
import torch

import reference
import rnn_models
from rnn_models import configs
from rnn_models import train as T

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_paper_is_the_2015_stack():
    """Fails when any knob of `paper` changes: each value is the 2015 stack's (README table)."""
    assert configs.PAPER.as_dict() == {
        "name": "paper", "anti_aliasing": False, "mean": "channel", "decoder": "pyav",
        "lasagne_output_gate": True, "peepholes": True, "relu_grad_at_zero": 0.5,
        "dtype": "float32", "init": "lasagne-0.1"}


def test_modern_differs_in_the_three_knobs_todays_libraries_changed():
    paper, modern = configs.PAPER.as_dict(), configs.MODERN.as_dict()
    changed = {k for k in paper if paper[k] != modern[k]} - {"name"}
    assert changed == {"anti_aliasing", "lasagne_output_gate", "relu_grad_at_zero"}
    assert modern["anti_aliasing"] and not modern["lasagne_output_gate"]
    assert modern["relu_grad_at_zero"] == 0.0


def test_paper_is_the_default_of_every_entry_point():
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^CONFIG\s*\?=\s*paper$", makefile, re.M)
    for target in ("demo", "extract", "train"):
        recipe = makefile.split(f"\n{target}:")[1].split("\n\n")[0]
        assert "--config $(CONFIG)" in recipe, target
    assert configs.DEFAULT == "paper"
    from caffe_extract.__main__ import build_parser
    extract = build_parser().parse_args(["extract", "--videos", "v", "--splits", "s"])
    assert extract.config == "paper"


@pytest.mark.parametrize("model", ["average", "rnn", "lstm", "birnn", "bilstm", "rnn2"])
def test_paper_configuration_builds_the_papers_variants(model, tmp_path):
    """Through the training code's own path (run_model), the built model has the 2015 options,
    and they reach the equations: its output equals the NumPy reference in Lasagne modes."""
    torch.manual_seed(0)
    x = torch.rand(3, 10, 6, dtype=torch.float64)
    y = torch.tensor([0, 1, 2])
    data = T.Split(x.float(), y)
    base = T.TrainConfig(config="paper", epochs=1, batch_size=3, patience=0)
    result = T.run_model(model, base, [0.001], [5], [0], (data, data, data), 4, str(tmp_path),
                         progress=False)
    options = result["chosen"]["options"]
    assert result["chosen"]["dtype"] == "float32"
    if model in ("lstm", "bilstm"):
        assert options == {"peepholes": True, "lasagne_output_gate": True}
    else:
        assert options == {"relu_grad_at_zero": 0.5}
    net = rnn_models.build(model, 6, 5, 4, **options).double()
    params = {k: v.detach().numpy() for k, v in net.state_dict().items()}
    p_ref, _ = reference.forward(model, params, x.numpy(), **options,
                                 **({"dropout_mask": np.ones((3, 5))} if model == "average" else {}))
    net.eval()
    np.testing.assert_allclose(net(x).detach().numpy(), p_ref, atol=1e-12)
    if model == "lstm":   # and it is not Graves' LSTM
        p_graves, _ = reference.forward(model, params, x.numpy(), lasagne_output_gate=False)
        assert np.abs(p_graves - p_ref).max() > 1e-4


def test_model_labels_name_the_variant():
    assert configs.model_label("lstm", configs.PAPER) == "LSTM (Lasagne 0.1 output gate)"
    assert configs.model_label("lstm", configs.MODERN) == "LSTM (Graves' output gate)"
    assert configs.model_label("rnn", configs.PAPER) == "RNN"
    assert configs.model_label("birnn", configs.PAPER) == "Bidirectional RNN"
    assert configs.model_label("rnn", configs.MODERN) == "RNN (ReLU'(0) = 0)"


def test_readme_shows_the_knob_table_the_code_holds():
    table = configs.markdown_table()
    assert table in (ROOT / "docs" / "faithfulness.md").read_text()
    assert all(row.count("|") == 5 for row in table.splitlines())   # no cell breaks the table
    fields = {f for _, f, *_ in configs.KNOBS if f}
    assert fields == set(configs.PAPER.as_dict()) - {"name"}     # every knob is in the table
    for knob, field, _, _, modern in configs.KNOBS:
        if field:   # "same" in the table exactly where the two configurations agree
            same = getattr(configs.PAPER, field) == getattr(configs.MODERN, field)
            assert (modern == "same") == same, knob


def test_unknown_configuration_is_a_clear_error():
    with pytest.raises(ValueError, match="choose one of paper, modern"):
        configs.get("2016")
