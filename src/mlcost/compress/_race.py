"""Measure candidate INT8 builds side by side, and keep the fastest within the accuracy budget.

Every candidate is loaded once, warmed, then timed at batch 1 on the same
rows (a seeded sample of the validation split, real lengths, unpadded), in
chunks whose order alternates forward and reverse (ABBA), so drift on a
shared machine hits all candidates alike. Accuracy is every validation row's
prediction against the parent's, on the same rows: a candidate is within the
budget when the upper end of the paired 95 % interval of its drop
(``mlcost.core.paired_drop_ci``, Tango's score interval, the parent as baseline) is; the
fastest such candidate wins. When none is (too few rows to resolve the
budget), the fastest of those the rows leave open (drop within the budget,
interval not wholly over it) wins: no candidate is shown to break the budget,
and speed is what the race is for. When every candidate is shown over it, the
one with the smallest upper end wins. The record says which rule chose.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from mlcost.core import Variant, paired_drop_ci
from mlcost.runtime import Session, open_session, pad, predict_logits

# How ``choose`` picks, as the variant's record (and its cache key) names it.
CHOICE_RULE = "fastest within the budget, else fastest unresolved, else least doubtful"
TIMED_ROWS = 160
CHUNKS = 8
PASSES = 2
_WARM_ROWS = 16


@dataclass(frozen=True, slots=True)
class Timing:
    """Batch-1 latency of one candidate over the timed rows, in ms."""

    p50_ms: float
    mean_ms: float
    requests: int


@dataclass(frozen=True, slots=True)
class Entry:
    """One candidate's figures: its speed, and its accuracy against the parent."""

    name: str
    timing: Timing
    agreement: float
    drop_pt: float
    drop_ci_high_pt: float
    is_within_budget: bool
    # Not shown within, nor shown over: the drop is within the budget, the interval spans it.
    is_unresolved: bool = False

    def record(self) -> dict[str, object]:
        return {
            "name": self.name,
            "p50_ms": round(self.timing.p50_ms, 3),
            "mean_ms": round(self.timing.mean_ms, 3),
            "agreement_with_parent": round(self.agreement, 5),
            "drop_pt": round(self.drop_pt, 3),
            "drop_ci_high_pt": round(self.drop_ci_high_pt, 3),
            "within_budget": self.is_within_budget,
            "unresolved": self.is_unresolved,
        }


