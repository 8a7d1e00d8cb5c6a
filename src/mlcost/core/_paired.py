"""The paired accuracy drop's interval: what every accuracy-budget verdict rests on.

Shared by the compress stage (choosing among INT8 recipes against their
parent) and the profile stage (recommending a variant against the baseline).
"""

from __future__ import annotations

import math
from collections.abc import Callable


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
