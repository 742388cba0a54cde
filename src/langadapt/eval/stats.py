"""The statistics of every score: percentile bootstrap CIs and two paired tests.

Every metric is an aggregate of per-item sufficient statistics (the sacrebleu way):
`stats` has one row per item (document, question, segment, prompt) and `score_fn`
turns the column sums of any subset of rows into the score (`ratio(0, 1)` for
Σ nll / Σ bytes; sacrebleu's `_compute_score_from_stats` for BLEU). So a resample is
a set of row indices, and the score of a resample is `score_fn(stats[idx].sum(0))`.

* `bootstrap_ci`: percentile bootstrap interval of one system's score.
* `paired_bootstrap`: both systems scored on the same resampled items (Koehn 2004).
* `approximate_randomization`: each item's statistics swapped between the two
  systems with probability ½ (Riezler & Maxwell 2005).

`resamples` is the one name for the number of resamples (bootstrap) or trials (AR).

One decision rule per test, at `ALPHA` = 1 − `CONFIDENCE` (docs/evaluation.md):

* paired bootstrap: the interval and the p-value come from the same R resampled
  differences Δ*_1 … Δ*_R. With `c = min(#{Δ*_r ≤ 0}, #{Δ*_r ≥ 0})`,
  `p = min(1, 2 (1 + c) / (1 + R))`, and the interval is the pair of order statistics
  `(Δ*_(k), Δ*_(R+1−k))` with `k = ⌈(α/2)(1 + R)⌉ − 1`; so "the interval excludes 0"
  ⇔ "p < α", exactly (fewer than `min_resamples()` resamples: no interval, no rejection);
* approximate randomisation: `p = (1 + #{|Δ_r| ≥ |Δ|}) / (1 + R)` over the swapped
  differences Δ_r, as sacrebleu's `--paired-ar` (which counts `>`; they differ only on
  exact ties); it has no interval.

`significant` states the rule once and `verdict` words every comparison the report
makes from it.

Resamples are drawn one at a time from NumPy's seeded generator (so a seed gives the
same numbers whatever the chunking) and summed in chunks of at most `MAX_ELEMENTS`
array elements, so memory stays bounded for 100k-item sets.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from langadapt.registry import Registry

ScoreFn = Callable[[np.ndarray], float]

DEFAULT_RESAMPLES = 1000
CONFIDENCE = 0.95
ALPHA = round(1.0 - CONFIDENCE, 12)  # the level of every paired decision: p < ALPHA ⇔ the interval excludes 0
MAX_ELEMENTS = 1 << 23  # ~64 MB of float64 per chunk of resampled statistics


def ratio(num: int, den: int, scale: float = 1.0) -> ScoreFn:
    """Score `scale * Σ col[num] / Σ col[den]` from column sums (e.g. nats / bytes)."""
    def fn(sums: np.ndarray) -> float:
        return float(scale * sums[num] / sums[den])
    return fn


def as_stats(values: Sequence | np.ndarray) -> tuple[np.ndarray, ScoreFn | None]:
    """2-D statistics; 1-D values become rows `[value, 1]` scored by their mean."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 1:
        return np.stack([arr, np.ones(len(arr))], axis=1), ratio(0, 1)
    return arr.reshape(len(arr), -1), None


