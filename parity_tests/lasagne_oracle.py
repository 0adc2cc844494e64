"""The paper's own stack as an oracle: its models built from Theano 1.0.5 + Lasagne 0.1 layers.

Runs in the Python 3.7 venv made by ``make oracle`` (not in the project's venv):

    .venv-oracle/bin/python parity_tests/lasagne_oracle.py OUT_DIR [MODEL-CASE ...]

For every model and case it writes OUT_DIR/<model>-<case>.npz holding, in float64:
``x`` (N, T, D), ``labels`` (N,), the weights under Lasagne's own names and layouts
(``<layer>.<attribute>``, e.g. ``rec.W_in_to_hid`` (D, H); see rnn_models/lasagne.py),
``p`` (N, C), ``loss``, ``grad/<weight>`` = theano.grad of the loss for every trainable weight,
``step2/<weight>`` = the weights after two ``lasagne.updates.nesterov_momentum`` steps
(learning rate ``lr``, momentum ``momentum``) on the same batch, and for the Average model with
dropout the ``dropout_mask`` Lasagne drew. Deterministic: seeded weights and Theano RNG.

The networks, as the paper describes them (section "Models"):
  Average: Dimshuffle+GlobalPool(mean over time) -> Dense(H, rectify) -> Dropout(p, rescale)
           -> Dense(C, softmax)
  RNN:     RecurrentLayer(H, rectify) -> Reshape(N*T, H) -> Dense(O, linear) -> Dense(C, softmax)
           -> reshape (N, T, C) -> mean over time
  LSTM:    LSTMLayer(H) (peepholes on, Lasagne 0.1's output gate) in place of RecurrentLayer
  BiRNN:   RecurrentLayer forward and RecurrentLayer(backwards=True), each with its own
           Dense(O, linear), ElemwiseSumLayer of the two, then the softmax as above
  BiLSTM, RNN2 (two stacked RecurrentLayers): the paper's future work, same pattern.
  Loss: categorical_crossentropy(mean-over-time softmax, labels).mean()
The variants of craffel's nntools code at Lasagne commit fce361f (the paper's weeks), run with
Lasagne 0.1's layers:
  rnn_nntools:     the doubled-ReLU step, h_t = rectify(rectify(x_t W + b) + rectify(h_{t-1} U)):
                   CustomRecurrentLayer(input_to_hidden=DenseLayer(H, rectify), hidden_to_hidden=
                   DenseLayer(H, b=None, rectify), nonlinearity=rectify); its DenseLayers are
                   named ``rec.in_to_hid`` and ``rec.hid_to_hid``
  birnn_learninit: the BiRNN whose backward RecurrentLayer has learn_init=True (fce361f's
                   ``learn_init=backwards``): ``rec_b.hid_init`` (1, H) is trained
  birnn_nntools:   both: the BiRNN of fce361f (doubled-ReLU steps, learnt backward initial state)
In the "zeros" case the learnt hid_init is 0 too (as Lasagne initialises it), so the backward
layer's first step has W_hh h = 0 exactly.
"""
import os
import sys

# Bit for bit on any x86-64 machine: Theano runs without a C compiler (cxx=), so every number
# comes from NumPy. Its OpenBLAS picks its kernels by CPU: pinned to Haswell's (AVX2, on every
# machine we use) and one thread. Its float64 exp and log have AVX-512 loops (numpy 1.19 and
# later) that round differently from the other CPUs' libm: left out (numpy >= 1.20 reads
# NPY_DISABLE_CPU_FEATURES; it warns about a feature the CPU lacks, which is then unused anyway).
# All before NumPy loads. Checked under emulated AMD and AVX2-only CPUs:
# tests/common/test_emulated_cpus.py.
import warnings  # noqa: E402

os.environ["OPENBLAS_CORETYPE"] = "Haswell"
os.environ["OPENBLAS_NUM_THREADS"] = "1"
os.environ["NPY_DISABLE_CPU_FEATURES"] = ("AVX512F AVX512CD AVX512_KNL AVX512_KNM AVX512_SKX "
                                          "AVX512_CLX AVX512_CNL AVX512_ICL")
warnings.filterwarnings("ignore", message="During parsing environment variable "
                        "'NPY_DISABLE_CPU_FEATURES':\nYou cannot disable CPU features .*, "
                        "since they are not supported by your machine", category=RuntimeWarning)
import numpy as np  # noqa: E402

os.environ.setdefault("THEANO_FLAGS", "floatX=float64,cxx=,device=cpu,mode=FAST_COMPILE")
import theano  # noqa: E402
import theano.tensor as T  # noqa: E402
import theano.tensor.signal.pool  # noqa: E402

