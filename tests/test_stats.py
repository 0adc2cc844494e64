"""Intervals and paired tests: known values, and the behaviours a table relies on."""
import numpy as np
import pytest

from rnn_models import stats


def test_accuracy_interval_matches_the_binomial_width():
    """400 videos at 50%: the bootstrap interval is about +-1.96 sqrt(0.25 / 400) = +-4.9 points."""
    correct = np.zeros((1, 400), bool)
    correct[0, ::2] = True
    acc, low, high = stats.accuracy_interval(correct)
    assert acc == 0.5
    assert 0.44 < low < 0.462 and 0.538 < high < 0.56


def test_seeds_move_with_their_video():
    """Three seeds that agree on every video carry no more information than one: same interval."""
    rng = np.random.default_rng(0)
    one = rng.random((1, 300)) < 0.7
    assert stats.accuracy_interval(np.repeat(one, 3, axis=0)) == stats.accuracy_interval(one)


def test_perfect_accuracy_has_a_point_interval():
    assert stats.accuracy_interval(np.ones((3, 50), bool)) == (1.0, 1.0, 1.0)


def test_exact_mcnemar_known_values():
    a = np.array([True] * 10 + [False] * 5 + [True] * 20)
    b = np.array([False] * 10 + [False] * 5 + [True] * 20)
    assert stats.mcnemar_exact(a, b) == pytest.approx(2 * 0.5 ** 10)   # 10 discordant, all one way
    assert stats.mcnemar_exact(b, a) == stats.mcnemar_exact(a, b)
    assert stats.mcnemar_exact(a, a) == 1.0                              # no discordant video
    c = np.array([True, False] * 10)                                     # 10 vs 10: p = 1
    assert stats.mcnemar_exact(c, ~c) == pytest.approx(1.0)


def test_paired_difference_sees_what_two_separate_intervals_miss():
    """B is A plus 12 more videos right out of 400: the two accuracies' intervals overlap, but
    the paired interval of the difference excludes 0."""
    rng = np.random.default_rng(1)
    a = rng.random(400) < 0.5
    b = a.copy()
    b[np.flatnonzero(~a)[:12]] = True
    _, _, high_a = stats.accuracy_interval(a[None])
    _, low_b, _ = stats.accuracy_interval(b[None])
    assert low_b < high_a                                      # unpaired: inconclusive
    difference, low, high = stats.paired_difference(b[None], a[None])
    assert difference == pytest.approx(12 / 400) and 0 < low <= high
    assert stats.mcnemar_exact(b, a) == pytest.approx(2 * 0.5 ** 12)
    assert stats.paired_difference(a[None], a[None]) == (0.0, 0.0, 0.0)


@pytest.mark.parametrize("low, high, relation, expected", [
    (0.01, 0.05, ">", "holds"), (-0.05, -0.01, ">", "reversed"), (-0.01, 0.03, ">", "not shown"),
    (-0.05, -0.01, "<", "holds"), (0.01, 0.05, "<", "reversed"), (0.0, 0.02, ">", "not shown")])
def test_verdicts(low, high, relation, expected):
    assert stats.verdict(low, high, relation) == expected


def test_claims_judge_the_papers_three_claims():
    labels = np.arange(200) % 4
    right, wrong = labels, (labels + 1) % 4

    def result(model, n_right):
        predictions = np.where(np.arange(200) < n_right, right, wrong)
        return {"model": model, "runs": [{"test_predictions": predictions.tolist()}] * 2}

    results = [result("average", 100), result("rnn", 160), result("lstm", 158),
               result("birnn", 100)]
    verdicts = {(c["a"], c["b"]): c["verdict"] for c in stats.claims(results, labels)}
    assert verdicts == {("rnn", "average"): "holds", ("birnn", "average"): "not shown",
                        ("lstm", "rnn"): "not shown"}
    assert [c["a"] for c in stats.claims(results[:2], labels)] == ["rnn"]   # only present models
