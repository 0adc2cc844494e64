"""Intervals and paired tests with the group as the unit: known values, and the behaviours a
table relies on (issue 16)."""
import numpy as np
import pytest
from scipy.stats import norm

from experiment.analysis import stats


def names(n_groups, clips, cls="Walk"):
    """UCF-101 names: ``n_groups`` groups of ``clips`` clips, group-major order."""
    return [f"{cls}/v_{cls}_g{g + 1:02d}_c{c + 1:02d}.avi" for g in range(n_groups)
            for c in range(clips)]


def result(model, correct, labels):
    """A ``run_model`` result whose seed s is right exactly where correct[s] is."""
    correct = np.atleast_2d(correct)
    return {"model": model, "runs": [{"test_predictions": np.where(c, labels, labels + 1).tolist()}
                                     for c in correct]}


def claims(results, labels, videos=None):
    """``stats.claims_of`` for ``run_model`` results tested on ``videos``, as
    ``report.analyse`` calls it."""
    groups = None if videos is None else stats.groups_of(videos)
    return stats.claims_of({r["model"]: stats.correct_matrix(r, labels) for r in results}, groups)


def width(interval):
    return interval[2] - interval[1]


def test_groups_come_from_class_and_group_number():
    videos = ["Walk/v_Walk_g01_c01.avi", "Walk/v_Walk_g01_c02.avi", "Run/v_Run_g01_c01.avi",
              "v_Walk_g02_c01.avi", b"Walk/v_Walk_g01_c03.avi", "not_ucf.avi", "other.avi"]
    g = stats.groups_of(videos)
    assert g[0] == g[1] == g[4]                 # same class, same gNN
    assert len({g[0], g[2], g[3], g[5], g[6]}) == 5  # another class, another gNN, own groups


def test_accuracy_interval_matches_the_binomial_width():
    """400 independent videos at 50%: about +-1.96 sqrt(0.25 / 400) = +-4.9 points."""
    correct = np.zeros((1, 400), bool)
    correct[0, ::2] = True
    acc, low, high = stats.accuracy_interval(correct)
    assert acc == 0.5
    assert 0.44 < low < 0.462 and 0.538 < high < 0.56


def test_identical_seeds_carry_no_more_than_one():
    rng = np.random.default_rng(0)
    one = rng.random((1, 300)) < 0.7
    groups = np.arange(300) // 3
    assert (stats.accuracy_interval(np.repeat(one, 3, axis=0), groups)
            == stats.accuracy_interval(one, groups))


def test_seed_variance_is_inside_the_interval():
    """Seeds at 40/50/60% on 600 videos: the interval adds the seeds' spread (bootstrap s.d. of
    their mean about 4.7 points) to the test set's (2.0): about 2 x 1.96 x 5.1 = 20 points wide,
    against 8 for three identical seeds at 50%."""
    rng = np.random.default_rng(2)
    order = rng.permutation(600)
    spread = np.array([np.isin(np.arange(600), order[:k]) for k in (240, 300, 360)])
    same = np.repeat(spread[1:2], 3, axis=0)
    assert stats.accuracy_interval(spread)[0] == pytest.approx(0.5)
    assert width(stats.accuracy_interval(same)) == pytest.approx(0.08, abs=0.01)
    assert width(stats.accuracy_interval(spread)) > 0.15


@pytest.mark.parametrize("value", [True, False])
def test_perfect_or_null_accuracy_has_a_real_interval(value):
    """100% (0%) on 707 groups: the Wilson interval at n_eff = 707 groups, not a point."""
    correct = np.full((3, 3783), value)
    groups = np.arange(3783) % 707
    acc, low, high = stats.accuracy_interval(correct, groups)
    expected = stats.wilson(float(value), 707)
    assert (acc, low, high) == (float(value), *expected)
    z2 = norm.ppf(0.975) ** 2
    assert high - low == pytest.approx(z2 / (707 + z2), rel=1e-9)    # Wilson at 0 or 1: 0.54 points


