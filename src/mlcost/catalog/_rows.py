"""Catalog rows as text -> validated Offers, with every problem reported by location.

The shipped catalog, imported files and overrides all pass through here, so one
set of rules decides what a valid offer is.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Literal

from mlcost.catalog._accelerators import KNOWN_ACCELERATORS, canonical_accelerator
from mlcost.core import ARCHES, INTERRUPTION_BUCKETS, PROVIDERS, Offer, PriceOrigin

# The columns of mlcost's own catalog format (the shipped offers.csv).
OFFER_COLUMNS = (
    "provider",
    "region",
    "instance_type",
    "vcpus",
    "memory_gib",
    "accelerator",
    "accelerator_count",
    "accelerator_memory_gib",
    "arch",
    "on_demand_usd_per_hour",
    "spot_usd_per_hour",
    "spot_seen_on",
    "interruption_bucket",
    "as_of",
    "source",
    "note",
)
REQUIRED_COLUMNS = (
    "provider",
    "region",
    "instance_type",
    "vcpus",
    "memory_gib",
    "arch",
    "on_demand_usd_per_hour",
    "source",
)

# A price at or above this per hour is a placeholder, not a machine (the priciest
# 8-GPU machines list around $130/h).
_PLACEHOLDER_USD_PER_HOUR = 10_000.0
_PLACEHOLDER_TEXT = {"tbd", "todo", "n/a", "na", "null", "none", "-", "?", "xxx"}
_ZONE_PATTERNS = (
    (re.compile(r"^([a-z]{2}(?:-gov)?-[a-z]+-\d+)[a-z]$"), "AWS availability zone"),
    (re.compile(r"^([a-z]+-[a-z]+\d+)-[a-z]$"), "GCP zone"),
    (re.compile(r"^[a-z]{3,4}\d-(?:az\d+|[a-z]+\d+-az\d+)$"), "AWS zone ID"),
    (re.compile(r"^([a-z]+)-\d$"), "Azure availability zone"),
)


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem found in a catalog row; ``where`` is "file:line" or a label."""

    level: Literal["error", "warning"]
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.level}: {self.message}"


