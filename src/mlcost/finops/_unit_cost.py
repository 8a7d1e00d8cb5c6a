"""Cost per 1,000 predictions per workload and day: billed spend over counted requests.

Spend comes from the bill (measured), attributed to a workload by one tag key on its
resources (``mlcost-workload`` by default, the tag ``mlcost billing export`` writes too);
requests come from wherever the counts were taken, which each RequestCount names. A day
is priced only when it has both: a day with spend and no count (or a count and no spend
on the bill) is listed, never filled in.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from mlcost.core import BillingError, BillingLine, RequestCount
from mlcost.finops._billing_summary import line_tags
from mlcost.finops._prometheus import Prometheus

DEFAULT_TAG_KEY = "mlcost-workload"
_COUNT_COLUMNS = ("workload", "date", "requests")


@dataclass(frozen=True, slots=True)
class UnitCost:
    """One workload's spend over its predictions, on one day or (``day`` None) over every
    day that had both. ``per_1k_predictions`` is None for zero requests."""

    workload: str
    day: date | None
    currency: str
    effective_cost: float
    requests: int
    per_1k_predictions: float | None
    requests_source: str


@dataclass(frozen=True, slots=True)
class UnitEconomics:
    """Per workload and day, and per workload over the period; what could not be paired.

    ``uncounted`` are (workload, day) with tagged spend and no request count;
    ``unbilled`` those with a count and no tagged spend on the imported bills.
    """

    tag_key: str
    days: tuple[UnitCost, ...]
    workloads: tuple[UnitCost, ...]
    uncounted: tuple[tuple[str, date], ...]
    unbilled: tuple[tuple[str, date], ...]


def read_request_counts(path: Path) -> list[RequestCount]:
    """The rows of a CSV with columns workload,date,requests (date as YYYY-MM-DD).

    Raises BillingError naming FILE:LINE for a missing column or a bad value.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise BillingError(f"{path}: cannot read the request counts ({exc})") from exc
    reader = csv.DictReader(text.splitlines())
    missing = [c for c in _COUNT_COLUMNS if c not in (reader.fieldnames or ())]
    if missing:
        raise BillingError(
            f"{path}:1: missing columns {', '.join(missing)}; the header must be workload,date,requests"
        )
    return [_count(path, reader.line_num, row) for row in reader]


# Texts answered per UTC day, each counted once by the tier that answered it.
PREDICTIONS_PER_DAY = "sum by ({label}) (increase(mlcost_predictions_total[1d]))"


def prometheus_request_counts(
    prometheus: Prometheus, *, first: date, last: date, label: str = "job"
) -> list[RequestCount]:
    """Predictions per workload (the ``label`` of mlcost serve's series) and UTC day, from
    ``first`` to ``last``: the counter's increase over each day, read at the midnight
    that ends it (Prometheus extrapolates a day the server ran only part of)."""
    query = PREDICTIONS_PER_DAY.format(label=label)
    start = datetime.combine(first + timedelta(days=1), time(), UTC)
    end = datetime.combine(last + timedelta(days=1), time(), UTC)
    source = f"Prometheus {prometheus.where}: {query}"
    return [
        RequestCount(series.labels[label], (at - timedelta(days=1)).date(), round(value), source)
        for series in prometheus.query_range(query, start=start, end=end, step=timedelta(days=1))
        if series.labels.get(label)
        for at, value in series.points
    ]


def _count(path: Path, line: int, row: dict[str, str]) -> RequestCount:
    workload = (row["workload"] or "").strip()
    if not workload:
        raise BillingError(f"{path}:{line}: workload: empty; name the workload its tag names")
    try:
        day = date.fromisoformat((row["date"] or "").strip())
    except ValueError as exc:
        raise BillingError(f"{path}:{line}: date: {row['date']!r} is not YYYY-MM-DD") from exc
    value = (row["requests"] or "").strip()
    if not value.isdigit():
        raise BillingError(f"{path}:{line}: requests: {value!r} is not a whole number >= 0")
    return RequestCount(workload, day, int(value), f"{path.name}:{line}")


def workload_of(line: BillingLine, tag_key: str) -> str | None:
    """The workload a billing line's ``tag_key`` tag names, or None."""
    value = dict(line_tags(line.tags)).get(tag_key)
    return None if value is None else str(value)


def unit_costs(
    lines: Iterable[BillingLine],
    counts: Sequence[RequestCount],
    *,
    tag_key: str = DEFAULT_TAG_KEY,
) -> UnitEconomics:
    """Join tagged spend with request counts into cost per 1,000 predictions per
    workload and day, and per workload over the days that had both."""
    spend: dict[tuple[str, date, str], float] = defaultdict(float)
    for line in lines:
        workload = workload_of(line, tag_key)
        if workload is not None:
            spend[workload, line.charge_date, line.currency] += line.effective_cost
    counted: dict[tuple[str, date], list[RequestCount]] = defaultdict(list)
    for count in counts:
        counted[count.workload, count.day].append(count)
    days: list[UnitCost] = []
    for (workload, day, currency), cost in sorted(spend.items()):
        found = counted.get((workload, day))
        if found:
            requests = sum(c.requests for c in found)
            source = ", ".join(c.source for c in found)
            days.append(
                UnitCost(workload, day, currency, cost, requests, _per_1k(cost, requests), source)
            )
    billed = {(workload, day) for workload, day, _ in spend}
    return UnitEconomics(
        tag_key=tag_key,
        days=tuple(days),
        workloads=_per_workload(days),
        uncounted=tuple(sorted(billed - counted.keys())),
        unbilled=tuple(sorted(counted.keys() - billed)),
    )


def _per_1k(cost: float, requests: int) -> float | None:
    return cost / requests * 1000.0 if requests else None


def _per_workload(days: Sequence[UnitCost]) -> tuple[UnitCost, ...]:
    """Each workload (and currency) over its priced days."""
    groups: dict[tuple[str, str], list[UnitCost]] = defaultdict(list)
    for day in days:
        groups[day.workload, day.currency].append(day)
    totals: list[UnitCost] = []
    for (workload, currency), group in sorted(groups.items()):
        cost = sum(d.effective_cost for d in group)
        requests = sum(d.requests for d in group)
        sources = [d.requests_source for d in group]
        source = (
            ", ".join(sources)
            if len(sources) <= 3
            else f"{sources[0]} and {len(sources) - 1} more days"
        )
        totals.append(
            UnitCost(workload, None, currency, cost, requests, _per_1k(cost, requests), source)
        )
    return tuple(totals)
