"""Every price behind the report's figures, once, with its date, its age and its source.

Drawn from the other sections' own price lines, so it lists exactly what they used:
spot and list prices move within a quarter, and a figure is only as fresh as its prices.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date
from typing import Any

from mlcost.core import BillLine
from mlcost.report._charts import COST, MUTED, draw
from mlcost.report._section import Section, no_data, price_key, unique_prices

KEY, TITLE = "prices", "Prices and their dates"


def prices_section(sections: Sequence[Section], *, today: date) -> Section:
    """The prices of ``sections`` by the year of their date, each listed with its source."""
    lines = unique_prices(line for section in sections for line in section.prices)
    if not lines:
        return no_data(KEY, TITLE, "no figure rests on a price yet", "mlcost plan workload.yaml")
    dated = sorted(((line.as_of, line) for line in lines if line.as_of), key=lambda x: x[0])
    undated = [line for line in lines if line.as_of is None]
    takeaway = f"{len(lines)} prices behind these figures"
    if dated:
        when, oldest = dated[0]
        takeaway += (
            f"; the oldest, {oldest.item}, is dated {when} ({(today - when).days:,} days ago)"
        )
    takeaway += f"; {len(undated)} undated (their source gives no date)." if undated else "."
    years = Counter(str(when.year) for when, _ in dated)

    def paint(figure: Any) -> None:
        axes = figure.subplots()
        # Every year from the oldest to the newest, so that the gaps show as gaps.
        labels = [str(y) for y in range(int(min(years)), int(max(years)) + 1)] if years else []
        axes.bar(labels, [years[y] for y in labels], color=COST, width=0.6)
        if undated:
            axes.bar(["undated"], [len(undated)], color=MUTED, width=0.6, hatch="//")
        axes.set_ylabel("prices")
        axes.set_xlabel("year of the price's date")
        axes.yaxis.get_major_locator().set_params(integer=True)
        axes.grid(axis="y")

    used_in: dict[tuple[str, float, str, str], list[str]] = {}
    for section in sections:
        for line in section.prices:
            titles = used_in.setdefault(price_key(line), [])
            if section.title not in titles:
                titles.append(section.title)

    def row(line: BillLine) -> tuple[str, ...]:
        return (
            line.item,
            f"${line.usd_per_unit:,.6g} per {line.unit}",
            str(line.as_of) if line.as_of else "undated",
            f"{(today - line.as_of).days:,}" if line.as_of else "-",
            line.source,
            "; ".join(used_in[price_key(line)]),
        )

    return Section(
        KEY,
        TITLE,
        takeaway,
        draw(KEY, (8.0, 2.6), paint),
        ("price", "$ per unit", "as of", "days old", "source", "used in"),
        tuple(row(line) for line in (*(line for _, line in dated), *undated)),
        basis=("measured: each date is the source's own, when the price was published or seen",),
    )
