"""Late fusion of two streams' class scores: the paper's "dual stream model similar to Simonyan
et al." (Future Work), on the class probabilities p (N, C) of one model kind and one seed's
RGB and optical-flow models (``train.evaluate``):

    average:     p = 1/2 p_rgb + 1/2 p_flow
    learnt:      p = w p_rgb + (1 - w) p_flow,   w = argmax over WEIGHTS of validation accuracy

The learnt weight is chosen on the validation split (never the test split); ties go to the
weight nearest 1/2 (the average), then to the smaller one. One scalar w in [0, 1], not Simonyan
& Zisserman's SVM (our choice, ``configurations``, "stream fusion"; why: docs/future.md,
"Motion stream and fusion"). The predicted class is ``p.argmax(1)``, as for one stream.
"""
import numpy as np

from configurations import FUTURE

#: The learnt weight's grid: w = 0, 0.05, ..., 1 (w = 1: RGB alone; w = 0: flow alone).
WEIGHTS = FUTURE.fusion_weights


def fuse(p_rgb, p_flow, w=0.5):
    """p = w p_rgb + (1 - w) p_flow: (N, C) class probabilities of the two streams, fused."""
    p_rgb, p_flow = np.asarray(p_rgb, dtype=np.float64), np.asarray(p_flow, dtype=np.float64)
    if p_rgb.shape != p_flow.shape:
        raise ValueError(f"the two streams scored different sets: {p_rgb.shape} vs "
                         f"{p_flow.shape} (N videos, C classes); extract both streams from the "
                         "same videos")
    if not 0.0 <= w <= 1.0:
        raise ValueError(f"fusion weight {w}: must lie in [0, 1]")
    return w * p_rgb + (1.0 - w) * p_flow


def accuracy(p, labels):
    """Fraction of rows of p (N, C) whose argmax is the label (N,)."""
    return float(np.mean(np.asarray(p).argmax(axis=1) == np.asarray(labels)))


def weight_curve(p_rgb, p_flow, labels, weights=WEIGHTS):
    """[(w, accuracy of the fused scores)] for each w of ``weights``: on validation, the curve
    the learnt weight is chosen from (and plotted)."""
    return [(w, accuracy(fuse(p_rgb, p_flow, w), labels)) for w in weights]


def choose_weight(p_rgb, p_flow, labels, weights=WEIGHTS):
    """The w of ``weights`` with the best fused accuracy on (p_rgb, p_flow, labels), which must
    be validation scores; ties: nearest 1/2, then the smaller w. Returns (w, accuracy)."""
    curve = weight_curve(p_rgb, p_flow, labels, weights)
    best = max(a for _, a in curve)
    return min(((w, a) for w, a in curve if a == best), key=lambda wa: (abs(wa[0] - 0.5), wa[0]))
