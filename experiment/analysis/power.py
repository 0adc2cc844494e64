"""Could the paper's differences be shown at all? Power of the paired group test on UCF-101.

    python -m experiment.analysis.power --out results/power.md \
        [--predictions results/demo-paper/predictions.csv]                      # make power

The question: on UCF-101 split 1's test set (3,783 videos in 707 groups of 4 to 7 clips), what
is the smallest accuracy difference that the verdict's test (``experiment.analysis.stats``:
sign-flip test on per-group differences, two-sided, 5%) detects with 80% power? That is one
comparison's power: a verdict also passes Holm's correction over the table's three claims, whose
first step tests at 5%/3, where the difference is about 15% larger (``alpha``: 3.76 points
instead of 3.26 at ICC 0 and discordance 0.5).

**Model.** Per test video i, the paired difference delta_i = a_i - b_i (1: only A right, -1:
only B, 0: both or neither) has mean Delta, the accuracy difference, and second moment pi, the
*discordance* P(A and B disagree): Var(delta_i) = pi - Delta^2. Videos of one group correlate
with the intra-class correlation rho (ICC) of delta; groups are independent. With group g of
m_g clips, D_g = sum of its delta_i, n = sum m_g:

    Var(sum_g D_g) = n (pi - Delta^2) deff,   deff = 1 + (sum m_g^2 / n - 1) rho   (Kish)

(sum m_g^2 / n = 5.65 on split 1). At 707 groups the sign-flip test is its large-sample form:
reject when |sum D_g| - 1 > z_{0.975} sqrt(sum D_g^2) (the 1: a continuity correction, half the
lattice step of sum D_g), E[sum D_g^2] = V1 + Delta^2 sum m_g^2. Power:

    power(Delta) = Phi((n Delta - 1 - z sqrt(V0)) / sqrt(V1)) + Phi((-n Delta - 1 - z sqrt(V0)) / sqrt(V1)),
    V1 = n (pi - Delta^2) deff,  V0 = V1 + Delta^2 sum m_g^2,

and the minimum detectable difference (MDE) solves power = 0.8, about
(z_{0.975} + z_{0.8}) sqrt(pi deff / n) = 2.80 sqrt(pi deff / 3783).

**Check.** ``simulate_power`` draws test sets: each group draws one value from delta's
distribution (P(+-1) = (pi +- Delta) / 2, P(0) = 1 - pi); each clip keeps it with probability
sqrt(rho), else draws its own (the marginal is exact, the ICC is rho); the share rejected by
the test above is the power.

**Discordance.** For accuracies p_A, p_B and correctness correlation phi, pi = p_A (1 - p_B) +
p_B (1 - p_A) - 2 phi sqrt(p_A (1 - p_A) p_B (1 - p_B)); near 50% accuracy pi = 0.5 (1 - phi),
less for models that fail on the same videos (as models on the same CNN codes do).
``estimate`` measures pi, phi and the ICC (one-way ANOVA for unequal group sizes, Donner 1986)
on a run's predictions, seed s of A against seed s of B, averaged over seeds and claims.
"""
import os

import numpy as np
from scipy import optimize, stats as sstats

from common import cli, commands

from . import stats
from .stats import read_predictions

#: UCF-101 split 1's test list (testlist01.txt): clips per group -> number of groups.
#: 270 x 4 + 130 x 5 + 96 x 6 + 211 x 7 = 3,783 videos in 707 groups.
SPLIT1_TEST_GROUP_SIZES = {4: 270, 5: 130, 6: 96, 7: 211}
ALPHA, POWER = 0.05, 0.80
ICCS = tuple(np.round(np.arange(0, 0.81, 0.1), 1))
DISCORDANCES = (0.1, 0.2, 0.3, 0.4, 0.5)
#: Giel & Diaz (2015), "Results": (comparison, set, A %, B %).
PAPER_DIFFERENCES = (("RNN - Average", "test", 49.1, 50.0), ("BiRNN - Average", "test", 50.5, 50.0),
                     ("LSTM - RNN", "test", 45.9, 49.1),
                     ("RNN - Average", "validation", 52.2, 50.5),
                     ("BiRNN - Average", "validation", 51.1, 50.5),
                     ("LSTM - Average", "validation", 46.7, 50.5),
                     ("LSTM - RNN", "validation", 46.7, 52.2))


def split1_sizes():
    """(707,) clips per group of UCF-101 split 1's test set."""
    return np.repeat(list(SPLIT1_TEST_GROUP_SIZES), list(SPLIT1_TEST_GROUP_SIZES.values()))


def design_effect(sizes, icc):
    """Kish's design effect 1 + (sum m^2 / sum m - 1) rho for groups of ``sizes`` clips."""
    sizes = np.asarray(sizes, dtype=float)
    return 1 + (np.sum(sizes ** 2) / np.sum(sizes) - 1) * icc


