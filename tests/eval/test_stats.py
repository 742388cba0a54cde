"""Bootstrap CIs: point estimates, reproducibility, coverage of a known mean."""

from __future__ import annotations

import math

import numpy as np
import pytest

from langadapt.eval.bootstrap import bootstrap_ci, mean, ratio_of_sums


@pytest.mark.parametrize("values, stat, expected", [
    ([1.0, 2.0, 3.0, 6.0], None, 3.0),
    ([[1, 2], [3, 2]], ratio_of_sums(0, 1), 1.0),
    ([[2, 1], [6, 1], [4, 2]], ratio_of_sums(0, 1, 0.5), 1.5),
    ([[math.log(2) * 8, 8]], ratio_of_sums(0, 1, 1 / math.log(2)), 1.0),
])
def test_point_estimate_table(values, stat, expected):
    point, _, _ = bootstrap_ci(values, stat, n=50, seed=0)
    assert point == pytest.approx(expected)


def test_same_seed_same_interval_and_seed_matters():
    values = np.random.default_rng(1).normal(size=200)
    a = bootstrap_ci(values, n=300, seed=7)
    assert a == bootstrap_ci(values, n=300, seed=7)
    assert a != bootstrap_ci(values, n=300, seed=8)


def test_interval_contains_point_and_shrinks_with_more_items():
    rng = np.random.default_rng(0)
    small = bootstrap_ci(rng.normal(size=50), mean, n=500)
    large = bootstrap_ci(rng.normal(size=5000), mean, n=500)
    for point, low, high in (small, large):
        assert low <= point <= high
    assert (large[2] - large[1]) < (small[2] - small[1]) / 5


def test_interval_width_matches_normal_theory():
    """For a mean of N(0,1) samples the 95% interval is about ±1.96/√n wide."""
    values = np.random.default_rng(3).normal(size=400)
    _, low, high = bootstrap_ci(values, n=2000, seed=0)
    assert (high - low) == pytest.approx(2 * 1.96 / math.sqrt(400), rel=0.15)


@pytest.mark.parametrize("values, n", [([5.0], 1000), ([1.0, 2.0], 0)])
def test_no_interval_for_one_item_or_no_resamples(values, n):
    assert bootstrap_ci(values, n=n)[1:] == (None, None)


def test_empty_is_an_error():
    with pytest.raises(ValueError):
        bootstrap_ci([])
