"""Choosing among INT8 builds: the fastest within the budget, never one that breaks it."""

from __future__ import annotations

import numpy as np

from mlcost.compress._race import Entry, Timing, choose, judge


def _entry(
    name: str, mean_ms: float, *, within: bool, high: float = 0.2, unresolved: bool = False
) -> Entry:
    return Entry(name, Timing(mean_ms, mean_ms, 100), 0.99, 0.0, high, within, unresolved)


def test_the_fastest_within_budget_wins_even_when_a_faster_one_breaks_it() -> None:
    entries = [
        _entry("fast but lossy", 2.0, within=False, high=1.4),
        _entry("fused per-tensor", 3.0, within=True),
        _entry("fused per-channel", 3.5, within=True),
    ]
    assert choose(entries).name == "fused per-tensor"


def test_when_every_one_is_shown_over_the_least_doubtful_wins() -> None:
    entries = [_entry("a", 2.0, within=False, high=1.4), _entry("b", 5.0, within=False, high=0.7)]
    assert choose(entries).name == "b"


def test_when_the_rows_resolve_none_the_fastest_not_shown_over_wins() -> None:
    entries = [
        _entry("shown over", 1.0, within=False, high=2.0),
        _entry("open, slow", 5.0, within=False, high=0.7, unresolved=True),
        _entry("open, fast", 3.0, within=False, high=0.9, unresolved=True),
    ]
    assert choose(entries).name == "open, fast"
    assert choose([*entries, _entry("within", 9.0, within=True)]).name == "within"


def test_few_rows_leave_a_small_drop_unresolved_and_a_large_one_shown_over() -> None:
    labels = np.array([0, 1] * 150)
    parent = labels.copy()
    small = labels.copy()
    small[:1] = 1 - small[:1]  # 1 of 300 rows: -0.33 pt, interval far wider than 0.5
    entry = judge("small", Timing(1.0, 1.0, 10), small, parent, labels, 0.5)
    assert not entry.is_within_budget and entry.is_unresolved
    large = labels.copy()
    large[:30] = 1 - large[:30]  # -10 pt
    assert not judge("large", Timing(1.0, 1.0, 10), large, parent, labels, 0.5).is_unresolved


def test_a_recipe_that_loses_rows_is_judged_over_the_budget() -> None:
    labels = np.array([0, 1] * 1000)
    parent = labels.copy()
    broken = labels.copy()
    broken[:60] = 1 - broken[:60]  # 60 of 2,000 rows lost: -3 points
    entry = judge("broken", Timing(1.0, 1.0, 10), broken, parent, labels, 0.5)
    assert entry.drop_pt == 3.0 and not entry.is_within_budget
    same = judge("same", Timing(2.0, 2.0, 10), parent.copy(), parent, labels, 0.5)
    assert same.is_within_budget and same.agreement == 1.0
    assert choose([entry, same]).name == "same"