def _chunks(n_items: int, width: int, resamples: int, max_elements: int) -> Iterator[int]:
    size = max(1, max_elements // max(1, n_items * width))
    for start in range(0, resamples, size):
        yield min(size, resamples - start)


def _bootstrap_sums(arrays: Sequence[np.ndarray], resamples: int, seed: int,
                    max_elements: int) -> list[np.ndarray]:
    """Column sums of `resamples` bootstrap resamples of each array (same indices for all)."""
    n, k = arrays[0].shape
    rng = np.random.default_rng(seed)
    out: list[list[np.ndarray]] = [[] for _ in arrays]
    for size in _chunks(n, k, resamples, max_elements):
        idx = np.stack([rng.integers(0, n, size=n) for _ in range(size)])
        for arr, parts in zip(arrays, out):
            parts.append(arr[idx].sum(axis=1))
    return [np.concatenate(p) for p in out]


def _scores(sums: np.ndarray, score_fn: ScoreFn) -> np.ndarray:
    return np.fromiter((score_fn(s) for s in sums), dtype=np.float64, count=len(sums))


def _interval(samples: np.ndarray, confidence: float) -> tuple[float, float]:
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(samples, [alpha, 1.0 - alpha])
    return float(low), float(high)


def bootstrap_ci(values, score_fn: ScoreFn | None = None, *, resamples: int = DEFAULT_RESAMPLES,
                 seed: int = 0, confidence: float = CONFIDENCE,
                 max_elements: int = MAX_ELEMENTS) -> tuple[float, float | None, float | None]:
    """Point estimate and percentile bootstrap interval of a score over items.

    Args:
        values: per-item statistics, shape (items, k), or one value per item (1-D: the mean).
        score_fn: the score from column sums; required for 2-D statistics.
        resamples: number of resamples (0 turns the interval off).
        seed: seed of the resampling.
        confidence: coverage (0.95: the 2.5th and 97.5th percentiles).

    Returns:
        (point, low, high); low and high are None for fewer than two items or no resamples.
    """
    stats, default = as_stats(values)
    fn = score_fn or default
    if fn is None:
        raise ValueError("bootstrap_ci needs a score_fn for per-item statistics")
    if len(stats) == 0:
        raise ValueError("bootstrap_ci needs at least one item")
    point = fn(stats.sum(0))
    if len(stats) < 2 or resamples <= 0:
        return point, None, None
    (sums,) = _bootstrap_sums([stats], resamples, seed, max_elements)
    return (point, *_interval(_scores(sums, fn), confidence))


@dataclass
class PairedResult:
    """Outcome of a paired test of system A against baseline B (`delta` = A − B)."""

    test: str                          # "paired_bootstrap" | "approximate_randomization"
    delta: float
    p_value: float
    ci: tuple[float, float] | None     # interval of the difference (bootstrap with enough resamples)
    resamples: int
    seed: int


def p_value(null: np.ndarray, observed: float) -> float:
    """AR's `(1 + #{t_r ≥ |observed|}) / (1 + R)` for null statistics `t_1 … t_R` (module docstring)."""
    # A relative tolerance keeps a tie a tie when sums are added in another order.
    t_obs = abs(observed) - 1e-9 * max(1.0, abs(observed))
    return float((1 + np.count_nonzero(null >= t_obs)) / (1 + len(null)))


def _alpha(confidence: float) -> float:
    return round(1.0 - confidence, 12)  # 0.05, not 0.050000000000000044


def min_resamples(confidence: float = CONFIDENCE) -> int:
    """The fewest bootstrap resamples whose interval at `confidence` can exclude 0 (40 at 95%)."""
    return int(np.floor(2.0 / _alpha(confidence) + 1e-9))


def bootstrap_decision(deltas: np.ndarray, confidence: float = CONFIDENCE
                       ) -> tuple[float, tuple[float, float] | None]:
    """Two-sided p-value and interval from one bootstrap distribution of Δ (module docstring).

    Returns:
        (p, (low, high)); the interval is None when `resamples < min_resamples(confidence)`.
    """
    d = np.sort(np.asarray(deltas, dtype=np.float64))
    # Differences within rounding of 0 are 0, for the count and the interval alike.
    d[np.abs(d) <= 1e-12 * max(1.0, float(np.abs(d).max(initial=0.0)))] = 0.0
    r = len(d)
    c = min(np.count_nonzero(d <= 0), np.count_nonzero(d >= 0))
    p = min(1.0, 2.0 * (1 + c) / (1 + r))
    # Why order statistics and not np.quantile: with k below, low > 0 ⇔ #{Δ* ≤ 0} < k
    # ⇔ p < α (and likewise for high < 0), so the interval and p can never disagree.
    k = int(np.ceil(_alpha(confidence) / 2.0 * (1 + r) - 1e-9)) - 1
    if k < 1:
        return p, None
    return p, (float(d[k - 1]), float(d[r - k]))


def significant(p: float | None, ci: Sequence[float] | None = None, alpha: float = ALPHA) -> bool | None:
    """The one decision rule: p < α; without a p-value, the interval excludes 0; else None."""
    if p is not None:
        return p < alpha * (1 - 1e-9)  # p = α exactly (e.g. 50/1000) is not below it
    if ci:
        return bool(ci[0] > 0 or ci[1] < 0)
    return None


def verdict(delta: float, p: float | None, ci: Sequence[float] | None = None,
            lower_is_better: bool | None = None, alpha: float = ALPHA) -> str:
    """`worse` / `better` / `higher` / `lower` / `not distinguishable` / `inconsistent`.

    `higher`/`lower` where the metric's direction is unknown. `inconsistent` flags a row
    whose interval and p-value disagree (written by a rule other than this module's).
    """
    sig = significant(p, ci, alpha)
    if sig is None or not sig:
        words = "not distinguishable"
    elif lower_is_better is None:
        words = "higher" if delta > 0 else "lower"
    else:
        words = "worse" if (delta > 0) == lower_is_better else "better"
    if p is not None and ci and significant(None, ci, alpha) != sig:
        return "inconsistent"
    return words


def _pair(stats_a, stats_b, score_fn: ScoreFn | None) -> tuple[np.ndarray, np.ndarray, ScoreFn]:
    a, fa = as_stats(stats_a)
    b, _ = as_stats(stats_b)
    fn = score_fn or fa
    if fn is None:
        raise ValueError("a paired test needs a score_fn for per-item statistics")
    if a.shape != b.shape or len(a) == 0:
        raise ValueError(f"a paired test needs the same, non-empty items: {a.shape} vs {b.shape}")
    return a, b, fn


def paired_bootstrap(stats_a, stats_b, score_fn: ScoreFn | None = None, *,
                     resamples: int = DEFAULT_RESAMPLES, seed: int = 0,
                     confidence: float = CONFIDENCE, max_elements: int = MAX_ELEMENTS) -> PairedResult:
    """Paired bootstrap: A and B scored on the same resampled items; CI of the difference."""
    a, b, fn = _pair(stats_a, stats_b, score_fn)
    observed = fn(a.sum(0)) - fn(b.sum(0))
    resamples = max(1, resamples)
    sums_a, sums_b = _bootstrap_sums([a, b], resamples, seed, max_elements // 2)
    deltas = _scores(sums_a, fn) - _scores(sums_b, fn)
    p, ci = bootstrap_decision(deltas, confidence)
    return PairedResult("paired_bootstrap", float(observed), p, ci, resamples, seed)


def approximate_randomization(stats_a, stats_b, score_fn: ScoreFn | None = None, *,
                              resamples: int = DEFAULT_RESAMPLES, seed: int = 0,
                              max_elements: int = MAX_ELEMENTS) -> PairedResult:
    """Approximate randomisation: each item's statistics swapped between A and B with p = ½."""
    a, b, fn = _pair(stats_a, stats_b, score_fn)
    total_a, total_b = a.sum(0), b.sum(0)
    observed = fn(total_a) - fn(total_b)
    resamples = max(1, resamples)
    gain = b - a  # what A gains (and B loses) on an item whose outputs are swapped
    rng = np.random.default_rng(seed)
    diffs = []
    for size in _chunks(len(a), 1, resamples, max_elements):
        swap = np.stack([rng.random(len(a)) < 0.5 for _ in range(size)]).astype(np.float64)
        moved = swap @ gain
        diffs.append(_scores(total_a + moved, fn) - _scores(total_b - moved, fn))
    return PairedResult("approximate_randomization", float(observed),
                        p_value(np.abs(np.concatenate(diffs)), observed), None, resamples, seed)


TESTS: Registry[Callable[..., PairedResult]] = Registry("paired test", key="test")
TESTS.add("bs", paired_bootstrap)
TESTS.add("ar", approximate_randomization)


def paired_test(test: str, stats_a, stats_b, score_fn: ScoreFn | None = None, *,
                resamples: int = DEFAULT_RESAMPLES, seed: int = 0) -> PairedResult:
    """Run the test named `bs` (paired bootstrap) or `ar` (approximate randomisation)."""
    if test not in TESTS:
        raise ValueError(f"unknown paired test '{test}'; use 'bs' or 'ar'")
    return TESTS.get(test)(stats_a, stats_b, score_fn, resamples=resamples, seed=seed)


def describe(res: PairedResult) -> str:
    """`p = 0.012 (paired bootstrap, 1000 resamples)`: how every table and report states a test."""
    return describe_p(res.p_value, res.test, res.resamples)


def describe_p(p: float, test: str | None, resamples: int | None) -> str:
    """`describe` for a p-value read back from a result row's `extra`."""
    what = ", ".join(x for x in ((test or "").replace("_", " "),
                                 f"{resamples} resamples" if resamples else "") if x)
    return f"p = {p:.3g}" + (f" ({what})" if what else "")
