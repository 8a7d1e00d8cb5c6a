"""Spot prices per availability zone: what a fleet spread over zones really pays.

An offer's spot price is the cheapest zone's; ``data/spot_zones.csv`` keeps
the price of each standard zone (Local Zones and incompletely read zone lists
left out) for the shipped AWS offers. Every row is checked against the shipped
offer it belongs to, so a zone list cannot describe a machine the catalog
does not have.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass

from mlcost.catalog._rows import Issue, parse_price
from mlcost.core import PROVIDERS, Offer

SPOT_ZONE_COLUMNS = ("provider", "region", "instance_type", "zone", "spot_usd_per_hour", "source")


@dataclass(frozen=True, slots=True)
class SpotZonePrice:
    """The spot price of one instance type in one zone of a region, and its source.

    ``zone`` is the provider's zone ID where the source gives one ("az1"), else
    the zone's place in the source's list ("z1", "z2", ...).
    """

    provider: str
    region: str
    instance_type: str
    zone: str
    spot_usd_per_hour: float
    source: str

    @property
    def key(self) -> tuple[str, str, str]:
        """(provider, region, instance_type): the key of the offer it belongs to."""
        return (self.provider, self.region, self.instance_type)


def parse_spot_zones(
    text: str, name: str, offers: Mapping[tuple[str, str, str], Offer]
) -> tuple[tuple[SpotZonePrice, ...], list[Issue]]:
    """The zone prices in ``text`` (a spot_zones.csv named ``name``), checked against ``offers``.

    Errors, each at "name:line": a missing column or field, an unknown provider,
    a bad price, a zone listed twice, a zone of an offer not in ``offers`` or
    without a spot price there, and a zone price above on-demand. A warning when
    an offer's cheapest zone is not its spot price. Returns the valid rows and
    every issue.
    """
    reader = csv.DictReader(io.StringIO(text))
    missing = [column for column in SPOT_ZONE_COLUMNS if column not in (reader.fieldnames or ())]
    if missing:
        return (), [Issue("error", f"{name}:1", f"missing column(s) {', '.join(missing)}")]
    zones: list[SpotZonePrice] = []
    issues: list[Issue] = []
    seen: dict[tuple[str, str, str, str], str] = {}
    for raw in reader:
        where = f"{name}:{reader.line_num}"
        zone, row_issues = _zone_row(raw, where, offers)
        issues.extend(row_issues)
        if zone is None:
            continue
        first = seen.setdefault((*zone.key, zone.zone), where)
        if first != where:
            issues.append(
                Issue("error", where, f"zone {zone.zone} listed twice (first at {first}); keep one")
            )
            continue
        zones.append(zone)
    issues.extend(_cheapest_zone_issues(zones, offers, seen))
    return tuple(zones), issues


def _zone_row(
    raw: Mapping[str, str], where: str, offers: Mapping[tuple[str, str, str], Offer]
) -> tuple[SpotZonePrice | None, list[Issue]]:
    fields = {column: (raw.get(column) or "").strip() for column in SPOT_ZONE_COLUMNS}
    issues = [
        Issue("error", where, f"missing {column}; fill it in")
        for column, value in fields.items()
        if not value and column != "spot_usd_per_hour"  # parse_price names a missing price
    ]
    if fields["provider"] and fields["provider"] not in PROVIDERS:
        message = f"provider {fields['provider']!r} is not one of {', '.join(PROVIDERS)}"
        issues.append(Issue("error", where, message))
    price, price_issues = parse_price(fields["spot_usd_per_hour"], "spot_usd_per_hour", where)
    issues.extend(price_issues)
    if issues or price is None:
        return None, issues
    zone = SpotZonePrice(
        fields["provider"],
        fields["region"],
        fields["instance_type"],
        fields["zone"],
        price,
        fields["source"],
    )
    offer = offers.get(zone.key)
    label = "/".join(zone.key)
    if offer is None:
        return None, [Issue("error", where, f"{label} is not an offer in offers.csv; drop the row")]
    if offer.spot_usd_per_hour is None:
        message = f"{label} has no spot price in offers.csv; add it there or drop the zone"
        return None, [Issue("error", where, message)]
    if price > offer.on_demand_usd_per_hour:
        message = (
            f"zone {zone.zone} spot {price:g} is above on-demand "
            f"{offer.on_demand_usd_per_hour:g}; check the price"
        )
        return None, [Issue("error", where, message)]
    return zone, []


def _cheapest_zone_issues(
    zones: list[SpotZonePrice],
    offers: Mapping[tuple[str, str, str], Offer],
    seen: Mapping[tuple[str, str, str, str], str],
) -> list[Issue]:
    """A warning for each offer whose spot price is not the cheapest of its zones."""
    cheapest: dict[tuple[str, str, str], SpotZonePrice] = {}
    for zone in zones:
        best = cheapest.get(zone.key)
        if best is None or zone.spot_usd_per_hour < best.spot_usd_per_hour:
            cheapest[zone.key] = zone
    issues = []
    for key, zone in cheapest.items():
        spot = offers[key].spot_usd_per_hour
        if spot != zone.spot_usd_per_hour:
            message = (
                f"{'/'.join(key)}: cheapest zone {zone.zone} at {zone.spot_usd_per_hour:g} is "
                f"not the offer's spot price {spot:g} in offers.csv; one of the two is stale"
            )
            issues.append(Issue("warning", seen[(*key, zone.zone)], message))
    return issues