# Lasagne 0.1 imports theano.tensor.signal.downsample, which Theano 1.0 renamed to pool.
sys.modules["theano.tensor.signal.downsample"] = theano.tensor.signal.pool
import lasagne  # noqa: E402
from lasagne import layers as LL  # noqa: E402

LR, MOMENTUM = 0.01, 0.9
GATE_NAMES = ("ingate", "forgetgate", "cell", "outgate")

#: case name -> (N, T, D, H, C, seed, zero_first_frame)
CASES = {
    "one": (1, 1, 7, 5, 4, 1, False),
    "batch": (3, 10, 7, 5, 4, 2, False),
    # the first frame is all zeros and recurrent biases are 0: every pre-activation at t = 0 is
    # exactly 0, where rectify's gradient (0.5) differs from torch.relu's (0)
    "zeros": (2, 4, 7, 5, 4, 3, True),
}
MODELS = ("average", "rnn", "lstm", "lstm_nopeep", "birnn", "bilstm", "rnn2",
          "rnn_nntools", "birnn_learninit", "birnn_nntools")


def recurrent(layer_in, cell, H, backwards, learn_init=False):
    if cell == "rnn":
        return LL.RecurrentLayer(layer_in, H, nonlinearity=lasagne.nonlinearities.rectify,
                                 backwards=backwards, learn_init=learn_init)
    return LL.LSTMLayer(layer_in, H, peepholes=(cell == "lstm"), backwards=backwards)


def nntools_recurrent(layer_in, H, backwards, learn_init, named, lname):
    """fce361f's RecurrentLayer in Lasagne 0.1 terms: rectifying DenseLayers inside a rectifying
    CustomRecurrentLayer. Its DenseLayers go into ``named`` as '<lname>.in_to_hid'/'.hid_to_hid'."""
    rectify = lasagne.nonlinearities.rectify
    N, _, D = layer_in.output_shape
    in_to_hid = LL.DenseLayer(LL.InputLayer((None, D)), H, nonlinearity=rectify)
    hid_to_hid = LL.DenseLayer(LL.InputLayer((None, H)), H, b=None, nonlinearity=rectify)
    named[lname + ".in_to_hid"], named[lname + ".hid_to_hid"] = in_to_hid, hid_to_hid
    return LL.CustomRecurrentLayer(layer_in, in_to_hid, hid_to_hid, nonlinearity=rectify,
                                   backwards=backwards, learn_init=learn_init)


def build(model, N, T_, D, H, C, x_var):
    """The Lasagne network of ``model``: (output p (N, C) expression builder, named layers)."""
    l_in = LL.InputLayer((N, T_, D), input_var=x_var)
    named = {}
    if model == "average":
        l_mean = LL.GlobalPoolLayer(LL.DimshuffleLayer(l_in, (0, 2, 1)), pool_function=T.mean)
        named["hidden"] = LL.DenseLayer(l_mean, H, nonlinearity=lasagne.nonlinearities.rectify)
        named["dropout"] = LL.DropoutLayer(named["hidden"], p=0.5, rescale=True)
        named["softmax"] = LL.DenseLayer(named["dropout"], C,
                                         nonlinearity=lasagne.nonlinearities.softmax)
        return named
    base = model.split("_")[0] if model != "lstm_nopeep" else model
    cell = {"rnn": "rnn", "birnn": "rnn", "rnn2": "rnn", "lstm": "lstm", "bilstm": "lstm",
            "lstm_nopeep": "lstm_nopeep"}[base]
    prefix = "rec" if cell == "rnn" else "lstm"
    branches = {"birnn": [("_f", False), ("_b", True)], "bilstm": [("_f", False), ("_b", True)]}
    learn_init = model in ("birnn_learninit", "birnn_nntools")
    outs = []
    if model == "rnn2":
        named["rec_1"] = recurrent(l_in, cell, H, False)
        named["rec_2"] = recurrent(named["rec_1"], cell, H, False)
        tops = [("", named["rec_2"])]
    else:
        tops = []
        for suffix, backwards in branches.get(base, [("", False)]):
            if model.endswith("_nntools"):
                named[prefix + suffix] = nntools_recurrent(l_in, H, backwards,
                                                           learn_init and backwards, named,
                                                           prefix + suffix)
            else:
                named[prefix + suffix] = recurrent(l_in, cell, H, backwards,
                                                   learn_init and backwards)
            tops.append((suffix, named[prefix + suffix]))
    for suffix, top in tops:
        flat = LL.ReshapeLayer(top, (N * T_, H))
        named["out" + suffix] = LL.DenseLayer(flat, H, nonlinearity=None)  # O = H
        outs.append(named["out" + suffix])
    summed = outs[0] if len(outs) == 1 else LL.ElemwiseSumLayer(outs)
    named["softmax"] = LL.DenseLayer(summed, C, nonlinearity=lasagne.nonlinearities.softmax)
    return named


