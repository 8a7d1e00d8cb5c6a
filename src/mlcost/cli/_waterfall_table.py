"""The savings waterfall as a table: one shape for `mlcost plan` and `mlcost cost case-study`."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table

from mlcost.cli._context import table, usd
from mlcost.core import CostBreakdown, WaterfallBar, waterfall_reduction


def waterfall_table(
    title: str,
    bars: Sequence[WaterfallBar],
    *,
    caption: str = "",
    hours_per_month: float | None = None,
) -> Table:
    """One row a bar: what changed, its monthly bill, what it saved, the cut so far, its basis.

    With ``hours_per_month`` each row also shows the bar's machines from its
    compute lines: how many on average (node-hours / hours), their pricing and $/h.
    """
    fleet_columns = ["#", "pricing", "$/h"] if hours_per_month else []
    rows = []
    for i, bar in enumerate(bars):
        fleet = _fleet(bar.cost, hours_per_month) if hours_per_month else []
        rows.append(
            [
                bar.label,
                *fleet,
                usd(bar.monthly_usd, 2),
                "" if i == 0 else usd(bar.saved_usd, 2),
                f"{waterfall_reduction(bars[: i + 1]):.1%}",
                bar.basis,
            ]
        )
    return table(
        title,
        ["step", *fleet_columns, "$/month", "$ saved", "% cut so far", "basis"],
        rows,
        caption=caption,
    )


def _fleet(cost: CostBreakdown, hours_per_month: float) -> list[str]:
    """Machines on average, pricing and $/h of a bill's node-hour lines, joined by "+"."""
    lines = [line for line in cost.lines if line.category == "compute" and line.unit == "node-hour"]
    return [
        " + ".join(f"{line.quantity / hours_per_month:g}" for line in lines),
        " + ".join(line.pricing for line in lines),
        " + ".join(usd(line.usd_per_unit) for line in lines),
    ]