def power(delta, sizes, icc, discordance, alpha=ALPHA):
    """Analytic power of the two-sided group sign-flip test for a true difference ``delta``."""
    sizes = np.asarray(sizes, dtype=float)
    n = sizes.sum()
    v1 = n * (discordance - delta ** 2) * design_effect(sizes, icc)
    v0 = v1 + delta ** 2 * np.sum(sizes ** 2)
    z = sstats.norm.ppf(1 - alpha / 2)
    return float(sstats.norm.cdf((n * delta - 1 - z * np.sqrt(v0)) / np.sqrt(v1))
                 + sstats.norm.cdf((-n * delta - 1 - z * np.sqrt(v0)) / np.sqrt(v1)))


def mde(sizes, icc, discordance, alpha=ALPHA, target=POWER):
    """The smallest difference detected with power ``target`` (NaN when none below the
    discordance, the largest difference it allows)."""
    if not discordance > 0:
        return float("nan")
    f = lambda d: power(d, sizes, icc, discordance, alpha) - target
    top = discordance * (1 - 1e-9)
    return float(optimize.brentq(f, 1e-9, top, xtol=1e-10)) if f(top) > 0 else float("nan")


def _largest(f, low, high):
    """The largest x in [low, high] with f(x) >= 0 for f decreasing: NaN if none, high if all."""
    if f(low) < 0:
        return float("nan")
    return high if f(high) >= 0 else float(optimize.brentq(f, low, high, xtol=1e-10))


def largest_icc(delta, sizes, discordance, alpha=ALPHA, target=POWER):
    """The largest ICC at which ``delta`` is still detected with power ``target``."""
    return _largest(lambda icc: power(delta, sizes, icc, discordance, alpha) - target, 0.0, 1.0)


def largest_discordance(delta, sizes, icc, alpha=ALPHA, target=POWER):
    """The largest discordance at which ``delta`` is still detected with power ``target``."""
    return _largest(lambda pi: power(delta, sizes, icc, pi, alpha) - target,
                    abs(delta) * (1 + 1e-6), 1.0)


def _upto(x, none="none"):
    return none if np.isnan(x) else ("any" if x >= 1 else f"{x:.2f}")


def simulate_differences(sizes, icc, discordance, delta, n_sims, rng):
    """(n_sims, G) per-group sums D_g of simulated per-video differences (module docstring)."""
    sizes = np.asarray(sizes)
    probs = [(discordance - delta) / 2, 1 - discordance, (discordance + delta) / 2]  # -1, 0, 1
    group = np.repeat(np.arange(len(sizes)), sizes)                    # (n,) group of each clip
    shared = rng.choice([-1, 0, 1], p=probs, size=(n_sims, len(sizes))).astype(np.int8)
    own = rng.choice([-1, 0, 1], p=probs, size=(n_sims, len(group))).astype(np.int8)
    keep = rng.random((n_sims, len(group))) < np.sqrt(icc)
    per_video = np.where(keep, shared[:, group], own)                 # (n_sims, n)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    return np.add.reduceat(per_video.astype(np.int32), starts, axis=1)


def normal_p(differences):
    """(...,) two-sided p of the sign-flip test in its large-sample form for integer D_g:
    (|sum D| - 1) / sqrt(sum D^2) against the normal (1: half the lattice step of sum D,
    which moves by 2 |D_g| when one sign flips)."""
    d = np.asarray(differences, dtype=float)
    scale = np.sqrt(np.sum(d ** 2, axis=-1))
    excess = np.maximum(np.abs(np.sum(d, axis=-1)) - 1, 0)
    t = np.divide(excess, scale, out=np.zeros(d.shape[:-1]), where=scale > 0)
    return np.minimum(2 * sstats.norm.sf(t), 1.0)