def trainable(named):
    """name -> shared variable, for every trainable weight, as '<layer>.<attribute>'.

    A CustomRecurrentLayer's weights are attributes of its DenseLayers, named separately."""
    out = {}
    for lname, layer in named.items():
        for param in layer.get_params(trainable=True):
            attr = [a for a, v in vars(layer).items() if v is param]
            if attr:
                out["%s.%s" % (lname, sorted(attr)[0])] = param
    every = LL.get_all_params(named["softmax"], trainable=True)
    assert len(every) == len(out) and all(any(p is v for v in out.values()) for p in every), \
        "a trainable weight of the network has no name"
    return out


def initial_states(named):
    """The initial states that are not trained (trained ones are weights)."""
    out = {}
    for lname, layer in named.items():
        for attr in ("hid_init", "cell_init"):
            if hasattr(layer, attr) and not any(
                    getattr(layer, attr) is p for p in layer.get_params(trainable=True)):
                out["%s.%s" % (lname, attr)] = getattr(layer, attr).get_value()
    return out


def run(model, case):
    N, T_, D, H, C, seed, zero_first = CASES[case]
    rng = np.random.RandomState(1000 * seed + MODELS.index(model))
    lasagne.random.set_rng(np.random.RandomState(seed))
    x_var, y_var = T.tensor3("x"), T.ivector("labels")
    named = build(model, N, T_, D, H, C, x_var)
    weights = trainable(named)
    for key, var in sorted(weights.items()):
        shape = var.get_value().shape
        scale = 1.0 / np.sqrt(shape[0]) if len(shape) == 2 else 0.5
        value = rng.normal(0.0, scale, shape)
        if zero_first and key.split(".")[-1] in ("b", "hid_init"):
            value[:] = 0.0
        var.set_value(value)
    initial_weights = {k: var.get_value() for k, var in weights.items()}
    x = rng.normal(size=(N, T_, D))
    if zero_first:
        x[:, 0] = 0.0
    labels = rng.randint(0, C, N).astype("int32")

    if model == "average":  # one graph, so the dropout mask in p is the one we record
        hidden, dropped, p = LL.get_output([named["hidden"], named["dropout"], named["softmax"]])
        extra = [hidden, dropped]
    else:
        p = LL.get_output(named["softmax"]).reshape((N, T_, C)).mean(axis=1)
        extra = []
    loss = lasagne.objectives.categorical_crossentropy(p, y_var).mean()
    params = [weights[k] for k in sorted(weights)]
    grads = theano.grad(loss, params)
    # One compiled function: outputs from the current weights, then (recurrent models) the
    # nesterov_momentum update applied; a second call makes the second step.
    updates = [] if model == "average" else lasagne.updates.nesterov_momentum(
        loss, params, learning_rate=LR, momentum=MOMENTUM)
    f = theano.function([x_var, y_var], [p, loss] + grads + extra, updates=updates)
    outputs = f(x, labels)

    record = {"x": x, "labels": labels, "lr": LR, "momentum": MOMENTUM}
    record.update({k: value for k, value in initial_weights.items()})
    record.update(initial_states(named))
    record["p"], record["loss"] = outputs[0], outputs[1]
    for key, grad in zip(sorted(weights), outputs[2:2 + len(params)]):
        record["grad/" + key] = grad
    if model == "average":
        hidden, dropped = outputs[-2:]
        record["dropout_mask"] = np.where(dropped != 0, 2.0, 0.0)
        assert np.array_equal(hidden * record["dropout_mask"], dropped)
    else:
        f(x, labels)
        record.update({"step2/" + k: weights[k].get_value() for k in weights})
    return record


def main(out_dir, names=()):
    """Write every fixture, or only ``names`` ("rnn_nntools-zeros", ...), into ``out_dir``."""
    os.makedirs(out_dir, exist_ok=True)
    for model in MODELS:
        for case in CASES:
            if names and "%s-%s" % (model, case) not in names:
                continue
            np.savez(os.path.join(out_dir, "%s-%s.npz" % (model, case)), **run(model, case))
            print("oracle: wrote %s-%s.npz" % (model, case))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__),
                                                            "fixtures", "lasagne"),
         sys.argv[2:])
