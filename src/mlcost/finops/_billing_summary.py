"""One month of the bill, broken down: where the money went, what ML took, what discounts saved.

Every amount is measured: summed from the imported billing lines, in the bill's currency.
"Spend" is FOCUS's EffectiveCost (what a charge cost once upfront payments are spread
over the usage they cover); BilledCost (what was invoiced) is shown beside it.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from operator import attrgetter

from mlcost.catalog import Catalog, instance_family
from mlcost.core import BillingError, BillingImport, BillingLine, SpecFinding

BASIS = "measured: from the bill (EffectiveCost, amortized; BilledCost as invoiced)"
NONE_KEY = "(none)"
OTHER_KEY = "(other)"
UNTAGGED_KEY = "(untagged)"
ML_SERVICE_CATEGORY = "AI and Machine Learning"
# The dimensions a summary breaks spend down by, and the line field each reads. "tag"
# (every key=value) and "tag:KEY" (one key's values) read the line's tags.
DIMENSIONS: dict[str, Callable[[BillingLine], str | None]] = {
    "provider": attrgetter("provider"),
    "service": attrgetter("service_name"),
    "service-category": attrgetter("service_category"),
    "region": attrgetter("region"),
    "resource": attrgetter("resource_id"),
    "sub-account": attrgetter("sub_account"),
    "pricing-category": attrgetter("pricing_category"),
    "charge-category": attrgetter("charge_category"),
    "commitment": attrgetter("commitment_discount_id"),
    "instance-type": attrgetter("instance_type"),
}
DEFAULT_BREAKDOWNS = ("provider", "service-category", "service", "region", "resource", "tag")


@dataclass(frozen=True, slots=True)
class Spend:
    """One key of a breakdown: its effective and billed cost, and its share of the month's
    effective cost (tag breakdowns overlap: a line with two tags counts under both)."""

    key: str
    effective_cost: float
    billed_cost: float
    share: float
    row_count: int


@dataclass(frozen=True, slots=True)
class MlSpend:
    """What ML took: lines on accelerator instances (the catalog's GPU, Inferentia,
    Trainium and TPU families), in the "AI and Machine Learning" service category, or
    tagged with a model; ``by_reason`` says which, first match wins."""

    effective_cost: float
    billed_cost: float
    share: float
    by_reason: tuple[Spend, ...]


@dataclass(frozen=True, slots=True)
class CommitmentUse:
    """Commitment discounts (savings plans, reservations, committed use) over the month.

    ``utilization`` is the used share of what was committed: the effective cost of the
    usage commitments covered over that plus the unused commitment (the spec's
    CommitmentDiscountStatus "Used" and "Unused" rows; 1.0 or 0.0 where those cost 0). ``coverage`` is the share of the
    usage, in the services a commitment applied to, that commitments covered, at list
    price (effective cost where the bill has no ListCost). Both are None without any
    commitment row.
    """

    used_cost: float
    unused_cost: float
    utilization: float | None
    covered_cost: float
    eligible_cost: float
    coverage: float | None
    commitment_count: int


@dataclass(frozen=True, slots=True)
class MonthTotal:
    """One billing period's totals; ``change`` is the effective cost's change on the month
    before it (None for the first)."""

    billing_period: str
    effective_cost: float
    billed_cost: float
    change: float | None


@dataclass(frozen=True, slots=True)
class Mover:
    """A key whose effective cost changed most from the month before."""

    key: str
    effective_cost: float
    previous_effective_cost: float

    @property
    def change(self) -> float:
        return self.effective_cost - self.previous_effective_cost


@dataclass(frozen=True, slots=True)
class BillingSummary:
    """One month of the bill in ``currency``; every amount ``basis``: measured.

    ``list_cost`` and ``contracted_cost`` are None where no line has them; the savings
    follow from them: ``negotiated_saving`` (list - contracted: the rates agreed),
    ``commitment_saving`` (contracted - effective: commitments and other discounts).
    ``movers`` compare ``movers_by`` keys with the previous month in the store;
    ``findings`` are the FOCUS findings of the files the month was read from.
    """

    billing_period: str
    currency: str
    basis: str
    row_count: int
    effective_cost: float
    billed_cost: float
    list_cost: float | None
    contracted_cost: float | None
    negotiated_saving: float | None
    commitment_saving: float | None
    breakdowns: dict[str, tuple[Spend, ...]]
    ml: MlSpend
    pricing: tuple[Spend, ...]
    commitment: CommitmentUse
    trend: tuple[MonthTotal, ...]
    movers_by: str
    movers: tuple[Mover, ...]
    findings: tuple[SpecFinding, ...]
    files: tuple[str, ...]
    other_currencies: tuple[str, ...]


def check_dimension(name: str) -> str:
    """``name`` if it is a breakdown dimension; BillingError naming the choices if not."""
    if name in DIMENSIONS or name == "tag" or (name.startswith("tag:") and len(name) > 4):
        return name
    raise BillingError(
        f"unknown breakdown {name!r}; use one of {', '.join(DIMENSIONS)}, tag or tag:KEY"
    )


def summarize_billing(
    lines: Sequence[BillingLine],
    imports: Sequence[BillingImport],
    catalog: Catalog,
    *,
    month: str | None = None,
    breakdowns: Sequence[str] = DEFAULT_BREAKDOWNS,
    currency: str | None = None,
    top: int = 10,
    movers_by: str = "service",
) -> BillingSummary:
    """Summarize ``month`` ("2024-09"; the latest in ``lines`` when None) in ``currency``
    (the month's largest when None). Breakdowns keep their ``top`` keys and sum the rest
    as "(other)".

    Raises BillingError when there are no lines for the month or currency, or a
    breakdown is unknown.
    """
    for name in (*breakdowns, movers_by):
        check_dimension(name)
    months = sorted({line.billing_period for line in lines})
    if not months:
        raise BillingError("no billing export has been imported; run mlcost billing import")
    month = month or months[-1]
    in_month = [line for line in lines if line.billing_period == month]
    if not in_month:
        raise BillingError(f"no billing lines for {month}; imported months: {', '.join(months)}")
    currency = currency or _largest_currency(in_month)
    chosen = [line for line in in_month if line.currency == currency]
    if not chosen:
        raise BillingError(f"no billing lines in {currency} for {month}")
    total = sum(line.effective_cost for line in chosen)
    same_currency = [line for line in lines if line.currency == currency]
    previous = [m for m in months if m < month]
    before = [line for line in same_currency if previous and line.billing_period == previous[-1]]
    list_cost = _optional_sum(line.list_cost for line in chosen)
    contracted_cost = _optional_sum(line.contracted_cost for line in chosen)
    return BillingSummary(
        billing_period=month,
        currency=currency,
        basis=BASIS,
        row_count=sum(line.row_count for line in chosen),
        effective_cost=total,
        billed_cost=sum(line.billed_cost for line in chosen),
        list_cost=list_cost,
        contracted_cost=contracted_cost,
        negotiated_saving=None
        if list_cost is None or contracted_cost is None
        else list_cost - contracted_cost,
        commitment_saving=None if contracted_cost is None else contracted_cost - total,
        breakdowns={name: breakdown(chosen, name, total, top=top) for name in breakdowns},
        ml=ml_spend(chosen, catalog, total),
        pricing=breakdown(chosen, "pricing-category", total, top=top),
        commitment=commitment_use(chosen),
        trend=month_totals(same_currency),
        movers_by=movers_by,
        movers=movers(chosen, before, movers_by) if before else (),
        findings=tuple(f for i in imports if month in i.billing_periods for f in i.findings),
        files=tuple(i.file_name for i in imports if month in i.billing_periods),
        other_currencies=tuple(sorted({line.currency for line in in_month} - {currency})),
    )


def _largest_currency(lines: Iterable[BillingLine]) -> str:
    spend: dict[str, float] = defaultdict(float)
    for line in lines:
        spend[line.currency] += abs(line.effective_cost)
    return max(spend, key=lambda currency: spend[currency])


def _optional_sum(values: Iterable[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return sum(present) if present else None


def keys_of(line: BillingLine, dimension: str) -> list[str]:
    """The keys ``line`` counts under in ``dimension`` (several for "tag")."""
    if dimension == "tag":
        return [f"{key}={value}" for key, value in line_tags(line.tags)] or [UNTAGGED_KEY]
    if dimension.startswith("tag:"):
        wanted = dimension.removeprefix("tag:")
        values = [str(value) for key, value in line_tags(line.tags) if key == wanted]
        return values or [UNTAGGED_KEY]
    return [DIMENSIONS[dimension](line) or NONE_KEY]


@cache
def line_tags(text: str) -> tuple[tuple[str, object], ...]:
    """A billing line's tags (its canonical JSON) as (key, value) pairs; cached, as lines
    share few distinct tag sets."""
    return tuple(json.loads(text).items())


def breakdown(
    lines: Iterable[BillingLine], dimension: str, total: float, *, top: int | None = None
) -> tuple[Spend, ...]:
    """Spend per key of ``dimension``, largest effective cost first; past ``top`` keys the
    rest is one "(other)" row."""
    return _spend_by(lines, lambda line: keys_of(line, dimension), total, top)


def _spend_by(
    lines: Iterable[BillingLine],
    keys: Callable[[BillingLine], list[str]],
    total: float,
    top: int | None = None,
) -> tuple[Spend, ...]:
    """Spend per key that ``keys`` gives each line (none: the line is left out)."""
    sums: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for line in lines:
        for key in keys(line):
            acc = sums[key]
            acc[0] += line.effective_cost
            acc[1] += line.billed_cost
            acc[2] += line.row_count
    ranked = sorted(sums.items(), key=lambda item: (-item[1][0], item[0]))
    if top is not None and len(ranked) > top:
        rest = ranked[top:]
        other = [sum(acc[n] for _, acc in rest) for n in range(3)]
        ranked = [*ranked[:top], (f"{OTHER_KEY} {len(rest)} more", other)]
    return tuple(
        Spend(key, acc[0], acc[1], acc[0] / total if total else 0.0, int(acc[2]))
        for key, acc in ranked
    )


def accelerator_families(catalog: Catalog) -> frozenset[tuple[str, str]]:
    """(provider, instance family) of every catalog machine with an accelerator in its own
    type ("g5", "NCas_T4_v3", "a2"), leaving out GCP hosts with a GPU attached."""
    return frozenset(
        (offer.provider, instance_family(offer.provider, offer.instance_type))
        for offer in catalog.offers
        if offer.has_accelerator and " + " not in offer.instance_type
    )


def _family_of(instance_type: str) -> tuple[str, str]:
    """The catalog (provider, family) of a machine type as written on a bill."""
    if instance_type.startswith("Standard_"):
        provider = "azure"
    elif "." in instance_type:
        provider = "aws"
    else:
        provider = "gcp"
    return provider, instance_family(provider, instance_type)


def ml_reason(line: BillingLine, families: frozenset[tuple[str, str]]) -> str | None:
    """Why ``line`` is ML spend, or None: an accelerator instance, the AI and Machine
    Learning category, or a tag whose key names a model."""
    if line.instance_type and _family_of(line.instance_type) in families:
        return f"accelerator instance {line.instance_type}"
    if line.service_category == ML_SERVICE_CATEGORY:
        return f"{ML_SERVICE_CATEGORY}: {line.service_name or NONE_KEY}"
    for key, value in line_tags(line.tags):
        if "model" in key.lower():
            return f"model tag {key}={value}"
    return None


def ml_spend(lines: Sequence[BillingLine], catalog: Catalog, total: float) -> MlSpend:
    """The ML share of ``lines`` (see ``ml_reason``), by reason."""
    families = accelerator_families(catalog)

    def reasons(line: BillingLine) -> list[str]:
        reason = ml_reason(line, families)
        return [] if reason is None else [reason]

    by_reason = _spend_by(lines, reasons, total)
    effective = sum(spend.effective_cost for spend in by_reason)
    billed = sum(spend.billed_cost for spend in by_reason)
    return MlSpend(effective, billed, effective / total if total else 0.0, by_reason)


def commitment_use(lines: Sequence[BillingLine]) -> CommitmentUse:
    """Utilization and coverage of commitment discounts over ``lines`` (see CommitmentUse)."""
    usage = [line for line in lines if line.charge_category == "Usage"]
    used = [line for line in usage if line.commitment_discount_status == "Used"]
    unused = [line for line in usage if line.commitment_discount_status == "Unused"]
    used_cost = sum(line.effective_cost for line in used)
    unused_cost = sum(line.effective_cost for line in unused)
    services = {line.service_name for line in (*used, *unused)}
    eligible = [
        line
        for line in usage
        if line.service_name in services and line.commitment_discount_status != "Unused"
    ]
    covered_cost = sum(_at_list(line) for line in used)
    eligible_cost = sum(_at_list(line) for line in eligible)
    ids = {line.commitment_discount_id for line in lines if line.commitment_discount_id}
    return CommitmentUse(
        used_cost=used_cost,
        unused_cost=unused_cost,
        utilization=_utilization(
            used_cost, unused_cost, has_used=bool(used), has_unused=bool(unused)
        ),
        covered_cost=covered_cost,
        eligible_cost=eligible_cost,
        coverage=covered_cost / eligible_cost if eligible_cost else None,
        commitment_count=len(ids),
    )


def _utilization(
    used_cost: float, unused_cost: float, *, has_used: bool, has_unused: bool
) -> float | None:
    """Used over committed cost; where the bill prices every commitment row at 0 (its
    amortization elsewhere), whether any of it went unused: 1.0 or 0.0."""
    if used_cost + unused_cost:
        return used_cost / (used_cost + unused_cost)
    if has_used != has_unused:
        return 1.0 if has_used else 0.0
    return None


def _at_list(line: BillingLine) -> float:
    return line.list_cost if line.list_cost is not None else line.effective_cost


def month_totals(lines: Iterable[BillingLine]) -> tuple[MonthTotal, ...]:
    """Every billing period's totals, oldest first, with the change on the month before."""
    sums: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for line in lines:
        sums[line.billing_period][0] += line.effective_cost
        sums[line.billing_period][1] += line.billed_cost
    totals: list[MonthTotal] = []
    for period in sorted(sums):
        effective, billed = sums[period]
        change = effective - totals[-1].effective_cost if totals else None
        totals.append(MonthTotal(period, effective, billed, change))
    return tuple(totals)


def movers(
    lines: Sequence[BillingLine],
    before: Sequence[BillingLine],
    dimension: str,
    *,
    count: int = 5,
) -> tuple[Mover, ...]:
    """The ``count`` keys of ``dimension`` whose effective cost changed most from
    ``before`` (the previous month's lines) to ``lines``."""
    now = {s.key: s.effective_cost for s in breakdown(lines, dimension, 0.0)}
    then = {s.key: s.effective_cost for s in breakdown(before, dimension, 0.0)}
    moved = [Mover(key, now.get(key, 0.0), then.get(key, 0.0)) for key in now.keys() | then]
    moved.sort(key=lambda m: (-abs(m.change), m.key))
    return tuple(moved[:count])
