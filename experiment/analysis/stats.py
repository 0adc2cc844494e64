"""Is a difference real? Intervals and paired tests with the UCF-101 *group* as the unit; the
method and why: docs/training.md, "Is a difference real?". Here, exactly what is computed.

Inputs everywhere: ``correct``, a bool array (S, N): whether seed s's model classified test
video n correctly, and ``groups``, the (N,) group of each video (``groups_of``: the clips of
``v_<Class>_g<NN>_c<MM>`` come from one long video). All models of a table are tested on the
same videos, so comparisons are *paired*.

**Intervals** (``accuracy_interval``, ``paired_difference``): the two-way percentile bootstrap
of docs/training.md (groups, and each model's seeds, drawn with replacement; the same groups
for both models of a pair), 10,000 resamples, fixed seed; a resample's accuracy is the clips
right over the drawn groups and seeds / their count. Not ``scipy.stats.bootstrap``: it
resamples one axis of observations, not groups and seeds together. Where every resample gives
the same accuracy, or the interval reaches 0 or 1, it is widened to cover the Wilson score
interval at n_eff = G, the clips of a group counted as one observation.

**The paired test** (``sign_flip_test``): per group g, D_g = the clips right by A minus those
right by B, each averaged over its model's seeds (so sum_g D_g / N is the table's difference).
Under "A and B equally accurate" each D_g is as likely +|D_g| as -|D_g|: the null distribution
of sum_g D_g is that of every sign flip (``scipy.stats.permutation_test`` on one sample).
Exact (all 2^K flips) when K, the number of non-zero D_g, is at most 16; otherwise 20,000
random flips, fixed seed. Two-sided. The test conditions on the trained networks (are *these*
networks equally accurate on the population of groups?); the interval brings the seeds in.

**Verdicts** (``verdict``, ``adjust``): "holds" needs both the 95% interval of A - B on the
claimed side of 0 and Holm's p < 0.05 (over the claims, pairs or rows of one table). Why both:
4 videos right only by A and 0 only by B (in 4 groups) give an interval above 0 but
p = 2 / 2^4 = 0.125 (issue 16).
"""
import csv

import numpy as np
from scipy import stats

N_RESAMPLES = 10_000
N_FLIPS = 20_000
EXACT_MAX_GROUPS = 16
LEVEL = 0.95
ALPHA = 0.05
#: The paper's claims, (model, relation, other model): RNN and BiRNN > Average in its Results'
#: text; LSTM < RNN in its table alone (46.7 and 45.9 vs 52.2 and 49.1), which the text leaves.
CLAIMS = (("rnn", ">", "average"), ("birnn", ">", "average"), ("lstm", "<", "rnn"))
#: One caption line for every table that shows verdicts.
METHOD = ("95% intervals: bootstrap over UCF-101 groups (class, gNN) and seeds together; "
          "p: two-sided sign-flip permutation test on per-group differences (exact up to 16 "
          "non-zero groups), Holm-corrected over the rows of the table; a verdict needs both "
          "the interval to exclude 0 and Holm's p < 0.05.")


def groups_of(videos):
    """(N,) int: the group of each video, (class, gNN) read from its UCF-101 name
    ``[Class/]v_<Class>_g<NN>_c<MM>.avi``; a name that is not UCF-101's is its own group."""
    from caffe_extract.ucf101 import parse_name
    keys = []
    for video in videos:
        video = video.decode() if isinstance(video, bytes) else str(video)
        parsed = parse_name(video)
        keys.append(parsed[:2] if parsed else ("", video))
    _, codes = np.unique(np.array([f"{c}\0{g}" for c, g in keys]), return_inverse=True)
    return codes


def _group_counts(correct, groups):
    """(S, G) clips right per seed and group, and (G,) clips per group."""
    correct = np.atleast_2d(np.asarray(correct, dtype=float))            # (S, N)
    groups = np.arange(correct.shape[1]) if groups is None else np.asarray(groups)
    _, index = np.unique(groups, return_inverse=True)
    n_groups = index.max() + 1
    right = np.stack([np.bincount(index, weights=row, minlength=n_groups) for row in correct])
    return right, np.bincount(index, minlength=n_groups).astype(float)


def _resampled_accuracies(right, sizes, group_weights, rng):
    """(B,) accuracies: groups weighted by ``group_weights`` (B, G), seeds drawn with
    replacement (B draws of S)."""
    n_seeds = right.shape[0]
    seed_weights = rng.multinomial(n_seeds, np.full(n_seeds, 1 / n_seeds), size=len(group_weights))
    per_group = seed_weights @ right / n_seeds                           # (B, G)
    return (per_group * group_weights).sum(axis=1) / (group_weights @ sizes)


