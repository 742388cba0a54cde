"""The one statistics module: bootstrap CIs, paired tests, the p-value definition,
and the paired tests checked against sacrebleu's own on FLORES system pairs."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from langadapt.eval import stats
from langadapt.eval.stats import (
    approximate_randomization,
    bootstrap_ci,
    bootstrap_decision,
    min_resamples,
    p_value,
    paired_bootstrap,
    paired_test,
    ratio,
    significant,
    verdict,
)


@pytest.mark.parametrize("values, fn, expected", [
    ([1.0, 2.0, 3.0, 6.0], None, 3.0),
    ([[1, 2], [3, 2]], ratio(0, 1), 1.0),
    ([[2, 1], [6, 1], [4, 2]], ratio(0, 1, 0.5), 1.5),
    ([[math.log(2) * 8, 8]], ratio(0, 1, 1 / math.log(2)), 1.0),
])
def test_point_estimate_table(values, fn, expected):
    point, _, _ = bootstrap_ci(values, fn, resamples=50, seed=0)
    assert point == pytest.approx(expected)


def test_same_seed_same_interval_and_seed_matters():
    values = np.random.default_rng(1).normal(size=200)
    a = bootstrap_ci(values, resamples=300, seed=7)
    assert a == bootstrap_ci(values, resamples=300, seed=7)
    assert a != bootstrap_ci(values, resamples=300, seed=8)


def test_chunking_changes_memory_not_numbers():
    """Resamples summed 1, 7 or all at a time give identical intervals and paired tests."""
    rows = np.random.default_rng(2).random((301, 3))
    fn = ratio(0, 1)
    whole = bootstrap_ci(rows, fn, resamples=200, seed=4)
    for max_elements in (1, 7 * 301 * 3):
        assert bootstrap_ci(rows, fn, resamples=200, seed=4, max_elements=max_elements) == whole
    other = rows + np.random.default_rng(3).normal(0, 0.1, rows.shape)
    for test in (paired_bootstrap, approximate_randomization):
        assert test(rows, other, fn, resamples=100, seed=1, max_elements=5) == \
            test(rows, other, fn, resamples=100, seed=1)


def test_chunks_stay_under_the_element_budget():
    sizes = list(stats._chunks(100_000, 4, 1000, 1 << 23))
    assert sum(sizes) == 1000 and max(sizes) * 100_000 * 4 <= 1 << 23


def test_interval_width_matches_normal_theory():
    """For a mean of N(0,1) samples the 95% interval is about ±1.96/√n wide."""
    values = np.random.default_rng(3).normal(size=400)
    _, low, high = bootstrap_ci(values, resamples=2000, seed=0)
    assert (high - low) == pytest.approx(2 * 1.96 / math.sqrt(400), rel=0.15)


@pytest.mark.parametrize("values, resamples", [([5.0], 1000), ([1.0, 2.0], 0)])
def test_no_interval_for_one_item_or_no_resamples(values, resamples):
    assert bootstrap_ci(values, resamples=resamples)[1:] == (None, None)


def test_empty_is_an_error():
    with pytest.raises(ValueError):
        bootstrap_ci([])


@pytest.mark.parametrize("null, observed, expected", [
    ([0.0, 0.0, 0.0], 0.0, 1.0),           # a tie counts: a system against itself is p = 1
    ([0.1, 0.2, 0.3], 0.25, 2 / 4),        # 0.3 ≥ 0.25: (1 + 1) / (1 + 3)
    ([0.1, 0.2, 0.3], -0.25, 2 / 4),       # two-sided: the sign of Δ does not matter
    ([0.1, 0.2, 0.3], 0.5, 1 / 4),         # nothing as extreme: the smallest p is 1 / (1 + R)
    ([0.3, 0.3, 0.3], 0.3, 1.0),           # ties up to rounding count
])
def test_p_value_definition(null, observed, expected):
    assert p_value(np.array(null), observed) == pytest.approx(expected)


@pytest.mark.parametrize("a, b, significant", [([1.0] * 30, [0.0] * 30, True),
                                               ([1.0, 0.0] * 15, [0.0, 1.0] * 15, False)])
def test_paired_tests_on_known_pairs(a, b, significant):
    for test in ("bs", "ar"):
        res = paired_test(test, a, b, resamples=500)
        assert (res.p_value < 0.01) == significant
        assert res.delta == pytest.approx(np.mean(a) - np.mean(b))


def test_a_system_against_itself_is_not_significant():
    rows = np.random.default_rng(5).random((50, 2))
    for test in ("bs", "ar"):
        assert paired_test(test, rows, rows, ratio(0, 1), resamples=200).p_value == 1.0


def test_paired_bootstrap_interval_is_of_the_difference():
    rng = np.random.default_rng(6)
    base = rng.normal(0, 1, 400)
    res = paired_bootstrap(base + 0.5 + rng.normal(0, 0.1, 400), base, resamples=500)
    assert res.ci[0] < 0.5 < res.ci[1] and res.ci[1] - res.ci[0] < 0.1  # pairing removes the noise


def _near_boundary(n: int, shift: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Paired items whose mean difference is exactly `shift`, about 1.7-2.1 standard errors."""
    rng = np.random.default_rng(seed)
    base, diff = rng.normal(0, 1, n), rng.normal(0, 1, n)
    return base + diff - diff.mean() + shift, base


