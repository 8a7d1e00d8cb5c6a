"""One view of the report: a chart, its one-line takeaway, its table, and what its figures rest on.

A section is a value, so the HTML file and the dashboard draw the same thing from it, and
a section whose data is not there yet is a value too: a panel saying what to run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from mlcost.core import BillLine, CostBreakdown


@dataclass(frozen=True, slots=True)
class Section:
    """A titled view computed from the store and the plan.

    ``takeaway`` is one sentence computed from the data. ``chart_svg`` is an inline SVG
    ("" for a section without one). ``basis`` labels its figures, each line starting
    "measured" or "estimated" and saying on what or by which method; ``prices`` are the
    bill lines of every price behind them, each with its date and source. ``missing`` is empty when the data is there,
    and otherwise says what to run to get it (the panel shows it instead of a chart).
    """

    key: str
    title: str
    takeaway: str = ""
    chart_svg: str = ""
    columns: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()
    basis: tuple[str, ...] = ()
    prices: tuple[BillLine, ...] = ()
    notes: tuple[str, ...] = ()
    missing: str = ""

    @property
    def has_data(self) -> bool:
        return not self.missing


def no_data(key: str, title: str, what: str, run: str) -> Section:
    """The panel of a section whose data is not there: ``what`` is missing; ``run`` gets it."""
    return Section(key, title, missing=f"no data yet: {what}; run {run}")


def price_lines(costs: Iterable[CostBreakdown]) -> tuple[BillLine, ...]:
    """Every distinct charged price of ``costs`` (unit price, date and source), once each."""
    return unique_prices(line for cost in costs for line in cost.lines)


def unique_prices(lines: Iterable[BillLine]) -> tuple[BillLine, ...]:
    """The charged ``lines`` with one line per price: unit, $ per unit, date and source."""
    seen: dict[tuple[str, float, str, str], BillLine] = {}
    for line in lines:
        if line.is_charged:
            seen.setdefault(price_key(line), line)
    return tuple(seen.values())


def price_key(line: BillLine) -> tuple[str, float, str, str]:
    """What makes two bill lines the same price: unit, $ per unit, date, source."""
    return (line.unit, line.usd_per_unit, str(line.as_of), line.source)


def usd(value: float) -> str:
    """Dollars for a label: cents from a dollar up, three significant digits below."""
    return f"${value:,.2f}" if abs(value) >= 1 or value == 0 else f"${value:.3g}"
