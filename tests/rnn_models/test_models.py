"""The public API of rnn_models and reference: build, shapes, names, options, initialisation."""
import math

import numpy as np
import pytest
import torch

import reference
import rnn_models
from reference.architecture import MODELS

D, H, C = 11, 9, 4


@pytest.mark.parametrize("name", MODELS)
def test_build_gives_the_documented_parameters(name):
    model = rnn_models.build(name, D, H, C)
    got = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert got == reference.param_shapes(name, D, H, C)
    assert model.config["name"] == name and model.config["input_dim"] == D


def test_paper_names_and_layouts():
    """W_ih is (H, D) as the paper multiplies it; LSTM gates use Graves' names."""
    rnn = rnn_models.build("rnn", D, H, C).state_dict()
    assert rnn["W_ih"].shape == (H, D) and rnn["W_hh"].shape == (H, H)
    assert rnn["W_ho"].shape == (H, H) and rnn["W_s"].shape == (C, H)
    assert set(rnn) == {"W_ih", "W_hh", "b_h", "W_ho", "b_o", "W_s", "b_s"}
    lstm = set(rnn_models.build("lstm", D, H, C).state_dict())
    assert {"W_xi", "W_hi", "w_ci", "b_i", "W_xf", "W_hf", "w_cf", "b_f", "W_xc", "W_hc", "b_c",
            "W_xo", "W_ho_gate", "w_co", "b_o_gate", "W_ho", "b_o", "W_s", "b_s"} == lstm
    birnn = set(rnn_models.build("birnn", D, H, C).state_dict())
    assert {"W_ih_f", "W_hh_b", "b_h_f", "b_h_b", "W_ho_f", "W_ho_b", "b_o_f", "b_o_b"} < birnn
    assert "w_ci" not in rnn_models.build("lstm", D, H, C, peepholes=False).state_dict()
    assert rnn_models.build("rnn", D, H, C, output_dim=3).W_ho.shape == (3, H)


@pytest.mark.parametrize("name", MODELS)
def test_probability_api(name):
    torch.manual_seed(0)
    model = rnn_models.build(name, D, H, C).eval()
    x = torch.randn(3, 10, D)
    p, P = model(x), model.step_probabilities(x)
    assert p.shape == (3, C) and P.shape == (3, 10, C)
    assert p.dtype == torch.float32
    torch.testing.assert_close(p.sum(-1), torch.ones(3))
    torch.testing.assert_close(P.mean(1), p)
    torch.testing.assert_close(model.log_probabilities(x), torch.log(p))
    log_P = model.step_log_probabilities(x)
    assert log_P.shape == (3, 10, C)
    torch.testing.assert_close(log_P.exp(), P)


def test_log_probabilities_stay_finite_where_p_underflows():
    torch.manual_seed(0)
    model = rnn_models.build("rnn", D, H, C).double()
    with torch.no_grad():
        for param in model.parameters():
            param.normal_(0.0, 1.0)
        model.W_s.mul_(1e4)
    x = torch.randn(2, 10, D, dtype=torch.float64)
    assert (model(x) == 0).any()
    assert torch.isfinite(model.log_probabilities(x)).all()


def test_average_dropout_is_random_in_training_only():
    torch.manual_seed(0)
    model = rnn_models.build("average", D, H, C, dropout=0.5)
    x = torch.randn(5, 10, D)
    model.train()
    assert not torch.equal(model(x), model(x))
    model.eval()
    torch.testing.assert_close(model(x), model(x), rtol=0, atol=0)
    ones = torch.ones(5, H)
    torch.testing.assert_close(model(x, dropout_mask=ones), model(x))
    with pytest.raises(ValueError, match="dropout"):
        rnn_models.build("average", D, H, C, dropout=1.0)


@pytest.mark.parametrize("name, option", [("rnn", "peepholes"), ("lstm", "relu_grad_at_zero"),
                                          ("average", "lasagne_output_gate"), ("tconv", "rnn_step"),
                                          ("tconv", "output_dim"), ("rnn", "width")])
def test_unknown_option_is_a_clear_error(name, option):
    with pytest.raises(TypeError, match=f"takes no option {option}"):
        rnn_models.build(name, D, H, C, **{option: True})
    params = {k: np.zeros(s) for k, s in reference.param_shapes(name, D, H, C).items()}
    with pytest.raises(TypeError, match=f"takes no option {option}"):
        reference.forward(name, params, np.zeros((1, 2, D)), **{option: True})


def test_unknown_model_and_bad_values():
    with pytest.raises(ValueError, match="unknown model 'gru'"):
        rnn_models.build("gru", D, H, C)
    with pytest.raises(ValueError, match="relu_grad_at_zero"):
        rnn_models.build("rnn", D, H, C, relu_grad_at_zero=1.0)


