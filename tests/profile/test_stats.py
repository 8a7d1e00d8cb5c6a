"""Accuracy intervals, McNemar's test and the recommendation, on numbers worked by hand."""

from __future__ import annotations

import dataclasses
import math
import sys
from pathlib import Path

import pytest

from mlcost.core import paired_drop_ci
from mlcost.profile import (
    accuracy_with_ci,
    compare_with_baseline,
    mcnemar_exact_p,
    recommend,
    resolution_note,
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


def test_the_paired_interval_of_rows_that_all_agree_is_worked_by_hand() -> None:
    # No discordant row in n: the score statistic is n d / sqrt(n d (1 - d)), so the upper end
    # solves d / (1 - d) = z^2 / n: d = z^2 / (n + z^2) = 3.8415 / 103.8415 = 3.70 points.
    low, high = paired_drop_ci(0, 0, 100)
    assert high == pytest.approx(100 * 1.96**2 / (100 + 1.96**2), rel=1e-3)
    assert low == pytest.approx(-high)
    # Many rows: close to the Wald interval, drop +- 1.96 sqrt((b + c)/n - drop^2) / sqrt(n).
    low, high = paired_drop_ci(30, 15, 2314)
    wald = 1.96 * math.sqrt(45 / 2314 - (15 / 2314) ** 2) / math.sqrt(2314) * 100
    assert low == pytest.approx(15 / 2314 * 100 - wald, abs=0.05)
    assert high == pytest.approx(15 / 2314 * 100 + wald, abs=0.05)


def _measured(name: str, p50: float, accuracy: float, discordant: tuple[int, int], rows: int):  # type: ignore[no-untyped-def]
    return dataclasses.replace(
        profile(name, p50), accuracy=accuracy, discordant=discordant, test_samples=rows
    )


def test_recommend_picks_the_fastest_shown_within_budget_and_says_why_others_lost() -> None:
    rows = 2314
    base = dataclasses.replace(profile("baseline", 20.0), accuracy=0.870, test_samples=rows)
    # 60 rows right only for the baseline, 14 only for the variant: -2.0 pt, clearly over.
    tiny = _measured("tiny", 1.0, 0.850, (60, 14), rows)
    # 3 vs 3 rows: no drop, and the interval's worst end is inside 0.5 pt.
    good = _measured("int8", 4.0, 0.870, (3, 3), rows)
    # 30 vs 15: -0.65 pt, its interval [0.08, 1.26] spans the budget: unresolved.
    doubtful = _measured("distilled", 2.0, 0.8635, (30, 15), rows)
    slower = _measured("onnx", 6.0, 0.870, (0, 0), rows)
    verdicts = recommend([base, tiny, good, doubtful, slower], baseline="baseline", budget_pt=0.5)
    by_name = {v.variant: v for v in verdicts}
    assert [v.variant for v in verdicts if v.is_recommended] == ["int8"]
    assert by_name["tiny"].test == "over"
    assert by_name["tiny"].reason.endswith("over the 0.5-pt budget")
    assert by_name["int8"].test == "within" and by_name["int8"].drop_ci_high_pt <= 0.5
    assert by_name["int8"].reason == "fastest shown within the 0.5-pt budget (5.0x the baseline)"
    assert by_name["distilled"].test == "unresolved"
    assert by_name["distilled"].drop_ci_low_pt < 0.5 < by_name["distilled"].drop_ci_high_pt
    assert by_name["onnx"].reason == "1.5x slower than int8"
    assert by_name["baseline"].test == "baseline"


def test_too_few_rows_say_so_with_the_rows_the_budget_needs() -> None:
    # A new user's 1,000-review file: 100 test rows, and a quantized variant that agrees on all.
    base = dataclasses.replace(profile("baseline", 20.0), accuracy=0.87, test_samples=100)
    int8 = _measured("int8-dynamic", 5.0, 0.87, (0, 0), 100)
    verdicts = recommend([base, int8], baseline="baseline", budget_pt=0.5)
    by_name = {v.variant: v for v in verdicts}
    assert by_name["int8-dynamic"].test == "unresolved"
    assert not by_name["int8-dynamic"].is_within_budget
    needed = by_name["int8-dynamic"].rows_needed
    assert needed is not None and 1000 < needed < 5000
    assert "within" not in by_name["int8-dynamic"].reason
    assert by_name["baseline"].is_recommended  # recommended on what 100 rows resolve
    note = resolution_note(verdicts, [base, int8], 0.5)
    assert note.startswith("100 test rows resolve the drop to about ±3.7 pt, not the 0.5-pt budget")
    assert f"about {needed:,} would" in note and "int8-dynamic" in note
    assert "\n" not in note
    # Enough rows at the same (zero) discordance resolve it.
    enough = _measured("int8-dynamic", 5.0, 0.87, (0, 0), needed)
    big_base = dataclasses.replace(base, test_samples=needed)
    again = recommend([big_base, enough], baseline="baseline", budget_pt=0.5)
    assert [v.variant for v in again if v.is_recommended] == ["int8-dynamic"]
    assert resolution_note(again, [big_base, enough], 0.5) == ""


def test_an_older_profile_without_paired_counts_is_judged_on_its_drop_alone() -> None:
    base = dataclasses.replace(profile("baseline", 20.0), accuracy=0.870)
    old = dataclasses.replace(profile("int8", 4.0), accuracy=0.868, discordant=None)
    verdicts = recommend([base, old], baseline="baseline", budget_pt=0.5)
    assert verdicts[1].test == "point estimate" and verdicts[1].is_recommended
