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
                                          ("average", "lasagne_output_gate")])
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
    rnn = rnn_models.build("rnn", Din, Hid, 101)
    for W in (rnn.W_ih, rnn.W_hh):
        assert W.abs().max() <= 0.01 and W.abs().max() > 0.0099
        assert abs(W.std().item() - 0.01 / math.sqrt(3)) < 1e-4
    glorot = math.sqrt(6 / (Hid + 101))
    assert rnn.W_s.abs().max() <= glorot and rnn.W_s.abs().max() > 0.99 * glorot
    assert all(torch.all(b == 0) for b in (rnn.b_h, rnn.b_o, rnn.b_s))
    lstm = rnn_models.build("lstm", Din, Hid, 101)
    for W in (lstm.W_xi, lstm.W_hf, lstm.W_ho_gate):
        assert abs(W.std().item() - 0.1) < 2e-3 and abs(W.mean().item()) < 2e-3
    assert abs(lstm.w_co.std().item() - 0.1) < 2e-2
    assert torch.all(lstm.b_f == 0) and torch.all(lstm.b_o_gate == 0)
    avg = rnn_models.build("average", Din, Hid, 101)
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