def test_reference_rejects_parameters_of_another_shape():
    params = {k: np.zeros(s) for k, s in reference.param_shapes("rnn", D, H, C).items()}
    with pytest.raises(ValueError, match=f"input dim D = {D}, got shape"):
        reference.forward("rnn", params, np.zeros((1, 2, 12)))
    params["W_hh"] = np.zeros((H, H + 1))
    with pytest.raises(ValueError, match=r"wrong or missing: \{'W_hh': \(9, 10\)\}"):
        reference.forward("rnn", params, np.zeros((1, 2, D)))
    del params["W_hh"]
    with pytest.raises(ValueError, match="W_hh"):
        reference.forward("rnn", params, np.zeros((1, 2, D)))


def test_lasagne_default_initialisation():
    """RecurrentLayer: U(+-0.01); LSTM gates: N(0, 0.1); Dense: Glorot uniform; biases 0."""
    torch.manual_seed(0)
    Din, Hid = 400, 300
    rnn = rnn_models.build("rnn", Din, Hid, 101, init="lasagne-0.1")
    for W in (rnn.W_ih, rnn.W_hh):
        assert W.abs().max() <= 0.01 and W.abs().max() > 0.0099
        assert abs(W.std().item() - 0.01 / math.sqrt(3)) < 1e-4
    glorot = math.sqrt(6 / (Hid + 101))
    assert rnn.W_s.abs().max() <= glorot and rnn.W_s.abs().max() > 0.99 * glorot
    assert all(torch.all(b == 0) for b in (rnn.b_h, rnn.b_o, rnn.b_s))
    lstm = rnn_models.build("lstm", Din, Hid, 101, init="lasagne-0.1")
    for W in (lstm.W_xi, lstm.W_hf, lstm.W_ho_gate):
        assert abs(W.std().item() - 0.1) < 2e-3 and abs(W.mean().item()) < 2e-3
    assert abs(lstm.w_co.std().item() - 0.1) < 2e-2
    assert torch.all(lstm.b_f == 0) and torch.all(lstm.b_o_gate == 0)
    avg = rnn_models.build("average", Din, Hid, 101, init="lasagne-0.1")
    assert avg.W_ih.abs().max() <= math.sqrt(6 / (Din + Hid))
    assert avg.W_ih.abs().max() > 0.99 * math.sqrt(6 / (Din + Hid))


def test_initialisation_follows_the_torch_seed():
    torch.manual_seed(3)
    a = rnn_models.build("bilstm", D, H, C).state_dict()
    torch.manual_seed(3)
    b = rnn_models.build("bilstm", D, H, C).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_backward_branch_reads_the_future():
    """BiRNN: changing the last frame changes the backward branch's first output, not the
    forward branch's (h^f_1 depends on x_1 only)."""
    torch.manual_seed(0)
    model = rnn_models.build("birnn", D, H, C).double()
    x = torch.randn(1, 5, D, dtype=torch.float64)
    x2 = x.clone()
    x2[0, -1] += 1.0
    from rnn_models.layers import rnn_layer
    f = [rnn_layer(v, model.W_ih_f, model.W_hh_f, model.b_h_f)[0, 0] for v in (x, x2)]
    b = [rnn_layer(v, model.W_ih_b, model.W_hh_b, model.b_h_b, reverse=True)[0, 0] for v in (x, x2)]
    assert torch.equal(f[0], f[1]) and not torch.equal(b[0], b[1])


def test_defaults_are_the_paper_configuration():
    """One default everywhere (issue 15): build() gives the `paper` configuration's models."""
    rnn = rnn_models.build("birnn", D, H, C)
    assert rnn.config["init"] == "nntools-2015"
    assert {k: rnn.config[k] for k in ("relu_grad_at_zero", "rnn_step", "learn_init")} == \
        {"relu_grad_at_zero": 0.5, "rnn_step": "equation", "learn_init": True}
    assert "h_init_b" in rnn.state_dict()
    lstm = rnn_models.build("lstm", D, H, C)
    assert lstm.config["peepholes"] is True and lstm.config["lasagne_output_gate"] is True
    assert rnn_models.build("average", D, H, C).config["relu_grad_at_zero"] == 0.5
    assert reference.default_options("rnn") == {"relu_grad_at_zero": 0.5, "rnn_step": "equation",
                                                "learn_init": True}