def test_group_bootstrap_is_wider_when_clips_of_a_group_agree():
    """Groups of 5 clips that succeed or fail together: the effective sample size is the number
    of groups, so the interval is sqrt(5) = 2.24 times the video bootstrap's; independent clips:
    the same width either way."""
    rng = np.random.default_rng(3)
    groups = np.repeat(np.arange(200), 5)
    together = np.repeat(rng.random(200) < 0.5, 5)[None]
    ratio = width(stats.accuracy_interval(together, groups)) / width(stats.accuracy_interval(together))
    assert 1.9 < ratio < 2.6
    independent = rng.random((1, 1000)) < 0.5
    ratio = (width(stats.accuracy_interval(independent, groups))
             / width(stats.accuracy_interval(independent)))
    assert 0.85 < ratio < 1.15


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
    assert stats.paired_difference(a[None], a[None]) == (0.0, 0.0, 0.0)


def test_paired_difference_resamples_the_same_groups_for_both_models():
    """A and B share a strong group effect: the paired interval is the width of the
    discordances alone, far narrower than either accuracy's."""
    rng = np.random.default_rng(4)
    groups = np.repeat(np.arange(100), 4)
    base = np.repeat(rng.random(100) < 0.5, 4)
    b = base.copy()
    b[np.flatnonzero(~base)[:20]] = True
    difference, low, high = stats.paired_difference(b[None], base[None], groups)
    assert difference == pytest.approx(20 / 400)
    assert high - low < 0.5 * width(stats.accuracy_interval(base[None], groups))


def test_sign_flip_test_known_values():
    assert stats.sign_flip_test(np.ones(10)) == pytest.approx(2 / 2 ** 10)   # exact, all one way
    assert stats.sign_flip_test(np.r_[np.ones(4), np.zeros(50)]) == pytest.approx(2 / 16)
    assert stats.sign_flip_test(np.zeros(7)) == 1.0
    assert stats.sign_flip_test(np.array([1.0, -1.0] * 5)) == pytest.approx(1.0)
    # exact: of the 2^3 flips of (3, 1, 1), those with |sum| >= 5: (+,+,+) and (-,-,-)
    assert stats.sign_flip_test(np.array([3.0, 1.0, 1.0])) == pytest.approx(2 / 8)
    # 30 non-zero groups: Monte Carlo, 20,000 flips; every flip but the identity is smaller
    p = stats.sign_flip_test(np.ones(30))
    assert p == pytest.approx(2 / 20_001, rel=0.01)
    assert stats.sign_flip_test(np.ones(30)) == p             # fixed seed


def test_holm_known_values():
    assert stats.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert stats.holm([0.5]) == [0.5]


@pytest.mark.parametrize("low, high, relation, p, expected", [
    (0.01, 0.05, ">", 0.01, "holds"), (-0.05, -0.01, ">", 0.01, "reversed"),
    (-0.01, 0.03, ">", 0.01, "not shown"), (-0.05, -0.01, "<", 0.01, "holds"),
    (0.01, 0.05, "<", 0.01, "reversed"), (0.0, 0.02, ">", 0.01, "not shown"),
    (0.01, 0.05, ">", 0.05, "not shown"), (-0.05, -0.01, "<", 0.2, "not shown")])
def test_verdicts_need_the_interval_and_the_test(low, high, relation, p, expected):
    assert stats.verdict(low, high, relation, p) == expected


def test_four_videos_right_only_by_one_model_do_not_make_a_claim():
    """The issue's example: 4 videos right only by the RNN, none only by Average, in 4 groups
    of 100: the interval is above 0, but the exact sign-flip p is 2 / 2^4 = 0.125."""
    videos = names(100, 2)
    labels = np.zeros(200, int)
    base = np.arange(200) % 2 == 0
    rnn = base.copy()
    rnn[[1, 3, 5, 7]] = True
    (claim,) = claims([result("average", base, labels), result("rnn", rnn, labels)],
                      labels, videos)
    assert claim["difference"] == pytest.approx(0.02) and claim["low"] > 0
    assert claim["p"] == pytest.approx(0.125) and claim["verdict"] == "not shown"