class _RowProblems:
    """Collects issues for one row so each check is one line."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.issues: list[Issue] = []

    def error(self, message: str) -> None:
        self.issues.append(Issue("error", self.where, message))

    def warning(self, message: str) -> None:
        self.issues.append(Issue("warning", self.where, message))

    @property
    def has_errors(self) -> bool:
        return any(issue.level == "error" for issue in self.issues)


def zone_region(region: str) -> tuple[str, str] | None:
    """(region the zone belongs to, kind of zone) when ``region`` is really a zone."""
    for pattern, kind in _ZONE_PATTERNS:
        match = pattern.match(region)
        if match:
            parent = match.group(1) if match.groups() else region
            return parent, kind
    return None


def _number(
    raw: Mapping[str, str], field: str, problems: _RowProblems, *, required: bool
) -> float | None:
    text = (raw.get(field) or "").strip()
    if not text:
        if required:
            problems.error(f"missing {field}; fill it in")
        return None
    if text.lower() in _PLACEHOLDER_TEXT:
        problems.error(f"{field} is a placeholder ({text!r}); give the real number or drop the row")
        return None
    try:
        value = float(text)
    except ValueError:
        problems.error(f"{field} must be a number, got {text!r}")
        return None
    if not math.isfinite(value) or value < 0:
        problems.error(f"{field} must be a finite number >= 0, got {text!r}")
        return None
    return value


def _price(
    raw: Mapping[str, str], field: str, problems: _RowProblems, *, required: bool
) -> float | None:
    value = _number(raw, field, problems, required=required)
    if value is None:
        return None
    if value == 0 or value >= _PLACEHOLDER_USD_PER_HOUR:
        problems.error(f"{field} {value:g} looks like a placeholder price; give the real price")
        return None
    return value


def parse_price(text: str, field: str, where: str) -> tuple[float | None, list[Issue]]:
    """A required $/hour price given as text, checked by the rules offers follow.

    Returns the price (None when it is invalid) and the errors found at ``where``.
    """
    problems = _RowProblems(where)
    value = _price({field: text}, field, problems, required=True)
    return value, problems.issues


def _date(raw: Mapping[str, str], field: str, problems: _RowProblems) -> date | None:
    text = (raw.get(field) or "").strip()
    if not text or text.lower().startswith("n/a"):
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        problems.error(f"{field} must be a date YYYY-MM-DD, got {text!r}")
        return None


def _text(raw: Mapping[str, str], field: str) -> str:
    return (raw.get(field) or "").strip()


def _check_choice(value: str, field: str, allowed: Iterable[str], problems: _RowProblems) -> None:
    choices = tuple(allowed)
    if value and value not in choices:
        problems.error(f"{field} {value!r} is not one of {', '.join(choices)}")


def _accelerator(
    raw: Mapping[str, str], problems: _RowProblems
) -> tuple[str | None, int, float | None]:
    text = _text(raw, "accelerator")
    count = _number(raw, "accelerator_count", problems, required=bool(text))
    memory = _number(raw, "accelerator_memory_gib", problems, required=False)
    if not text:
        if count:
            problems.error(
                "accelerator_count is set but accelerator is empty; name the accelerator"
            )
        return None, 0, None
    name = canonical_accelerator(text)
    if name is None:
        known = ", ".join(KNOWN_ACCELERATORS)
        problems.error(f"unknown accelerator {text!r}; use one of {known}")
        return None, 0, None
    if count is not None and (count < 1 or count != int(count)):
        problems.error(f"accelerator_count must be a whole number >= 1, got {count:g}")
    return name, int(count or 0), memory if memory else KNOWN_ACCELERATORS[name].memory_gib


def parse_offer_row(
    raw: Mapping[str, str], where: str, *, origin: PriceOrigin = "shipped"
) -> tuple[Offer | None, list[Issue]]:
    """Validate one row in mlcost's catalog format.

    Returns the Offer (None when the row has errors) and every issue found.
    Spot prices at or above on-demand are dropped with a warning: the provider
    offers no spot discount there.
    """
    problems = _RowProblems(where)
    provider = _text(raw, "provider").lower()
    region = _text(raw, "region")
    instance_type = _text(raw, "instance_type")
    arch = _text(raw, "arch")
    for field in ("provider", "region", "instance_type", "arch", "source"):
        if not _text(raw, field):
            problems.error(f"missing {field}; fill it in")
    _check_choice(provider, "provider", PROVIDERS, problems)
    _check_choice(arch, "arch", ARCHES, problems)
    zone = zone_region(region)
    if zone:
        problems.error(f"region {region!r} is an {zone[1]}, not a region; use {zone[0]!r}")
    vcpus = _number(raw, "vcpus", problems, required=True)
    memory_gib = _number(raw, "memory_gib", problems, required=True)
    for field, value in (("vcpus", vcpus), ("memory_gib", memory_gib)):
        if value == 0:
            problems.error(f"{field} must be > 0")
    if vcpus is not None and vcpus != int(vcpus):
        problems.error(f"vcpus must be a whole number, got {vcpus:g}")
    on_demand = _price(raw, "on_demand_usd_per_hour", problems, required=True)
    spot = _price(raw, "spot_usd_per_hour", problems, required=False)
    if spot is not None and on_demand is not None and spot >= on_demand:
        relation = "equals" if spot == on_demand else "is above"
        problems.warning(
            f"spot price {spot:g} {relation} on-demand {on_demand:g}: no spot discount, spot price dropped"
        )
        spot = None
    bucket = _text(raw, "interruption_bucket")
    _check_choice(bucket, "interruption_bucket", INTERRUPTION_BUCKETS, problems)
    accelerator, count, accel_memory = _accelerator(raw, problems)
    spot_seen_on = _date(raw, "spot_seen_on", problems)
    as_of = _date(raw, "as_of", problems)
    if problems.has_errors:
        return None, problems.issues
    assert vcpus is not None and memory_gib is not None and on_demand is not None
    offer = Offer(
        provider=provider,
        region=region,
        instance_type=instance_type,
        vcpus=int(vcpus),
        memory_gib=memory_gib,
        arch=arch,
        on_demand_usd_per_hour=on_demand,
        spot_usd_per_hour=spot,
        accelerator_name=accelerator,
        accelerator_count=count,
        accelerator_memory_gib=accel_memory,
        spot_seen_on=spot_seen_on if spot is not None else None,
        interruption_bucket=bucket or None,
        as_of=as_of,
        source=_text(raw, "source"),
        origin=origin,
        note=_text(raw, "note"),
    )
    return offer, problems.issues


def find_duplicates(located: Iterable[tuple[Offer, str]]) -> list[Issue]:
    """An error for every offer whose (provider, region, instance type) appeared before."""
    first_seen: dict[tuple[str, str, str], str] = {}
    issues: list[Issue] = []
    for offer, where in located:
        if offer.key in first_seen:
            issues.append(
                Issue(
                    "error",
                    where,
                    f"duplicate offer {'/'.join(offer.key)} (first at {first_seen[offer.key]}); keep one row",
                )
            )
        else:
            first_seen[offer.key] = where
    return issues


def offer_to_row(offer: Offer) -> dict[str, str]:
    """The offer as a row of mlcost's catalog format (inverse of parse_offer_row)."""

    def fmt(value: object) -> str:
        return "" if value is None else repr(value) if isinstance(value, float) else str(value)

    return {
        "provider": offer.provider,
        "region": offer.region,
        "instance_type": offer.instance_type,
        "vcpus": str(offer.vcpus),
        "memory_gib": fmt(offer.memory_gib),
        "accelerator": offer.accelerator_name or "",
        "accelerator_count": str(offer.accelerator_count) if offer.accelerator_count else "",
        "accelerator_memory_gib": fmt(offer.accelerator_memory_gib),
        "arch": offer.arch,
        "on_demand_usd_per_hour": repr(offer.on_demand_usd_per_hour),
        "spot_usd_per_hour": ""
        if offer.spot_usd_per_hour is None
        else repr(offer.spot_usd_per_hour),
        "spot_seen_on": fmt(offer.spot_seen_on),
        "interruption_bucket": offer.interruption_bucket or "",
        "as_of": fmt(offer.as_of),
        "source": offer.source,
        "note": offer.note,
    }