def test_learnt_initial_state_only_in_backward_rnn_layers():
    """h_init exists for a layer running backward in time, (H,), initially 0; never for forward
    layers (learn_init has no effect on rnn and rnn2) nor without learn_init."""
    birnn = rnn_models.build("birnn", D, H, C, learn_init=True)
    assert birnn.h_init_b.shape == (H,) and torch.all(birnn.h_init_b == 0)
    assert not [k for k in birnn.state_dict() if k.startswith("h_init") and k != "h_init_b"]
    for name in ("rnn", "rnn2"):
        assert not [k for k in rnn_models.build(name, D, H, C, learn_init=True).state_dict()
                    if k.startswith("h_init")]
    assert "h_init_b" not in rnn_models.build("birnn", D, H, C, learn_init=False).state_dict()
    assert "h_init_b" in reference.param_shapes("birnn", D, H, C)
    assert "h_init_b" not in reference.param_shapes("birnn", D, H, C, learn_init=False)
    # a model's whole option dict may be passed; an unknown option may not
    assert "h_init_b" not in reference.param_shapes("birnn", D, H, C, learn_init=False,
                                                    rnn_step="nntools", relu_grad_at_zero=0.0)
    with pytest.raises(TypeError, match="no option colour"):
        reference.param_shapes("birnn", D, H, C, colour=1)


def test_learnt_initial_state_is_shared_by_the_batch():
    """The prediction of a video does not depend on its position in the batch (fce361f's
    (n_batch, H) hid_init would): one (H,) state for every video."""
    torch.manual_seed(0)
    model = rnn_models.build("birnn", D, H, C, learn_init=True).double()
    with torch.no_grad():
        model.h_init_b.normal_()
    x = torch.randn(3, 5, D, dtype=torch.float64)
    p = model(x)
    torch.testing.assert_close(model(x.flip(0)), p.flip(0), rtol=0, atol=1e-15)
    torch.testing.assert_close(model(x[1:2]), p[1:2], rtol=0, atol=1e-15)


def test_bad_option_values_are_clear_errors():
    with pytest.raises(ValueError, match="unknown initialisation 'glorot'"):
        rnn_models.build("rnn", D, H, C, init="glorot")
    with pytest.raises(ValueError, match="rnn_step must be one of equation, nntools"):
        rnn_models.build("rnn", D, H, C, rnn_step="lasagne")
    with pytest.raises(ValueError, match="learn_init must be True or False"):
        rnn_models.build("birnn", D, H, C, learn_init=1)
    with pytest.raises(TypeError, match="takes no option learn_init"):
        rnn_models.build("lstm", D, H, C, learn_init=True)


def test_temporal_convolution_parameters():
    """W_conv (H, D, K), b_conv (H,), W_s (C, H), b_s (C,); K is the option ``width``."""
    model = rnn_models.build("tconv", D, H, C, width=5)
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == \
        {"W_conv": (H, D, 5), "b_conv": (H,), "W_s": (C, H), "b_s": (C,)}
    assert model.config == {"name": "tconv", "input_dim": D, "hidden_dim": H, "n_classes": C,
                            "init": "nntools-2015", "relu_grad_at_zero": 0.5, "width": 5}
    assert rnn_models.build("tconv", D, H, C).W_conv.shape == (H, D, 3)     # the default


@pytest.mark.parametrize("width", [0, 2, 4, -1, 3.0, True, "3"])
def test_temporal_convolution_width_must_be_odd_and_positive(width):
    with pytest.raises(ValueError, match=f"width must be an odd integer >= 1 .*got {width!r}"):
        rnn_models.build("tconv", D, H, C, width=width)
    params = {k: np.zeros(s) for k, s in reference.param_shapes("tconv", D, H, C).items()}
    with pytest.raises(ValueError, match="width must be an odd integer >= 1"):
        reference.forward("tconv", params, np.zeros((1, 2, D)), width=width)


def test_temporal_convolution_weights_of_another_width_are_refused():
    params = {k: np.zeros(s) for k, s in reference.param_shapes("tconv", D, H, C, width=5).items()}
    with pytest.raises(ValueError, match=r"wrong or missing: \{'W_conv': \(9, 11, 5\)\}"):
        reference.forward("tconv", params, np.zeros((1, 2, D)))            # width 3 expected
    model = rnn_models.build("tconv", D, H, C)
    with pytest.raises(RuntimeError, match="W_conv"):
        model.load_state_dict({k: torch.from_numpy(v) for k, v in params.items()})


