"""Accuracy as a statistical statement: bootstrap intervals, McNemar's paired test, and the
paired drop's score interval (``mlcost.core.paired_drop_ci``) a non-inferiority verdict rests on."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mlcost.core import paired_drop_ci

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
