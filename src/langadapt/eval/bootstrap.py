"""Bootstrap confidence intervals over items (documents, questions, sentences).

Metrics are computed from per-item statistics and then aggregated (the sacrebleu
way), so a confidence interval is the percentile interval of the aggregate over
resamples of the items. `stat_fn` gets a resampled array of per-item rows and
returns the aggregate; the default is the mean of a 1-D array.

    point, low, high = bootstrap_ci(per_doc, ratio_of_sums(0, 1), n=1000, seed=0)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

StatFn = Callable[[np.ndarray], float]


def mean(values: np.ndarray) -> float:
    """Mean of a 1-D array (the default aggregate)."""
    return float(np.mean(values))


def ratio_of_sums(num: int, den: int, scale: float = 1.0) -> StatFn:
    """Aggregate `scale * Σ col[num] / Σ col[den]` over rows of a 2-D array (e.g. nats / bytes)."""
    def fn(rows: np.ndarray) -> float:
        return float(scale * rows[:, num].sum() / rows[:, den].sum())
    return fn


def bootstrap_ci(values: Sequence | np.ndarray, stat_fn: StatFn | None = None, *, n: int = 1000,
                 seed: int = 0, confidence: float = 0.95) -> tuple[float, float | None, float | None]:
    """Point estimate and percentile bootstrap interval of `stat_fn` over items.

    Args:
        values: one value per item (1-D) or one row of statistics per item (2-D).
        stat_fn: aggregate of an array of items; the mean by default.
        n: number of resamples (0 turns the interval off).
        seed: seed of the resampling, so intervals are reproducible.
        confidence: coverage of the interval (0.95 gives the 2.5 and 97.5 percentiles).

    Returns:
        (point, low, high); low and high are None for fewer than two items or `n == 0`.
    """
    arr = np.asarray(values, dtype=np.float64)
    stat = stat_fn or mean
    if len(arr) == 0:
        raise ValueError("bootstrap_ci needs at least one item")
    point = stat(arr)
    if len(arr) < 2 or n <= 0:
        return point, None, None
    rng = np.random.default_rng(seed)
    # One draw per resample (not an n x items matrix) keeps memory flat for 100k-item sets.
    samples = np.fromiter((stat(arr[rng.integers(0, len(arr), size=len(arr))]) for _ in range(n)),
                          dtype=np.float64, count=n)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(samples, [alpha, 1.0 - alpha])
    return point, float(low), float(high)
