"""Pick the fastest variant shown to be within the accuracy budget, and say why each other lost.

The budget check is a paired non-inferiority test: a variant is *within* the
budget when the upper end of the 95 % interval of its accuracy drop against the
baseline, on the same rows (``paired_drop_ci``), is at most the budget; *over*
it when the lower end is above the budget; *unresolved* when the interval
straddles it, which is what too few test rows give. Only variants within the
budget are recommended; when a faster one is unresolved, one line says so,
with the rows the budget would need.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from mlcost.core import Profile, paired_drop_ci, rows_to_resolve

Test = Literal["baseline", "within", "over", "unresolved", "point estimate"]


@dataclass(frozen=True, slots=True)
class Verdict:
    """One variant's place in the comparison: recommended, or the reason it lost.

    ``test`` is the non-inferiority result (module docstring); ``point
    estimate`` for an older profile without the paired counts, judged on its
    drop alone. ``rows_needed`` is how many test rows would resolve an
    unresolved verdict at the discordance seen.
    """

    variant: str
    is_recommended: bool
    is_within_budget: bool
    drop_pt: float
    reason: str
    drop_ci_low_pt: float = 0.0
    drop_ci_high_pt: float = 0.0
    test: Test = "baseline"
    rows_needed: int | None = None


def recommend(profiles: Sequence[Profile], *, baseline: str, budget_pt: float) -> list[Verdict]:
    """The fastest profile (lowest p50 at batch 1) shown to be within ``budget_pt`` of ``baseline``.

    Profiles must be from the same machine and rows. Returns one Verdict per
    profile, in the order given. Raises ValueError without a baseline profile.
    """
    by_name = {p.variant: p for p in profiles}
    if baseline not in by_name:
        raise ValueError(f"no profile of the baseline {baseline!r}")
    base = by_name[baseline]
    tests = {p.variant: _test(p, base, budget_pt) for p in profiles}
    inside = [
        p for p in profiles if tests[p.variant][0] in ("baseline", "within", "point estimate")
    ]
    inside = [p for p in inside if tests[p.variant][1] <= budget_pt]
    best = min(inside, key=lambda p: p.latency_ms_p50)
    verdicts = []
    for p in profiles:
        test, drop, low, high, needed = tests[p.variant]
        is_within = p in inside
        if p is best:
            speedup = base.latency_ms_p50 / p.latency_ms_p50
            reason = (
                f"fastest shown within the {budget_pt:g}-pt budget ({speedup:.1f}x the baseline)"
            )
        elif test == "over":
            reason = f"-{drop:.2f} pt [{low:+.2f}, {high:+.2f}]: over the {budget_pt:g}-pt budget"
        elif test == "unresolved":
            reason = (
                f"unresolved: the drop's 95 % interval [{low:+.2f}, {high:+.2f}] pt spans the "
                f"{budget_pt:g}-pt budget ({p.test_samples:,} rows; about {needed:,} would resolve it)"
                if needed
                else f"unresolved: the drop's 95 % interval [{low:+.2f}, {high:+.2f}] pt spans "
                f"the {budget_pt:g}-pt budget, and its drop of {drop:.2f} pt is not inside it"
            )
        elif not is_within:
            reason = f"-{drop:.2f} pt (point estimate) is over the {budget_pt:g}-pt budget"
        else:
            reason = f"{p.latency_ms_p50 / best.latency_ms_p50:.1f}x slower than {best.variant}"
        verdicts.append(
            Verdict(p.variant, p is best, is_within, drop, reason, low, high, test, needed)
        )
    return verdicts


def resolution_note(
    verdicts: Sequence[Verdict], profiles: Sequence[Profile], budget_pt: float
) -> str:
    """One line when a variant faster than the recommended one could not be resolved; else ''."""
    by_name = {p.variant: p for p in profiles}
    best = next(v for v in verdicts if v.is_recommended)
    faster = [
        v
        for v in verdicts
        if v.test == "unresolved"
        and by_name[v.variant].latency_ms_p50 < by_name[best.variant].latency_ms_p50
    ]
    if not faster:
        return ""
    rows = by_name[best.variant].test_samples
    widest = max(v.drop_ci_high_pt - v.drop_pt for v in faster)
    needed = max((v.rows_needed for v in faster if v.rows_needed), default=None)
    need = f"; about {needed:,} would" if needed else ""
    names = ", ".join(v.variant for v in faster)
    verb = "is" if len(faster) == 1 else "are"
    return (
        f"{rows:,} test rows resolve the drop to about ±{widest:.1f} pt, not the {budget_pt:g}-pt "
        f"budget{need}: {names} may be within it but {verb} not shown to be, so {best.variant} "
        "is recommended on what the rows resolve"
    )


def _test(
    profile: Profile, base: Profile, budget_pt: float
) -> tuple[Test, float, float, float, int | None]:
    """(test, drop, interval low, interval high, rows needed) of ``profile`` against ``base``."""
    if profile is base:
        return "baseline", 0.0, 0.0, 0.0, None
    drop = ((base.accuracy or 0.0) - (profile.accuracy or 0.0)) * 100.0
    if profile.discordant is None:
        return "point estimate", drop, drop, drop, None
    only_base, only_variant = profile.discordant
    rows = profile.test_samples
    low, high = paired_drop_ci(only_base, only_variant, rows)
    if high <= budget_pt:
        return "within", drop, low, high, None
    if low > budget_pt:
        return "over", drop, low, high, None
    return "unresolved", drop, low, high, rows_to_resolve(only_base, only_variant, rows, budget_pt)
