"""Bootstrap confidence intervals and paired significance tests over per-segment statistics.

Corpus metrics such as BLEU are not means of segment scores, so resampling works on
per-segment sufficient statistics (sacrebleu's, or `[score, 1]` for averaged metrics):
a resample sums the chosen rows and recomputes the corpus score with `score_fn`.
Resamples are drawn with NumPy's seeded generator, so a seed gives the same interval.

sacrebleu has the same tests (`--paired-bs`, `--paired-ar`), but bound to its CLI
manager and a symmetric "mean ± half-width" interval; these are small, vectorised
versions returning percentile intervals and p-values for any metric here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

ScoreFn = Callable[[np.ndarray], float]


@dataclass
class PairedResult:
    """Outcome of a paired test of system A against baseline B (`delta` = A − B)."""

    test: str
    delta: float
    p_value: float
    ci: tuple[float, float] | None
    n_samples: int
    seed: int


def _as_stats(stats) -> np.ndarray:
    arr = np.asarray(stats, dtype=np.float64)
    return arr.reshape(len(arr), -1)


def _scores(sums: np.ndarray, score_fn: ScoreFn) -> np.ndarray:
    return np.array([score_fn(row) for row in sums], dtype=np.float64)


def bootstrap_ci(stats, score_fn: ScoreFn, n_samples: int = 1000, seed: int = 0,
                 level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of a corpus score.

    Args:
        stats: per-segment sufficient statistics, shape (segments, k).
        score_fn: corpus score from the column sums of `stats`.
        n_samples: number of resamples.
        seed: NumPy seed.
        level: coverage of the interval.
    """
    arr = _as_stats(stats)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(arr), size=(n_samples, len(arr)))
    # Counting how often each segment is drawn turns each resample into one matrix product.
    counts = np.zeros((n_samples, len(arr)))
    np.add.at(counts, (np.arange(n_samples)[:, None], idx), 1.0)
    scores = _scores(counts @ arr, score_fn)
    tail = (1.0 - level) / 2 * 100
    lo, hi = np.percentile(scores, [tail, 100 - tail])
    return float(lo), float(hi)


def paired_bootstrap(stats_a, stats_b, score_fn: ScoreFn, n_samples: int = 1000, seed: int = 0,
                     level: float = 0.95) -> PairedResult:
    """Paired bootstrap (Koehn 2004): both systems scored on the same resampled segments.

    The p-value is two-sided: how often the resampled difference, centred on its mean,
    is at least as far from zero as the observed one (as Moses and sacrebleu compute it).
    """
    a, b = _as_stats(stats_a), _as_stats(stats_b)
    _check_pair(a, b)
    observed = score_fn(a.sum(0)) - score_fn(b.sum(0))
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(a), size=(n_samples, len(a)))
    counts = np.zeros((n_samples, len(a)))
    np.add.at(counts, (np.arange(n_samples)[:, None], idx), 1.0)
    deltas = _scores(counts @ a, score_fn) - _scores(counts @ b, score_fn)
    centred = np.abs(deltas - deltas.mean())
    p = (np.sum(centred >= abs(observed) - 1e-12) + 1) / (n_samples + 1)
    tail = (1.0 - level) / 2 * 100
    lo, hi = np.percentile(deltas, [tail, 100 - tail])
    return PairedResult("paired_bootstrap", float(observed), float(min(1.0, p)),
                        (float(lo), float(hi)), n_samples, seed)


def approximate_randomization(stats_a, stats_b, score_fn: ScoreFn, n_samples: int = 10000,
                              seed: int = 0) -> PairedResult:
    """Paired approximate randomisation (Riezler & Maxwell 2005): swap each segment's
    outputs between the systems with probability ½ and count differences as large as observed."""
    a, b = _as_stats(stats_a), _as_stats(stats_b)
    _check_pair(a, b)
    total_a, total_b = a.sum(0), b.sum(0)
    observed = score_fn(total_a) - score_fn(total_b)
    rng = np.random.default_rng(seed)
    swap = rng.random((n_samples, len(a))) < 0.5
    moved = swap.astype(np.float64) @ (b - a)  # what system A gains from swapped segments
    diffs = _scores(total_a + moved, score_fn) - _scores(total_b - moved, score_fn)
    p = (np.sum(np.abs(diffs) >= abs(observed) - 1e-12) + 1) / (n_samples + 1)
    return PairedResult("approximate_randomization", float(observed), float(min(1.0, p)), None,
                        n_samples, seed)


TESTS = {"bs": paired_bootstrap, "ar": approximate_randomization}


def _check_pair(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape:
        raise ValueError(f"paired test needs the same segments: {a.shape} vs {b.shape}")
