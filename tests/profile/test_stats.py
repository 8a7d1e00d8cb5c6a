"""Accuracy intervals, McNemar's test and the recommendation, on numbers worked by hand."""

from __future__ import annotations

import dataclasses
import math
import sys
from pathlib import Path

import pytest

from mlcost.profile import (
    accuracy_with_ci,
    compare_with_baseline,
    mcnemar_exact_p,
    recommend,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core"))
from test_store_variants import profile


def test_mcnemar_exact_matches_the_binomial_by_hand() -> None:
    # 1 vs 9 discordant rows: 2 * P(X <= 1), X ~ Bin(10, 1/2) = 2 * 11/1024.
    assert mcnemar_exact_p(1, 9) == pytest.approx(22 / 1024)
    assert mcnemar_exact_p(9, 1) == mcnemar_exact_p(1, 9)
    assert mcnemar_exact_p(5, 5) == 1.0
    assert mcnemar_exact_p(0, 0) == 1.0


def test_bootstrap_interval_brackets_the_value_and_narrows_with_rows() -> None:
    small = accuracy_with_ci([True] * 80 + [False] * 20)
    large = accuracy_with_ci([True] * 800 + [False] * 200)
    assert small.value == large.value == 0.8
    assert small.ci_low < 0.8 < small.ci_high
    # Normal approximation: half-width 1.96 * sqrt(0.8 * 0.2 / n).
    assert (large.ci_high - large.ci_low) / 2 == pytest.approx(
        1.96 * math.sqrt(0.16 / 1000), rel=0.15
    )
    assert large.ci_high - large.ci_low < small.ci_high - small.ci_low


def test_paired_comparison_counts_discordant_rows() -> None:
    base = [True] * 90 + [False] * 10
    other = [True] * 85 + [False] * 5 + [True] * 2 + [False] * 8
    result = compare_with_baseline(base, other, agreement=0.93)
    assert (result.only_baseline_right, result.only_variant_right) == (5, 2)
    assert result.drop_pt == pytest.approx(3.0)
    assert result.drop_ci_low_pt <= 3.0 <= result.drop_ci_high_pt
    assert result.mcnemar_p == pytest.approx(mcnemar_exact_p(5, 2))


def test_recommend_picks_the_fastest_within_budget_and_says_why_others_lost() -> None:
    base = dataclasses.replace(profile("baseline", 20.0), accuracy=0.870)
    fast_but_worse = dataclasses.replace(profile("tiny", 1.0), accuracy=0.850, mcnemar_p=0.001)
    good = dataclasses.replace(profile("int8", 4.0), accuracy=0.868)
    slower = dataclasses.replace(profile("onnx", 6.0), accuracy=0.870)
    verdicts = recommend([base, fast_but_worse, good, slower], baseline="baseline", budget_pt=0.5)
    assert [v.variant for v in verdicts if v.is_recommended] == ["int8"]
    reasons = {v.variant: v.reason for v in verdicts}
    assert reasons["tiny"] == "-2.00 pt is over the 0.5-pt budget (McNemar p=0.001, significant)"
    assert reasons["onnx"] == "1.5x slower than int8"
    assert reasons["int8"] == "fastest within the 0.5-pt budget (5.0x the baseline)"