def _group_weights(n_resamples, n_groups, rng):
    """(B, G): how often each group is drawn in each of B resamples."""
    drawn = rng.integers(0, n_groups, size=(n_resamples, n_groups))
    offsets = np.arange(n_resamples)[:, None] * n_groups
    return np.bincount((drawn + offsets).ravel(), minlength=n_resamples * n_groups).reshape(
        n_resamples, n_groups).astype(float)


def _bootstrap(rights, sizes, seed, chunk=1000):
    """[(N_RESAMPLES,) accuracies of each model]: each resample draws the groups once for all
    ``rights`` (S, G) and the seeds for each model on its own (in chunks: bounded memory; the
    groups from their own random stream, so the same groups whatever the number of seeds)."""
    group_rng, seed_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    out = [[] for _ in rights]
    for start in range(0, N_RESAMPLES, chunk):
        weights = _group_weights(min(chunk, N_RESAMPLES - start), len(sizes), group_rng)
        for resampled, right in zip(out, rights):
            resampled.append(_resampled_accuracies(right, sizes, weights, seed_rng))
    return [np.concatenate(resampled) for resampled in out]


def _percentiles(values):
    tail = 100 * (1 - LEVEL) / 2
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def wilson(accuracy, n_eff):
    """The 95% Wilson score interval of a proportion ``accuracy`` observed on ``n_eff`` units."""
    from statsmodels.stats.proportion import proportion_confint
    low, high = proportion_confint(accuracy * n_eff, n_eff, alpha=1 - LEVEL, method="wilson")
    return float(low), float(high)


def accuracy_interval(correct, groups=None, seed=0):
    """(accuracy, low, high): the accuracy (mean over seeds and videos) and its 95% interval,
    groups and seeds resampled together (module docstring); ``groups=None``: every video its
    own group. Never a point at 0% or 100%."""
    right, sizes = _group_counts(correct, groups)
    accuracy = float(right.sum() / (right.shape[0] * sizes.sum()))
    low, high = _percentiles(_bootstrap([right], sizes, seed)[0])
    if low == high or low <= 0 or high >= 1:
        w_low, w_high = wilson(accuracy, len(sizes))
        low, high = min(low, w_low), max(high, w_high)
    return accuracy, low, high


def paired_difference(correct_a, correct_b, groups=None, seed=0):
    """(difference, low, high): accuracy(A) - accuracy(B) on the same videos, its 95% interval
    with the same groups drawn for both models and each model's seeds drawn on its own."""
    right_a, sizes = _group_counts(correct_a, groups)
    right_b, _ = _group_counts(correct_b, groups)
    difference = float(right_a.mean(axis=0).sum() / sizes.sum()
                       - right_b.mean(axis=0).sum() / sizes.sum())
    resampled_a, resampled_b = _bootstrap([right_a, right_b], sizes, seed)
    low, high = _percentiles(resampled_a - resampled_b)
    return difference, low, high


def sign_flip_test(differences, seed=0):
    """Two-sided p-value of "the D_g are symmetric about 0" (module docstring)."""
    d = np.asarray(differences, dtype=float)
    d = d[d != 0]
    if len(d) <= 1:     # no flip, or one: +|d| and -|d| are equally extreme (scipy needs two)
        return 1.0
    exact = len(d) <= EXACT_MAX_GROUPS
    result = stats.permutation_test((d,), lambda x, axis: x.sum(axis=axis),
                                    permutation_type="samples", vectorized=True,
                                    n_resamples=2 ** len(d) if exact else N_FLIPS,
                                    batch=2 ** 16, alternative="two-sided",
                                    random_state=np.random.default_rng(seed))
    return float(min(result.pvalue, 1.0))


def holm(p_values):
    """Holm's step-down adjusted p-values (controls the family-wise error over the list)."""
    from statsmodels.stats.multitest import multipletests
    if len(p_values) == 0:
        return []
    return [float(p) for p in multipletests(p_values, alpha=ALPHA, method="holm")[1]]


def verdict(low, high, relation, p_adjusted):
    """'holds', 'reversed' or 'not shown' for the claim ``A relation B`` (">" or "<") given the
    95% interval [low, high] of accuracy(A) - accuracy(B) and the Holm-adjusted p-value."""
    sign = 1 if relation == ">" else -1
    if p_adjusted < ALPHA and sign * low > 0 and sign * high > 0:
        return "holds"
    if p_adjusted < ALPHA and sign * low < 0 and sign * high < 0:
        return "reversed"
    return "not shown"


def adjust(comparisons):
    """Add "p_holm" (Holm over this list: one table's family) and "verdict" to each comparison
    (``compare``'s dicts, in place); relation ">" unless given. Returns the list."""
    for c, p in zip(comparisons, holm([c["p"] for c in comparisons])):
        c["p_holm"] = p
        c["verdict"] = verdict(c["low"], c["high"], c.get("relation", ">"), p)
    return comparisons


