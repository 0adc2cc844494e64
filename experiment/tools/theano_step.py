"""One training step of the paper's own stack (Theano 1.0.5 + Lasagne 0.1, CPU), timed.

Runs in the oracle's Python 3.7 venv (``make oracle``), called by ``python -m experiment.tools.bench``:

    .venv-oracle/bin/python experiment/tools/theano_step.py MODEL [N T D H C STEPS]

Builds MODEL as ``parity_tests/lasagne_oracle.py`` does, float32, the cross-entropy of the
time-averaged softmax, ``lasagne.updates.nesterov_momentum``; prints JSON: seconds per step
(median of STEPS calls after one warm-up) and the compile time. Theano compiles its C ops with
g++ where there is one (as the paper's stack ran), else runs its Python/NumPy implementations
(minutes per RNN step); the JSON says which.
"""
import json
import os
import shutil
import sys
import time

CXX = shutil.which("g++") or ""
os.environ["THEANO_FLAGS"] = f"floatX=float32,cxx={CXX},device=cpu,mode=FAST_RUN"
# sys.path[0] is rnn_models/, whose lasagne.py would hide the real Lasagne: the oracle instead
sys.path[0] = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "parity_tests")
import numpy as np  # noqa: E402
import lasagne_oracle as O  # noqa: E402


def main(model, N=64, T_=10, D=4096, H=512, C=101, steps=3):
    theano, lasagne, LL = O.theano, O.lasagne, O.LL
    x_var, y_var = O.T.tensor3("x"), O.T.ivector("labels")
    named = O.build(model, N, T_, D, H, C, x_var)
    params = LL.get_all_params(named["softmax"], trainable=True)
    p = LL.get_output(named["softmax"])
    if model != "average":
        p = p.reshape((N, T_, C)).mean(axis=1)
    loss = lasagne.objectives.categorical_crossentropy(p, y_var).mean()
    updates = lasagne.updates.nesterov_momentum(loss, params, learning_rate=0.001, momentum=0.9)
    start = time.perf_counter()
    f = theano.function([x_var, y_var], loss, updates=updates)
    compile_s = time.perf_counter() - start
    rng = np.random.RandomState(0)
    x = np.abs(rng.randn(N, T_, D)).astype("float32")
    y = rng.randint(0, C, N).astype("int32")
    f(x, y)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        f(x, y)
        times.append(time.perf_counter() - start)
    print(json.dumps({"model": model, "seconds_per_step": float(np.median(times)),
                      "compile_s": compile_s, "cxx": CXX or None}))


if __name__ == "__main__":
    args = sys.argv[1:]
    main(args[0], *[int(a) for a in args[1:]])