def test_a_large_difference_over_many_groups_holds_and_reverses():
    """150 groups of 4 clips, Average right on every other group. The RNN is right on one more
    clip in 60 of its wrong groups (+10 points), the BiRNN wrong on one more in 60 of its right
    groups; the LSTM is Average. "RNN > Average" and "LSTM < RNN" hold, "BiRNN > Average" is
    reversed (sign-flip p about 1e-4 each, 3e-4 after Holm)."""
    videos = names(150, 4)
    labels = np.zeros(600, int)
    average = np.repeat(np.arange(150) % 2 == 0, 4)
    first_clip = np.arange(0, 600, 4)
    better, worse = average.copy(), average.copy()
    better[first_clip[~average[first_clip]][:60]] = True
    worse[first_clip[average[first_clip]][:60]] = False
    results = [result("average", np.stack([average] * 3), labels),
               result("rnn", np.stack([better] * 3), labels),
               result("lstm", np.stack([average] * 3), labels),
               result("birnn", np.stack([worse] * 3), labels)]
    found = claims(results, labels, videos)
    assert {(c["a"], c["b"]): c["verdict"] for c in found} == {
        ("rnn", "average"): "holds", ("birnn", "average"): "reversed", ("lstm", "rnn"): "holds"}
    assert all(c["p_holm"] < 1e-3 for c in found)


def test_holm_turns_a_lone_claim_into_not_shown_among_three():
    """RNN ahead on 6 groups of 100 (one video each): exact p = 2 / 2^6 = 0.031 and the
    interval above 0. Alone it holds; among three claims Holm multiplies it by 3 (0.094)."""
    videos = names(100, 4)
    labels = np.zeros(400, int)
    average = np.arange(400) % 2 == 0
    rnn = average.copy()
    rnn[np.arange(6) * 4 + 1] = True
    alone = claims([result("average", average, labels), result("rnn", rnn, labels)],
                   labels, videos)
    assert alone[0]["p"] == pytest.approx(2 / 64) and alone[0]["low"] > 0
    assert alone[0]["verdict"] == "holds"
    three = claims([result("average", average, labels), result("rnn", rnn, labels),
                    result("lstm", rnn, labels), result("birnn", average, labels)],
                   labels, videos)
    by_pair = {(c["a"], c["b"]): c for c in three}
    assert by_pair[("rnn", "average")]["p_holm"] == pytest.approx(3 * 2 / 64)
    assert by_pair[("rnn", "average")]["verdict"] == "not shown"


def test_claims_only_for_present_models():
    labels = np.zeros(20, int)
    ok = np.ones(20, bool)
    results = [result("average", ok, labels), result("rnn", ok, labels)]
    assert [c["a"] for c in claims(results, labels)] == ["rnn"]


def test_drift_ledger_uses_the_same_rule_over_its_rows():
    """A drift row 6 groups ahead (exact p = 0.031, interval above 0) is "larger than noise"
    alone, and not among three rows once Holm corrects over the ledger."""
    from types import SimpleNamespace

    from experiment.studies import drift
    videos = names(100, 4)
    labels = np.zeros(400, int)
    paper = np.arange(400) % 2 == 0
    variant = paper.copy()
    variant[np.arange(6) * 4 + 1] = True

    def row(knob, correct):
        base = {**result("rnn", paper, labels), "test_acc_mean": paper.mean(),
                "test_videos": videos}
        other = {**result("rnn", correct, labels), "test_acc_mean": correct.mean()}
        return {"knob": knob, "codes": None, "accuracy": drift.accuracy_row(base, other, labels)}

    def larger_than_noise(ledger):
        stats.adjust([r["accuracy"] for r in ledger])
        table = drift.markdown(ledger, SimpleNamespace(), "")
        return [line.rsplit("|", 2)[1].strip() for line in table.splitlines()
                if line.startswith("| knob")]

    assert larger_than_noise([row("knob a", variant)]) == ["yes"]
    assert larger_than_noise([row("knob a", variant), row("knob b", paper),
                              row("knob c", paper)]) == ["no", "no", "no"]


