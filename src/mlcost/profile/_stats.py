"""Accuracy as a statistical statement: bootstrap intervals, McNemar's paired test, and the
paired drop's score interval that a non-inferiority verdict rests on."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

BOOTSTRAP_RESAMPLES = 2000
CONFIDENCE = 0.95


@dataclass(frozen=True, slots=True)
class Accuracy:
    """Accuracy on the test rows with its 95 % bootstrap interval."""

    value: float
    ci_low: float
    ci_high: float
    samples: int


@dataclass(frozen=True, slots=True)
class PairedComparison:
    """A variant against the baseline on the same rows.

    ``drop_pt`` is baseline minus variant accuracy in percentage points, with
    its 95 % paired score interval (``paired_drop_ci``); ``mcnemar_p`` is the
    exact two-sided McNemar test on the rows where exactly one of the two is
    right.
    """

    agreement: float
    drop_pt: float
    drop_ci_low_pt: float
    drop_ci_high_pt: float
    only_baseline_right: int
    only_variant_right: int
    mcnemar_p: float


def _resample_indices(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n, size=(BOOTSTRAP_RESAMPLES, n))


def accuracy_with_ci(correct: Sequence[bool], *, seed: int = 0) -> Accuracy:
    """Share of correct rows and its percentile-bootstrap 95 % interval."""
    hits = np.asarray(correct, dtype=np.float64)
    if hits.size == 0:
        return Accuracy(float("nan"), float("nan"), float("nan"), 0)
    means = hits[_resample_indices(hits.size, seed)].mean(axis=1)
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return Accuracy(float(hits.mean()), float(low), float(high), int(hits.size))


def mcnemar_exact_p(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar p-value: the discordant rows as a Binomial(n, 1/2) test."""
    n = only_a + only_b
    if n == 0:
        return 1.0
    k = min(only_a, only_b)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return float(min(1.0, 2 * tail))


def compare_with_baseline(
    baseline_correct: Sequence[bool],
    variant_correct: Sequence[bool],
    agreement: float,
    *,
    seed: int = 0,  # kept for callers; the score interval needs no resampling
) -> PairedComparison:
    """Paired comparison on the same rows (see PairedComparison)."""
    base = np.asarray(baseline_correct, dtype=np.float64)
    other = np.asarray(variant_correct, dtype=np.float64)
    if base.shape != other.shape:
        raise ValueError("baseline and variant were evaluated on different rows")
    diffs = base - other
    only_base = int(np.sum((base == 1) & (other == 0)))
    only_variant = int(np.sum((base == 0) & (other == 1)))
    low, high = paired_drop_ci(only_base, only_variant, int(diffs.size))
    return PairedComparison(
        agreement=agreement,
        drop_pt=float(diffs.mean() * 100),
        drop_ci_low_pt=low,
        drop_ci_high_pt=high,
        only_baseline_right=only_base,
        only_variant_right=only_variant,
        mcnemar_p=mcnemar_exact_p(only_base, only_variant),
    )


def paired_drop_ci(only_base: int, only_variant: int, rows: int) -> tuple[float, float]:
    """95 % interval of the paired accuracy drop, in points: Tango's score interval.

    ``only_base`` rows only the baseline got right, ``only_variant`` only the
    variant, out of ``rows``. The drop is ``(only_base - only_variant) /
    rows``; the interval holds every drop ``d`` whose score statistic, with the
    discordant shares re-estimated under ``d``, is within 1.96 (Tango 1998,
    Statistics in Medicine 17:891-908). Unlike a bootstrap it does not
    collapse to [0, 0] when no row disagrees: 100 rows that all agree still
    leave [-3.7, +3.7] points.
    """
    if rows <= 0:
        return float("nan"), float("nan")
    drop = (only_base - only_variant) / rows

    def score(d: float) -> float:
        a = 2.0 * rows
        b = -only_base - only_variant + (2.0 * rows - only_base + only_variant) * d
        c = -only_variant * d * (1.0 - d)
        p21 = max(0.0, (-b + math.sqrt(max(0.0, b * b - 4.0 * a * c))) / (2.0 * a))
        variance = rows * (2.0 * p21 + d * (1.0 - d))
        gap = only_base - only_variant - rows * d
        return 0.0 if variance <= 0.0 else gap / math.sqrt(variance)

    z = _Z95
    low = _bisect(lambda d: score(d) - z, -1.0 + 1e-12, drop)
    high = _bisect(lambda d: score(d) + z, drop, 1.0 - 1e-12)
    return low * 100.0, high * 100.0


def rows_to_resolve(only_base: int, only_variant: int, rows: int, budget_pt: float) -> int | None:
    """Test rows the paired interval would need for its upper end to fall inside
    ``budget_pt``, at the discordance and drop seen; None where the drop itself is at or over
    the budget (no number of rows shows it inside)."""
    if rows <= 0 or (only_base - only_variant) / rows * 100.0 >= budget_pt:
        return None
    # With no disagreement seen, plan on one disagreeing row in the rows seen, not none.
    share_base, share_variant = max(only_base, 0.5) / rows, max(only_variant, 0.5) / rows

    def resolved(n: int) -> bool:
        base, variant = round(share_base * n), round(share_variant * n)
        return paired_drop_ci(base, variant, n)[1] <= budget_pt

    high = rows
    while not resolved(high):
        high *= 2
        if high > 100_000_000:
            return None
    low = max(1, high // 2)
    while low < high:
        middle = (low + high) // 2
        if resolved(middle):
            high = middle
        else:
            low = middle + 1
    return high


_Z95 = 1.959963984540054


def _bisect(f: Callable[[float], float], low: float, high: float) -> float:
    """The root of ``f`` in [low, high] where f changes sign once (an end where it does not)."""
    f_low, f_high = f(low), f(high)
    if f_low == 0.0 or f_low * f_high > 0.0:
        return low if abs(f_low) <= abs(f_high) else high
    for _ in range(60):
        middle = (low + high) / 2.0
        f_middle = f(middle)
        if (f_middle < 0.0) == (f_low < 0.0):
            low, f_low = middle, f_middle
        else:
            high = middle
    return (low + high) / 2.0