def correct_matrix(result, labels):
    """(S, N) bool: the runs' test predictions of one model result against the labels."""
    labels = np.asarray(labels)
    return np.array([np.asarray(run["test_predictions"]) == labels for run in result["runs"]])


def compare_matrices(a, b, correct_a, correct_b, groups=None):
    """The paired comparison of models ``a`` and ``b`` from their (S, N) correctness:
    difference A - B, its interval, the sign-flip p over groups (before Holm)."""
    difference, low, high = paired_difference(correct_a, correct_b, groups)
    right_a, right_b = (_group_counts(c, groups)[0] for c in (correct_a, correct_b))
    return {"a": a, "b": b, "difference": difference, "low": low, "high": high,
            "p": sign_flip_test(right_a.mean(axis=0) - right_b.mean(axis=0)),      # (G,) D_g
            "groups": int(len(np.unique(groups)) if groups is not None else correct_a.shape[1])}


def pairs_of(correct, groups=None):
    """Every pair of the models in ``correct`` {model: (S, N) bool}, compared (Holm over the
    pairs)."""
    from itertools import combinations
    return adjust([compare_matrices(a, b, correct[a], correct[b], groups)
                   for a, b in combinations(correct, 2)])


def claims_of(correct, groups=None):
    """The paper's claims whose two models are in ``correct`` {model: (S, N) bool}, each with
    its verdict (Holm over these claims)."""
    return adjust([{**compare_matrices(a, b, correct[a], correct[b], groups), "relation": relation}
                   for a, relation, b in CLAIMS if a in correct and b in correct])


#: The columns of a results folder's predictions.csv that the statistics read.
PREDICTION_COLUMNS = ("model", "seed", "video", "true_label", "predicted_label")


def read_predictions(path):
    """({model: (S, N) bool correct}, videos (N,)) from a results folder's predictions.csv."""
    rows = {}
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        missing = [k for k in PREDICTION_COLUMNS if k not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path} is not a predictions.csv of a results folder (no column "
                             f"{missing[0]!r} of {', '.join(PREDICTION_COLUMNS)})")
        for row in reader:
            if not (row["seed"] or "").isdigit():
                raise ValueError(f"{path}, line {reader.line_num}: seed {row['seed']!r} is not "
                                 "a run's seed (a whole number)")
            rows.setdefault(row["model"], {}).setdefault(int(row["seed"]), []).append(
                (row["video"], row["true_label"] == row["predicted_label"]))
    if not rows:
        raise ValueError(f"{path} holds no predictions")
    correct, videos = {}, None
    for model, seeds in rows.items():
        runs = [seeds[s] for s in sorted(seeds)]
        videos = videos or [v for v, _ in runs[0]]
        if any([v for v, _ in run] != videos for run in runs):
            raise ValueError(f"{path}: the models or seeds were not tested on the same videos")
        correct[model] = np.array([[ok for _, ok in run] for run in runs])
    return correct, videos


def main(argv=None):
    """``python -m experiment.analysis.stats results/demo-paper/predictions.csv``."""
    from common import commands       # torch: only for the command, not the statistics
    parser = commands.parser("python -m experiment.analysis.stats", "Recompute the intervals, "
                             "the paired comparisons and the claims' verdicts of a results "
                             "table from its predictions.csv alone (docs/training.md).")
    parser.add_argument("predictions", help="a results folder's predictions.csv")
    args = parser.parse_args(argv)
    return commands.guarded(lambda: print_verdicts(args.predictions), (OSError, ValueError))


def _tested(c):
    """A comparison's cells: difference [interval] (points) | p | p (Holm)."""
    return (f"{100 * c['difference']:+.1f} [{100 * c['low']:+.1f}, {100 * c['high']:+.1f}] "
            f"| {c['p']:.2g} | {c['p_holm']:.2g}")


def print_verdicts(path):
    """The intervals, the pairs' and the claims' verdicts of ``path`` (a predictions.csv),
    printed."""
    correct, videos = read_predictions(path)
    groups = groups_of(videos)
    print(f"{len(videos)} test videos in {len(np.unique(groups))} groups. {METHOD}\n")
    print("| model | seeds | test % [95% interval] |\n|---|---|---|")
    for model, c in correct.items():
        accuracy, low, high = accuracy_interval(c, groups)
        print(f"| {model} | {len(c)} | {100 * accuracy:.1f} [{100 * low:.1f}, {100 * high:.1f}] |")
    print("\n| A - B | difference [95% interval] | p | p (Holm) |\n|---|---|---|---|")
    for c in pairs_of(correct, groups):
        print(f"| {c['a']} - {c['b']} | {_tested(c)} |")
    print("\n| claim | difference [95% interval] | p | p (Holm) | verdict |\n|---|---|---|---|---|")
    for c in claims_of(correct, groups):
        print(f"| {c['a']} {c['relation']} {c['b']} | {_tested(c)} | {c['verdict']} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