def test_recomputation_from_predictions_csv(tmp_path, capsys):
    """``python -m experiment.analysis.stats predictions.csv`` gives the verdicts ``claims`` gives."""
    videos = names(150, 4)
    average = np.repeat(np.arange(150) % 2 == 0, 4)
    rnn = average.copy()
    rnn[np.arange(0, 600, 4)[~average[::4]][:60]] = True
    path = tmp_path / "predictions.csv"
    with open(path, "w") as f:
        f.write("model,seed,video,true_label,predicted_label\n")
        for model, correct in (("average", average), ("rnn", rnn)):
            for seed in range(2):
                f.writelines(f"{model},{seed},{v},3,{3 if ok else 4}\n" for v, ok in zip(videos, correct))
    assert stats.main([str(path)]) == 0
    out = capsys.readouterr().out
    labels = np.full(600, 3)
    (claim,) = claims([result("average", np.stack([average] * 2), labels),
                       result("rnn", np.stack([rnn] * 2), labels)], labels, videos)
    assert claim["verdict"] == "holds"
    assert f"| rnn > average | +10.0 [{100 * claim['low']:+.1f}, {100 * claim['high']:+.1f}]" in out
    assert out.rstrip().endswith("| holds |") and "600 test videos in 150 groups" in out
    (pair,) = stats.pairs_of({"average": np.stack([average] * 2), "rnn": np.stack([rnn] * 2)},
                             stats.groups_of(videos))
    assert f"| average - rnn | -10.0 [{100 * pair['low']:+.1f}, {100 * pair['high']:+.1f}] " \
           f"| {pair['p']:.2g} | {pair['p_holm']:.2g} |" in out
    assert stats.main([str(tmp_path / "missing.csv")]) == 1
    capsys.readouterr()
    (tmp_path / "table.json").write_text('{"models": []}')
    assert stats.main([str(tmp_path / "table.json")]) == 1
    assert capsys.readouterr().err.strip() == (f"error: {tmp_path / 'table.json'} is not a "
                                               "predictions.csv of a results folder (no column "
                                               "'model' of model, seed, video, true_label, "
                                               "predicted_label)")
    text = path.read_text().splitlines()
    text[3] = text[3].replace("average,0,", "average,x,")
    path.write_text("\n".join(text) + "\n")
    assert stats.main([str(path)]) == 1                # once: "invalid literal for int()"
    assert capsys.readouterr().err.strip() == (f"error: {path}, line 4: seed 'x' is not a "
                                               "run's seed (a whole number)")
    with pytest.raises(SystemExit) as help_:
        stats.main(["--help"])
    assert help_.value.code == 0 and "predictions.csv" in capsys.readouterr().out


def test_a_reader_that_leaves_is_not_an_error(tmp_path):
    """``python -m experiment.analysis.stats predictions.csv | head -1`` printed ``error:
    [Errno 32] Broken pipe``: the reader's leaving ends the command without a word."""
    import os
    import subprocess
    import sys
    path = tmp_path / "predictions.csv"
    with open(path, "w") as f:
        f.write("model,seed,video,true_label,predicted_label\n")
        f.writelines(f"{m},0,{v},3,3\n" for m in ("average", "rnn") for v in names(20, 1))
    read, write = os.pipe()
    os.close(read)                                      # the reader has left
    command = subprocess.run([sys.executable, "-m", "experiment.analysis.stats", str(path)],
                             stdout=write, stderr=subprocess.PIPE, text=True)
    os.close(write)
    assert command.stderr == "" and command.returncode == 1


def test_another_broken_pipe_is_still_an_error(capsys):
    """Only our reader's leaving is silence: a broken pipe of something else (a worker's, a
    download's) is said, as any error."""
    from common import commands

    def body():
        raise BrokenPipeError(32, "Broken pipe")
    assert commands.guarded(body, (OSError,)) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Broken pipe" in err


def test_the_claims_table_says_where_the_papers_own_table_supports_them():
    """RNN > Average holds on the paper's validation numbers (52.2 vs 50.5), not on its test
    numbers (49.1 vs 50.0); BiRNN > Average and LSTM < RNN hold on both."""
    from experiment.analysis.report import paper_support
    assert paper_support("rnn", ">", "average") == ("validation 52.2 vs 50.5: yes; "
                                                    "test 49.1 vs 50.0: no")
    assert paper_support("birnn", ">", "average").count("yes") == 2
    assert paper_support("lstm", "<", "rnn") == ("validation 46.7 vs 52.2: yes; "
                                                 "test 45.9 vs 49.1: yes")


def test_a_single_differing_group_is_no_evidence():
    """With one group differing, its two sign flips are equally extreme: p = 1 (the drift
    ledger met this: two models that differ on one group's clips only)."""
    assert stats.sign_flip_test([0.0, 0.0, 0.5, 0.0]) == 1.0
    assert stats.sign_flip_test([0.0, 0.0]) == 1.0
    assert stats.sign_flip_test([1.0, 1.0]) == 0.5           # exact: 2 of 4 flips as extreme
