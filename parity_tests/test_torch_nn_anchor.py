"""An independent anchor: our hand-written layers equal torch.nn.RNN / torch.nn.LSTM.

The reference and our modules share one author; torch.nn's kernels do not. Weight mapping:
- ``torch.nn.RNN(nonlinearity="relu")``: weight_ih = W_ih, weight_hh = W_hh, bias_ih = b_h and
  bias_hh = 0 (torch.nn has a second bias the paper does not; its gradient equals b_h's).
- ``torch.nn.LSTM``: gates stacked in the same order (input, forget, cell "g", output):
  weight_ih = [W_xi; W_xf; W_xc; W_xo], weight_hh = [W_hi; W_hf; W_hc; W_ho_gate],
  bias_ih = [b_i; b_f; b_c; b_o_gate], bias_hh = 0. torch.nn.LSTM has no peepholes, so the
  anchor is our LSTM with ``peepholes=False``.
- Bidirectional: torch.nn's ``*_reverse`` weights are our ``_b`` branch; its output is
  [h^f, h^b] aligned to input time, as ours. Stacked: layer k is our suffix ``_{k+1}``.
The whole model is compared: p, and the gradient of the loss for every parameter.
Tolerance 1e-10 in float64, as for the reference (measured: <= 1e-15).
"""
import numpy as np
import pytest
import torch

import rnn_models
from reference.architecture import ARCHITECTURES, layer_param_names

from .helpers import Case

TOLERANCE = 1e-10


def nn_twin(name, model):
    """A torch.nn.RNN/LSTM holding ``model``'s recurrent weights, and the map of its parameters
    to ours: nn parameter name -> list of our names stacked to form it (biases of hh: None)."""
    branches = ARCHITECTURES[name]
    cell = branches[0].cell
    H = model.config["hidden_dim"]
    cls = torch.nn.RNN if cell == "rnn" else torch.nn.LSTM
    kwargs = {"nonlinearity": "relu"} if cell == "rnn" else {}
    twin = cls(model.config["input_dim"], H, num_layers=len(branches[0].layers),
               bidirectional=len(branches) == 2, batch_first=True, dtype=torch.float64, **kwargs)
    mapping = {}
    for direction, branch in zip(("", "_reverse"), branches):
        for k, suffix in enumerate(branch.layers):
            names = [n + suffix for n in layer_param_names(cell, peepholes=False)]
            if cell == "rnn":
                W_ih, W_hh, b_h = names
                stacked = {"weight_ih": [W_ih], "weight_hh": [W_hh], "bias_ih": [b_h]}
            else:
                # names: (W_x, W_h, b) for each gate in GATES order; torch.nn stacks by part
                stacked = {part: names[i::3] for i, part in enumerate(("weight_ih", "weight_hh", "bias_ih"))}
            for part, ours in stacked.items():
                mapping[f"{part}_l{k}{direction}"] = ours
            mapping[f"bias_hh_l{k}{direction}"] = None
    with torch.no_grad():
        for nn_name, ours in mapping.items():
            value = torch.zeros_like(getattr(twin, nn_name)) if ours is None else \
                torch.cat([getattr(model, n) for n in ours])
            getattr(twin, nn_name).copy_(value)
    return twin, mapping


def twin_probabilities(name, model, twin, x):
    """The paper's readout on top of torch.nn's hidden states: p (N, C)."""
    out, _ = twin(x)                                                # (N, T, H * directions)
    H = model.config["hidden_dim"]
    y = 0.0
    for i, branch in enumerate(ARCHITECTURES[name]):
        h = out[..., i * H:(i + 1) * H]
        y = y + h @ getattr(model, "W_ho" + branch.out).T + getattr(model, "b_o" + branch.out)
    return torch.softmax(y @ model.W_s.T + model.b_s, dim=-1).mean(dim=1)


@pytest.mark.parametrize("name", ["rnn", "birnn", "rnn2", "lstm", "bilstm"])
@pytest.mark.parametrize("N, T", [(1, 1), (4, 10)])
def test_equals_torch_nn(name, N, T):
    options = ({"peepholes": False, "lasagne_output_gate": False} if "lstm" in name else
               {"relu_grad_at_zero": 0.0, "rnn_step": "equation", "learn_init": False})
    case = Case(name, options, N=N, T=T, D=7, H=6, C=5, seed=21)
    p_ours, loss_ours, grads = case.torch()

    model = rnn_models.build(name, case.D, case.H, case.C, **options).double()
    model.load_state_dict({k: torch.from_numpy(v) for k, v in case.params.items()})
    twin, mapping = nn_twin(name, model)
    x = torch.from_numpy(case.x)
    p_twin = twin_probabilities(name, model, twin, x)
    loss = -torch.log(p_twin[torch.arange(N), torch.from_numpy(case.labels)]).mean()
    loss.backward()

    assert np.max(np.abs(p_twin.detach().numpy() - p_ours)) <= TOLERANCE
    for nn_name, ours in mapping.items():
        grad_twin = getattr(twin, nn_name).grad.numpy()
        if ours is None:  # torch.nn's extra bias: same gradient as the paper's b_h (or gate b)
            ours = mapping[nn_name.replace("bias_hh", "bias_ih")]
        grad_ours = np.concatenate([grads[n] for n in ours])
        assert np.max(np.abs(grad_twin - grad_ours)) <= TOLERANCE, nn_name
    for key in [k for k in grads if k.startswith(("W_ho", "b_o", "W_s", "b_s"))
                and not k.startswith(("W_ho_gate", "b_o_gate"))]:
        assert np.max(np.abs(getattr(model, key).grad.numpy() - grads[key])) <= TOLERANCE, key