@pytest.mark.parametrize("width", [1, 3, 5])
def test_temporal_convolution_sees_its_window_only(width):
    """h_t depends on x_s for |s - t| <= (width - 1) / 2 and on no other frame."""
    torch.manual_seed(0)
    model = rnn_models.build("tconv", D, H, C, width=width).double()
    with torch.no_grad():
        model.b_conv.fill_(1.0)                     # every unit active: no dead unit hides x_s
    x = torch.rand(1, 7, D, dtype=torch.float64)
    for s in range(7):
        moved = x.clone()
        moved[0, s] += 1.0
        changed = (model.outputs(moved) != model.outputs(x)).any(dim=2)[0]   # (T,)
        expected = torch.tensor([abs(s - t) <= (width - 1) // 2 for t in range(7)])
        assert torch.equal(changed, expected), (s, changed)


#: The schemes as read in the 2015 sources, per parameter (base name): ("uniform", a),
#: ("normal", std) or ("zeros",). Written here from the sources, not from reference.init:
#: nntools-2015: recurrent.py at Lasagne fce361f + init.py/dense.py at b237390^ (Uniform() is
#: Glorot, LSTM biases Normal(0.1)); lasagne-0.1: Lasagne 0.1 (Uniform(0.01), zero biases).
#: Conv1DLayer's W (num_filters, channels, filter_length) in both: Uniform() at b237390^ and
#: GlorotUniform() in 0.1 both give +-sqrt(6 / ((n1 + n2) * filter_length)).
def _glorot(n1, n2):
    return ("uniform", math.sqrt(6.0 / (n1 + n2)))


SUFFIXES = {"birnn": ("_f", "_b"), "bilstm": ("_f", "_b"), "rnn2": ("_1", "_2")}


def expected_scheme(scheme, model, pname, shape):
    base = pname[:-2] if pname.endswith(SUFFIXES.get(model, ())) else pname
    if model == "average":
        return _glorot(*shape) if base in ("W_ih", "W_s") else ("zeros",)
    if base == "W_conv":
        n1, n2, K = shape
        return ("uniform", math.sqrt(6.0 / ((n1 + n2) * K)))
    if base == "b_conv":
        return ("zeros",)
    if base in ("W_ho", "W_s"):
        return _glorot(*shape)
    if base in ("b_o", "b_h", "h_init", "b_s"):
        return ("zeros",)
    if base in ("W_ih", "W_hh"):
        return ("uniform", 0.01) if scheme == "lasagne-0.1" else _glorot(*shape)
    if base in ("b_i", "b_f", "b_c", "b_o_gate"):
        return ("normal", 0.1) if scheme == "nntools-2015" else ("zeros",)
    return ("normal", 0.1)   # LSTM W_x*, W_h*, w_c*


def assert_drawn_from(value, spec, where):
    value = np.asarray(value, dtype=np.float64).ravel()
    if spec[0] == "zeros":
        assert np.all(value == 0), where
    elif spec[0] == "uniform":
        a = spec[1]
        assert value.max() <= a and value.min() >= -a, where
        assert value.max() > 0.98 * a and value.min() < -0.98 * a, where     # fills the range
        assert abs(value.std() - a / math.sqrt(3)) < 5 * a / math.sqrt(3) / math.sqrt(value.size), where
    else:
        std = spec[1]
        assert abs(value.mean()) < 5 * std / math.sqrt(value.size), where
        assert abs(value.std() - std) < 5 * std / math.sqrt(2 * value.size), where
        assert np.abs(value).max() > 2 * std, where                            # not a uniform


@pytest.mark.parametrize("scheme", ["nntools-2015", "lasagne-0.1"])
@pytest.mark.parametrize("name", MODELS)
def test_initialisation_schemes_torch_and_numpy(scheme, name):
    """Both implementations draw every parameter from the scheme's distribution (the RNGs
    differ, so the distributions are compared: range, mean, std within 5 standard errors)."""
    from reference.init import initial_params
    Din, Hid, Ncls = 600, 200, 101
    torch.manual_seed(1)
    model = rnn_models.build(name, Din, Hid, Ncls, init=scheme)
    assert model.config["init"] == scheme
    shapes = reference.param_shapes(name, Din, Hid, Ncls)
    ours = initial_params(name, shapes, scheme, np.random.default_rng(1))
    for pname, shape in shapes.items():
        spec = expected_scheme(scheme, name, pname, shape)
        assert_drawn_from(getattr(model, pname).detach(), spec, f"torch {pname}")
        assert_drawn_from(ours[pname], spec, f"numpy {pname}")


def test_nntools_2015_ranges_of_the_paper_sizes():
    """The paper's RNN (4096 -> 512): W_ih in +-0.0361, W_hh in +-0.0765 (3.6x and 7.7x
    Lasagne 0.1's +-0.01)."""
    torch.manual_seed(0)
    rnn = rnn_models.build("rnn", 4096, 512, 101)
    assert 0.0360 < rnn.W_ih.abs().max().item() <= 0.03610
    assert 0.0764 < rnn.W_hh.abs().max().item() <= 0.07655
