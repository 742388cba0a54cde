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
    p_value,
    paired_bootstrap,
    paired_test,
    ratio,
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
    """Same decision at 0.05 and p-values within the resampling error of both estimates."""
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
                               seed=0).p_value
            assert (ours < 0.05) == (theirs < 0.05), (test, ours, theirs)
            p = max(ours, theirs)
            error = 4 * math.sqrt(2 * p * (1 - p) / resamples) + 2 / (resamples + 1)
            assert abs(ours - theirs) <= error, (test, ours, theirs)
