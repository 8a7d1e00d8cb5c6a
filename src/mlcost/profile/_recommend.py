"""Pick the fastest variant inside the accuracy budget, and say why each other one lost."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mlcost.core import Profile


@dataclass(frozen=True, slots=True)
class Verdict:
    """One variant's place in the comparison: recommended, or the reason it lost."""

    variant: str
    is_recommended: bool
    is_within_budget: bool
    drop_pt: float
    reason: str


def recommend(profiles: Sequence[Profile], *, baseline: str, budget_pt: float) -> list[Verdict]:
    """The fastest profile (lowest p50 at batch 1) whose accuracy drop vs ``baseline`` <= budget.

    Profiles must be from the same machine. The drop is the point estimate of
    baseline minus variant accuracy on the same test rows; the McNemar p-value
    in each profile says whether a drop is distinguishable from noise.
    Returns one Verdict per profile, in the order given.
    """
    by_name = {p.variant: p for p in profiles}
    if baseline not in by_name:
        raise ValueError(f"no profile of the baseline {baseline!r}")
    base_accuracy = by_name[baseline].accuracy or 0.0

    def drop(p: Profile) -> float:
        return (base_accuracy - (p.accuracy or 0.0)) * 100

    inside = [p for p in profiles if drop(p) <= budget_pt]
    best = min(inside, key=lambda p: p.latency_ms_p50)
    verdicts = []
    for p in profiles:
        d = drop(p)
        if p is best:
            speedup = by_name[baseline].latency_ms_p50 / p.latency_ms_p50
            reason = f"fastest within the {budget_pt:g}-pt budget ({speedup:.1f}x the baseline)"
        elif d > budget_pt:
            significance = "significant" if (p.mcnemar_p or 1.0) < 0.05 else "not significant"
            reason = (
                f"-{d:.2f} pt is over the {budget_pt:g}-pt budget "
                f"(McNemar p={p.mcnemar_p:.2g}, {significance})"
            )
        else:
            reason = f"{p.latency_ms_p50 / best.latency_ms_p50:.1f}x slower than {best.variant}"
        verdicts.append(Verdict(p.variant, p is best, d <= budget_pt, d, reason))
    return verdicts