def time_sessions(
    sessions: Mapping[str, Session], token_ids: Sequence[Sequence[int]], pad_id: int, *, seed: int
) -> dict[str, Timing]:
    """Batch-1 timings of every session on the same sampled rows, interleaved ABBA."""
    rows = list(token_ids)
    sample = random.Random(seed).sample(rows, min(TIMED_ROWS, len(rows)))
    feeds = [pad([ids], pad_id) for ids in sample]
    names = list(sessions)
    for name in names:
        for input_ids, mask in feeds[:_WARM_ROWS]:
            sessions[name].logits(input_ids, mask)
    times: dict[str, list[float]] = {name: [] for name in names}
    chunk = max(1, len(feeds) // CHUNKS)
    turn = 0
    for _ in range(PASSES):
        for start in range(0, len(feeds), chunk):
            order = names if turn % 2 == 0 else names[::-1]
            turn += 1
            for name in order:
                session = sessions[name]
                for input_ids, mask in feeds[start : start + chunk]:
                    began = time.perf_counter()
                    session.logits(input_ids, mask)
                    times[name].append((time.perf_counter() - began) * 1000.0)
    return {
        name: Timing(float(np.median(spent)), float(np.mean(spent)), len(spent))
        for name, spent in times.items()
    }


def judge(
    name: str,
    timing: Timing,
    predictions: np.ndarray,
    parent_predictions: np.ndarray,
    labels: np.ndarray,
    budget_pt: float,
) -> Entry:
    """``name``'s figures: agreement with the parent and the paired drop's upper end."""
    parent_right = parent_predictions == labels
    right = predictions == labels
    only_parent = int(np.sum(parent_right & ~right))
    only_child = int(np.sum(~parent_right & right))
    low, high = paired_drop_ci(only_parent, only_child, int(labels.size))
    drop = (only_parent - only_child) / max(1, labels.size) * 100.0
    agreement = float(np.mean(predictions == parent_predictions))
    is_within = high <= budget_pt
    is_unresolved = not is_within and drop <= budget_pt and low <= budget_pt
    return Entry(name, timing, agreement, drop, high, is_within, is_unresolved)


def choose(entries: Sequence[Entry]) -> Entry:
    """The fastest entry (mean batch-1 latency) within the budget; else the fastest the rows
    leave unresolved; else the least doubtful (module docstring)."""
    for group in (
        [e for e in entries if e.is_within_budget],
        [e for e in entries if e.is_unresolved],
    ):
        if group:
            return min(group, key=lambda e: (e.timing.mean_ms, e.name))
    return min(entries, key=lambda e: (e.drop_ci_high_pt, e.timing.mean_ms))


@dataclass(frozen=True, slots=True)
class RaceResult:
    """The winning candidate, the session settings tuned on it, and every candidate's figures;
    ``winner_logits`` are the winner's on every row, so nothing predicts them again."""

    winner: str
    session: dict[str, object]
    entries: tuple[Entry, ...]
    session_tries: tuple[dict[str, object], ...]
    winner_logits: np.ndarray

    @property
    def is_within_budget(self) -> bool:
        return self.winning_entry.is_within_budget

    @property
    def winning_entry(self) -> Entry:
        return next(e for e in self.entries if e.name == self.winner)

    def record(self) -> dict[str, object]:
        return {
            "winner": self.winner,
            "within_budget": self.is_within_budget,
            "candidates": [e.record() for e in self.entries],
            "session_tries": list(self.session_tries),
        }


# A session setting is kept only when it is this much faster than without it: smaller gains
# are within a shared machine's noise.
_SESSION_GAIN = 0.03


def race(
    candidates: Mapping[str, Variant],
    *,
    parent_predictions: np.ndarray,
    token_ids: Sequence[Sequence[int]],
    labels: np.ndarray,
    pad_id: int,
    threads: int,
    budget_pt: float,
    seed: int,
    session_tries: Sequence[Mapping[str, object]] = (),
) -> RaceResult:
    """Time and judge every candidate (module docstring), then tune the winner's ONNX Runtime
    session one setting at a time (``session_tries``), keeping what is measurably faster."""
    sessions = {name: open_session(v, threads=threads) for name, v in candidates.items()}
    timings = time_sessions(sessions, token_ids, pad_id, seed=seed)
    logits = {
        name: predict_logits(session, token_ids, pad_id) for name, session in sessions.items()
    }
    entries = tuple(
        judge(
            name, timings[name], logits[name].argmax(axis=1), parent_predictions, labels, budget_pt
        )
        for name in candidates
    )
    del sessions
    winner = choose(entries)
    settings: dict[str, object] = {}
    tried: list[dict[str, object]] = []
    variant = candidates[winner.name]
    if variant.format == "onnx":
        for change in session_tries:
            trial = {**settings, **change}
            pair = {
                "current": open_session(_with_session(variant, settings), threads=threads),
                "trial": open_session(_with_session(variant, trial), threads=threads),
            }
            timed = time_sessions(pair, token_ids, pad_id, seed=seed)
            gain = 1.0 - timed["trial"].mean_ms / timed["current"].mean_ms
            kept = gain >= _SESSION_GAIN
            tried.append({**dict(change), "gain": round(gain, 4), "kept": kept})
            if kept:
                settings = trial
    return RaceResult(winner.name, settings, entries, tuple(tried), logits[winner.name])


def _with_session(variant: Variant, settings: Mapping[str, object]) -> Variant:
    return replace(variant, recipe={**variant.recipe, "session": dict(settings)})
