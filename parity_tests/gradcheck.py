"""Central finite differences, to check hand-derived gradients (as CS231n's gradient_check.py)."""
import numpy as np


def numerical_gradient(f, x, h=1e-5):
    """df/dx by central differences, (f(x + h e_i) - f(x - h e_i)) / 2h for every entry i.

    f: a function of no arguments returning a float, reading ``x`` (changed in place, restored).
    """
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        f_plus = f()
        flat[i] = old - h
        f_minus = f()
        flat[i] = old
        gflat[i] = (f_plus - f_minus) / (2 * h)
    return grad


def rel_error(a, b):
    """max |a - b| / (max |a| + max |b|): the error relative to the array's scale.

    CS231n divides entry by entry; for a whole gradient array we divide by the array's scale,
    because an entry near zero (a dead ReLU unit, a far time step) carries the finite
    differences' rounding noise (~1e-11 absolute at h = 1e-5), not a gradient error.
    Two all-zero arrays have error 0.
    """
    scale = np.max(np.abs(a)) + np.max(np.abs(b))
    return 0.0 if scale == 0 else float(np.max(np.abs(a - b)) / scale)
