"""Is a difference real? Intervals and paired tests on the same test videos (scipy.stats).

The paper's models differ by about one point on 3,783 test videos; whether such a gap is more
than the luck of the test set is what these functions say. Input everywhere: ``correct``, a
bool array (S, N): whether seed s's model classified test video n correctly. All models of a
table are tested on the same videos, so comparisons are *paired*.

- ``accuracy_interval(correct)``: the accuracy (mean over seeds and videos) and its 95%
  interval, a percentile bootstrap over test videos: each of 10,000 resamples draws N videos
  with replacement and keeps every seed's answer on them. Seeds are not independent samples of
  the test set (they see the same videos), so they move with their video; the interval is the
  test set's sampling uncertainty of the seed-averaged accuracy.
- ``mcnemar_exact(a, b)``: the exact McNemar test for one seed: under "equally accurate" the
  videos that exactly one model gets right split 50/50 between the two, so the p-value is the
  two-sided binomial test (``scipy.stats.binomtest``) of one side's count among them.
- ``paired_difference(correct_a, correct_b)``: accuracy(A) - accuracy(B) with a 95% paired
  bootstrap interval over videos (the same resampled videos for both models).
- ``claims(results)``: the paper's three claims (RNN > Average, BiRNN > Average, LSTM < RNN)
  judged at the 5% level: "holds" when the 95% interval of the difference lies entirely on the
  claimed side of 0, "reversed" when it lies entirely on the other, "not shown" otherwise.
"""
import numpy as np
from scipy import stats

N_RESAMPLES = 10_000
LEVEL = 0.95
#: The paper's claims (Results, Conclusions): (model, relation, other model).
CLAIMS = (("rnn", ">", "average"), ("birnn", ">", "average"), ("lstm", "<", "rnn"))


def _per_video(correct):
    """(S, N) bool -> (N,) float: each video's share of seeds that got it right."""
    correct = np.asarray(correct, dtype=float)
    return correct.reshape(-1, correct.shape[-1]).mean(axis=0)


def _bootstrap(data, statistic, seed=0):
    result = stats.bootstrap(data, statistic, n_resamples=N_RESAMPLES, confidence_level=LEVEL,
                             method="percentile", paired=len(data) > 1, vectorized=True,
                             random_state=np.random.default_rng(seed))
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def accuracy_interval(correct, seed=0):
    """(accuracy, low, high): seed-averaged accuracy and its 95% bootstrap interval over videos."""
    per_video = _per_video(correct)
    if np.all(per_video == per_video[0]):     # every resample gives the same accuracy
        return float(per_video[0]), float(per_video[0]), float(per_video[0])
    low, high = _bootstrap((per_video,), lambda v, axis: v.mean(axis=axis), seed)
    return float(per_video.mean()), low, high


def mcnemar_exact(correct_a, correct_b):
    """Exact McNemar p-value (two-sided) for one seed's two models on the same videos."""
    a, b = np.asarray(correct_a, bool), np.asarray(correct_b, bool)
    only_a, only_b = int(np.sum(a & ~b)), int(np.sum(~a & b))
    if only_a + only_b == 0:
        return 1.0
    return float(stats.binomtest(only_a, only_a + only_b, 0.5).pvalue)


def paired_difference(correct_a, correct_b, seed=0):
    """(difference, low, high): accuracy(A) - accuracy(B), 95% paired bootstrap over videos."""
    a, b = _per_video(correct_a), _per_video(correct_b)
    difference = float(a.mean() - b.mean())
    if np.all(a - b == (a - b)[0]):
        return difference, difference, difference
    low, high = _bootstrap((a, b), lambda x, y, axis: x.mean(axis=axis) - y.mean(axis=axis), seed)
    return difference, low, high


def verdict(low, high, relation):
    """'holds', 'reversed' or 'not shown' for the claim ``A relation B`` (">" or "<") given the
    95% interval [low, high] of accuracy(A) - accuracy(B)."""
    sign = 1 if relation == ">" else -1
    if sign * low > 0 and sign * high > 0:
        return "holds"
    if sign * low < 0 and sign * high < 0:
        return "reversed"
    return "not shown"


def correct_matrix(result, labels):
    """(S, N) bool: the runs' test predictions of one model result against the labels."""
    labels = np.asarray(labels)
    return np.array([np.asarray(run["test_predictions"]) == labels for run in result["runs"]])


def compare(a, b, labels):
    """The paired comparison of two model results (``run_model``'s) on the same test videos."""
    ca, cb = correct_matrix(a, labels), correct_matrix(b, labels)
    difference, low, high = paired_difference(ca, cb)
    return {"a": a["model"], "b": b["model"], "difference": difference, "low": low,
            "high": high, "mcnemar_p": [mcnemar_exact(x, y) for x, y in zip(ca, cb)]}


def claims(results, labels):
    """The paper's claims whose two models are in ``results``, each with its verdict."""
    by_model = {r["model"]: r for r in results}
    out = []
    for a, relation, b in CLAIMS:
        if a in by_model and b in by_model:
            c = compare(by_model[a], by_model[b], labels)
            out.append({**c, "relation": relation, "verdict": verdict(c["low"], c["high"], relation)})
    return out