# Cases where the shifted-|Δ| p-value (sacrebleu's --paired-bs) fell below 0.05 while the
# percentile interval of the same resamples held 0 (the first five), and clear cases.
@pytest.mark.parametrize("n, shift, seed", [(30, 0.3, 0), (30, 0.3, 1), (30, 0.35, 2), (50, 0.25, 0),
                                            (50, 0.25, 2), (30, 0.35, 0), (100, 0.2, 1), (50, 0.35, 1)])
def test_paired_bootstrap_interval_and_p_value_agree_near_the_boundary(n, shift, seed):
    a, b = _near_boundary(n, shift, seed)
    res = paired_bootstrap(a, b, resamples=1000, seed=0)
    excludes_zero = res.ci[0] > 0 or res.ci[1] < 0
    assert excludes_zero == (res.p_value < 0.05), (res.ci, res.p_value)
    assert verdict(res.delta, res.p_value, res.ci, lower_is_better=False) == \
        ("better" if excludes_zero else "not distinguishable")


@pytest.mark.parametrize("resamples", [40, 41, 99, 999, 1000, 1001])
def test_interval_excludes_zero_exactly_when_p_is_below_alpha(resamples):
    """Δ* samples swept across 0: the rule holds for every count of resamples at or below 0."""
    rng = np.random.default_rng(resamples)
    for shift in np.linspace(-3.5, 3.5, 141):
        deltas = rng.normal(shift, 1.0, resamples)
        p, ci = bootstrap_decision(deltas)
        assert (ci[0] > 0 or ci[1] < 0) == (p < 0.05), (shift, p, ci)


@pytest.mark.parametrize("deltas, p, ci", [
    ([0.0] * 40, 1.0, (0.0, 0.0)),                      # a system against itself
    (list(range(1, 41)), 2 / 41, (1.0, 40.0)),          # all above 0, the fewest resamples: p < α
    (list(range(0, 40)), 4 / 41, (0.0, 39.0)),          # one tie at 0 counts on both sides
    ([-1.0] + list(range(1, 1000)), 4 / 1001, (24.0, 975.0)),  # k = ⌈0.025·1001⌉ − 1 = 25
])
def test_bootstrap_decision_table(deltas, p, ci):
    got_p, got_ci = bootstrap_decision(np.array(deltas, dtype=float))
    assert got_p == pytest.approx(p) and got_ci == pytest.approx(ci)


def test_too_few_resamples_give_no_interval_and_no_rejection():
    assert min_resamples() == 40
    p, ci = bootstrap_decision(np.ones(39))
    assert ci is None and p == pytest.approx(0.05) and not significant(p)
    assert paired_bootstrap([1.0, 2.0, 3.0], [0.0, 0.0, 0.0], resamples=10).ci is None