def simulate_power(delta, sizes, icc, discordance, n_sims=4000, seed=0, alpha=ALPHA):
    """(power, its standard error): the share of ``n_sims`` simulated test sets rejected."""
    rng = np.random.default_rng(seed)
    rejected = 0
    for chunk in np.array_split(np.arange(n_sims), max(1, n_sims // 500)):
        d = simulate_differences(sizes, icc, discordance, delta, len(chunk), rng)
        rejected += int(np.sum(normal_p(d) < alpha))
    p = rejected / n_sims
    return p, float(np.sqrt(p * (1 - p) / n_sims))


def icc_anova(values, groups):
    """One-way ANOVA intra-class correlation of ``values`` (N,) in ``groups`` (N,), unequal
    sizes (n0 of Donner 1986); NaN when there is no variance at all or no group of two."""
    values = np.asarray(values, dtype=float)
    _, index = np.unique(groups, return_inverse=True)
    sizes = np.bincount(index).astype(float)
    n, g = len(values), len(sizes)
    if g < 2 or n == g:                      # no pair of clips in a group: nothing to estimate
        return float("nan")
    means = np.bincount(index, weights=values) / sizes
    between = np.sum(sizes * (means - values.mean()) ** 2) / (g - 1)
    within = np.sum((values - means[index]) ** 2) / (n - g)
    n0 = (n - np.sum(sizes ** 2) / n) / (g - 1)
    denominator = between + (n0 - 1) * within
    return float((between - within) / denominator) if denominator > 0 else float("nan")


def estimate(pairs, groups):
    """{"discordance", "phi", "icc", "pairs"}: means over ``pairs`` of (correct_a, correct_b)
    (S, N) bool matrices and over their seeds, seed s of A against seed s of B."""
    pis, phis, iccs = [], [], []
    for a, b in pairs:
        for x, y in zip(np.atleast_2d(a), np.atleast_2d(b)):
            delta = x.astype(float) - y.astype(float)
            pis.append(np.mean(delta != 0))
            if x.std() > 0 and y.std() > 0:
                phis.append(np.corrcoef(x, y)[0, 1])
            icc = icc_anova(delta, groups)
            if not np.isnan(icc):
                iccs.append(icc)
    mean = lambda v: float(np.mean(v)) if v else float("nan")
    return {"discordance": mean(pis), "phi": mean(phis), "icc": mean(iccs), "pairs": len(pairs)}


def _claim_pairs(correct):
    """The paper's claims' (A, B) correctness pairs among ``correct`` {model: (S, N)}; every
    pair of models when no claim's two models are there."""
    from itertools import combinations
    pairs = [(correct[a], correct[b]) for a, _, b in stats.CLAIMS if a in correct and b in correct]
    return pairs or [(correct[a], correct[b]) for a, b in combinations(sorted(correct), 2)]


def _pts(x):
    return "-" if np.isnan(x) else f"{100 * x:.1f}"


def section(correct, videos):
    """Markdown lines: the power of this run's test set and of split 1's, at this run's
    estimated ICC and discordance. ``correct``: {model: (S, N) bool}; [] for one model."""
    if len(correct) < 2:
        return []
    groups = stats.groups_of(videos)
    sizes = np.bincount(np.unique(groups, return_inverse=True)[1])
    e = estimate(_claim_pairs(correct), groups)
    icc = float(np.clip(np.nan_to_num(e["icc"]), 0, 1))
    pi_50 = 0.5 * (1 - e["phi"]) if not np.isnan(e["phi"]) else 0.5
    return ["", f"Power (`experiment.analysis.power`, `make power`): the smallest paired difference the "
            f"group test detects with 80% power at 5% (two-sided). Estimated on this run "
            f"({e['pairs']} model pairs, seed by seed): discordance {e['discordance']:.3f}, "
            f"correctness correlation phi {e['phi']:.2f}, ICC of the paired difference "
            f"{e['icc']:.2f} (used: {icc:.2f}).", "",
            "| test set | videos | groups | discordance | ICC | design effect | smallest "
            "detectable difference (points) |", "|---|---|---|---|---|---|---|",
            f"| this run's | {sizes.sum()} | {len(sizes)} | {e['discordance']:.3f} | {icc:.2f} "
            f"| {design_effect(sizes, icc):.2f} | {_pts(mde(sizes, icc, e['discordance']))} |",
            f"| UCF-101 split 1, accuracies near 50% | 3783 | 707 | {pi_50:.3f} (0.5 (1 - phi)) "
            f"| {icc:.2f} | {design_effect(split1_sizes(), icc):.2f} "
            f"| {_pts(mde(split1_sizes(), icc, pi_50))} |"]


def report(predictions=None, n_sims=4000):
    """(markdown, data for the plot): the MDE table, the simulation check, the paper's
    differences; with ``predictions``, the demo's estimates too."""
    sizes = split1_sizes()
    grid = {(icc, pi): mde(sizes, icc, pi) for icc in ICCS for pi in DISCORDANCES}
    lines = ["# Power of the paired group test on UCF-101 split 1", "",
             "Test set: 3,783 videos in 707 groups (101 classes x 7 group numbers; 270 groups of "
             "4 clips, 130 of 5, 96 of 6, 211 of 7: sum m^2 / n = "
             f"{np.sum(sizes ** 2) / sizes.sum():.2f}). Test: two-sided sign-flip test on "
             "per-group differences at 5% (`experiment.analysis.stats`), power 80%. Discordance: the "
             "share of test videos on which the two models disagree (at accuracies near 50%: "
             "0.5 for independent errors, 0.5 (1 - phi) for correctness correlation phi). "
             "ICC: the within-group correlation of the per-video paired difference. "
             "Model and formulas: `experiment/analysis/power.py`.", "",
             "Smallest detectable difference (points):", "",
             "| ICC | design effect | " + " | ".join(f"discordance {pi}" for pi in DISCORDANCES)
             + " | simulated power at the MDE, discordance 0.5 (+- s.e.) |",
             "|---|---|" + "---|" * len(DISCORDANCES) + "---|"]
    for icc in ICCS:
        sim, se = simulate_power(grid[(icc, 0.5)], sizes, icc, 0.5, n_sims=n_sims)
        lines.append(f"| {icc:.1f} | {design_effect(sizes, icc):.2f} | "
                     + " | ".join(_pts(grid[(icc, pi)]) for pi in DISCORDANCES)
                     + f" | {sim:.3f} +- {se:.3f} |")
    demo = None
    if predictions:
        correct, videos = read_predictions(predictions)
        demo = {**estimate(_claim_pairs(correct), stats.groups_of(videos)), "path": predictions}
    lines += ["", "The paper's differences (single runs) against the test set's power "
              "(validation: the paper does not give its validation set's size; these rows assume "
              "one of the test set's size and groups):", "",
              "| comparison | set | paper | difference (points) | power at ICC 0, discordance "
              "0.5 | detectable (80%) at discordance 0.5 for ICC up to | at ICC 0, "
              "detectable while discordance below |", "|---|---|---|---|---|---|---|"]
    for name, which, a, b in PAPER_DIFFERENCES:
        delta = abs(a - b) / 100
        lines.append(f"| {name} | {which} | {a} vs {b} | {a - b:+.1f} "
                     f"| {power(delta, sizes, 0.0, 0.5):.2f} "
                     f"| {_upto(largest_icc(delta, sizes, 0.5), 'none (not even ICC 0)')} "
                     f"| {_upto(largest_discordance(delta, sizes, 0.0))} |")
    if demo:
        icc = float(np.clip(np.nan_to_num(demo["icc"]), 0, 1))
        pi_50 = 0.5 * (1 - demo["phi"])
        lines += ["", f"Estimated from `{demo['path']}` (the paper's claims' model pairs, seed "
                  f"by seed): discordance {demo['discordance']:.3f}, phi {demo['phi']:.2f}, ICC "
                  f"{demo['icc']:.2f}. Carried to UCF-101 split 1 at accuracies near 50% "
                  f"(discordance 0.5 (1 - phi) = {pi_50:.3f}, ICC {icc:.2f}): smallest "
                  f"detectable difference {_pts(mde(sizes, icc, pi_50))} points. The demo's "
                  "synthetic groups are not UCF-101's: its ICC says how the demo behaves, the "
                  "table above covers UCF-101's plausible range."]
    return "\n".join(lines), {"grid": grid, "demo": demo}


def plot(data, path):
    from .plots import pyplot, save_figure
    fig, ax = pyplot().subplots(figsize=(6.5, 4))
    for pi in DISCORDANCES:
        ax.plot(ICCS, [100 * data["grid"][(icc, pi)] for icc in ICCS], marker="o", ms=3,
                label=f"discordance {pi}")
    for name, which, a, b in PAPER_DIFFERENCES:
        if which == "test":
            ax.axhline(abs(a - b), color="grey", linestyle=":", linewidth=1)
            ax.text(0.8, abs(a - b), f"paper: {name} ({abs(a - b):.1f})", fontsize=7,
                    ha="right", va="bottom")
    ax.set_xlabel("ICC of the paired difference within a group")
    ax.set_ylabel("smallest detectable difference (points)")
    ax.set_title("UCF-101 split 1 test set: 80% power, 5% two-sided", fontsize=9)
    ax.set_ylim(0, None)
    ax.legend(fontsize=7, loc="upper left")
    save_figure(fig, path)


def main(argv=None):
    parser = commands.parser("python -m experiment.analysis.power", __doc__)
    parser.add_argument("--out", default="results/power.md", type=cli.writable_file,
                        help="the Markdown report")
    parser.add_argument("--predictions", type=cli.existing_file,
                        help="a results folder's predictions.csv (ICC, phi)")
    parser.add_argument("--simulations", type=cli.integer(1, 1_000_000), default=4000)
    args = parser.parse_args(argv)
    return commands.guarded(lambda: write(args), (OSError, ValueError, KeyError))


def write(args):
    """The report printed and written to ``args.out`` (its plot beside it); status 0."""
    from common.files import emit
    text, data = report(args.predictions, args.simulations)
    emit(text, args.out)
    plot(data, os.path.splitext(args.out)[0] + ".png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