@pytest.mark.parametrize("delta, p, ci, lower, expected", [
    (0.03, 0.02, (0.01, 0.05), True, "worse"),
    (-0.03, 0.02, (-0.05, -0.01), True, "better"),
    (0.03, 0.02, (0.01, 0.05), False, "better"),
    (0.03, 0.02, (0.01, 0.05), None, "higher"),
    (0.0277, 0.08, (-0.0023, 0.0535), True, "not distinguishable"),
    (0.0277, 0.02, (-0.0023, 0.0535), True, "inconsistent"),   # the old rule's rows
    (0.03, None, (0.01, 0.05), True, "worse"),                  # AR has a p; old rows only a CI
    (0.03, 0.01, None, True, "worse"),                          # approximate randomisation
    (0.03, None, None, True, "not distinguishable"),
    (0.03, 0.05, None, True, "not distinguishable"),            # p = α is not below α
])
def test_verdict_table(delta, p, ci, lower, expected):
    assert verdict(delta, p, ci, lower_is_better=lower) == expected


def test_unknown_test_and_mismatched_items_are_errors():
    with pytest.raises(ValueError, match="unknown paired test"):
        paired_test("t", [1.0], [1.0])
    with pytest.raises(ValueError, match="same, non-empty items"):
        paired_bootstrap([1.0, 2.0], [1.0])


# ------------------------------------------------------------ against sacrebleu.significance
def _perturb(hyps: list[str], share: float, drop: float, seed: int) -> list[str]:
    """Drop words from a share of the segments: a worse system, as much worse as asked."""
    rng, out = random.Random(seed), []
    for h in hyps:
        words = h.split()
        if rng.random() < share:
            words = [w for w in words if rng.random() > drop] or words[:1]
        out.append(" ".join(words))
    return out


def test_paired_tests_agree_with_sacrebleu(data_dir):
    """Same decision at 0.05; AR p-values within the resampling error of both estimates.

    Our bootstrap p-value is the one its interval implies, not sacrebleu's shifted |Δ|, so
    only the decision is compared for `bs`, on pairs far from the boundary.
    """
    from sacrebleu.metrics import BLEU
    from sacrebleu.significance import PairedTest

    def read(name):
        return (data_dir / "flores" / name).read_text(encoding="utf-8").splitlines()[:200]

    refs, google = read("eng_Latn.dev.txt"), read("google_mt.eng_Latn.dev.txt")
    light = _perturb(google, 0.05, 0.1, 3)
    pairs = [(google, _perturb(google, 1.0, 0.3, 1)),           # far worse: p ≈ 0.001
             (google, _perturb(google, 0.3, 0.15, 2)),          # worse by ~3 BLEU: p ≈ 0.001
             (light, _perturb(google, 0.05, 0.1, 4))]           # two equally light edits: p > 0.2
    bleu = BLEU()

    def seg_stats(hyps):
        return np.asarray(bleu._extract_corpus_statistics(hyps, [refs]), dtype=np.float64)

    def score(sums):
        return bleu._compute_score_from_stats(list(sums)).score

    for base, system in pairs:
        for test, resamples in (("bs", 1000), ("ar", 2000)):
            _, table = PairedTest([("base", base), ("system", system)], {"BLEU": BLEU()}, [refs],
                                  test_type=test, n_samples=resamples)()
            theirs = next(v for k, v in table.items() if k != "System")[1].p_value
            ours = paired_test(test, seg_stats(system), seg_stats(base), score, resamples=resamples,
                               seed=0)
            assert (ours.p_value < 0.05) == (theirs < 0.05), (test, ours.p_value, theirs)
            if test == "bs":
                assert (ours.ci[1] < 0) == (ours.p_value < 0.05), (ours.ci, ours.p_value)
                continue
            p = max(ours.p_value, theirs)
            error = 4 * math.sqrt(2 * p * (1 - p) / resamples) + 2 / (resamples + 1)
            assert abs(ours.p_value - theirs) <= error, (test, ours.p_value, theirs)
