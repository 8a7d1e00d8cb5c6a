"""The effective catalog: shipped offers, then the user's imports, then overrides."""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

from mlcost.catalog._accelerators import matches_accelerator
from mlcost.catalog._importers import ImportResult, read_price_file
from mlcost.catalog._rows import Issue, find_duplicates, parse_offer_row
from mlcost.catalog._spot_zones import SpotZonePrice, parse_spot_zones
from mlcost.core import (
    CatalogError,
    Commitment,
    ImportRecord,
    Offer,
    PlatformPrice,
    PriceOverride,
    ServerlessPrice,
    StoragePrice,
    Store,
    TransferPrice,
)


@dataclass(frozen=True, slots=True)
class PriceBook:
    """The prices a bill needs besides machines."""

    commitments: tuple[Commitment, ...] = ()
    serverless: tuple[ServerlessPrice, ...] = ()
    transfer: tuple[TransferPrice, ...] = ()
    storage: tuple[StoragePrice, ...] = ()
    platform: tuple[PlatformPrice, ...] = ()

    def platform_price(self, provider: str, item: str) -> PlatformPrice | None:
        """The platform price ``item`` of ``provider`` (``eks-control-plane``, ...), or None."""
        return next((p for p in self.platform if p.provider == provider and p.item == item), None)


@dataclass(frozen=True, slots=True)
class OfferQuery:
    """Filters for Catalog.select; None means "any"."""

    provider: str | None = None
    region: str | None = None
    accelerator: str | None = None
    min_vcpus: int | None = None
    min_memory_gib: float | None = None
    arch: str | None = None
    max_usd_per_hour: float | None = None
    is_spot: bool = False
    has_accelerator: bool | None = None

    def matches(self, offer: Offer) -> bool:
        price = offer.usd_per_hour(is_spot=self.is_spot)
        checks = (
            self.provider is None or offer.provider == self.provider.lower(),
            self.region is None or offer.region == self.region,
            self.accelerator is None
            or matches_accelerator(self.accelerator, offer.accelerator_name),
            self.min_vcpus is None or offer.vcpus >= self.min_vcpus,
            self.min_memory_gib is None or offer.memory_gib >= self.min_memory_gib,
            self.arch is None or offer.arch == self.arch,
            price is not None,
            self.max_usd_per_hour is None or (price is not None and price <= self.max_usd_per_hour),
            self.has_accelerator is None or offer.has_accelerator == self.has_accelerator,
        )
        return all(checks)


@dataclass(frozen=True, slots=True)
class Catalog:
    """Every offer mlcost can price, with the other prices and what loading found.

    ``spot_zones`` holds the per-zone spot prices of the shipped offers.
    """

    offers: tuple[Offer, ...]
    prices: PriceBook
    issues: tuple[Issue, ...] = ()
    spot_zones: tuple[SpotZonePrice, ...] = ()

    def select(self, query: OfferQuery) -> list[Offer]:
        """Offers that match ``query``, cheapest first (by spot price when it asks for spot)."""

        def price(offer: Offer) -> float:
            value = offer.usd_per_hour(is_spot=query.is_spot)
            return value if value is not None else float("inf")

        return sorted((o for o in self.offers if query.matches(o)), key=lambda o: (price(o), o.key))

    def find(
        self, instance_type: str, *, region: str | None = None, provider: str | None = None
    ) -> list[Offer]:
        """Offers of one instance type (a GCP host also finds its GPU-attached offers)."""
        wanted = instance_type.strip()
        return [
            offer
            for offer in self.offers
            if (offer.instance_type == wanted or offer.instance_type.split(" + ")[0] == wanted)
            and (region is None or offer.region == region)
            and (provider is None or offer.provider == provider)
        ]

    def offer(
        self, instance_type: str, *, region: str, provider: str | None = None
    ) -> Offer | None:
        """The offer of exactly this instance type in ``region`` (no GCP host + GPU composition), or None."""
        for offer in self.find(instance_type, region=region, provider=provider):
            if offer.instance_type == instance_type.strip():
                return offer
        return None

    def require_offer(
        self, instance_type: str, *, region: str, provider: str | None = None
    ) -> Offer:
        """Like ``offer``; raises CatalogError naming the region when there is none."""
        offer = self.offer(instance_type, region=region, provider=provider)
        if offer is None:
            raise CatalogError(
                f"{instance_type} is not in the catalog for {region}; check mlcost catalog list --region {region}"
            )
        return offer

    def require_price(
        self, instance_type: str, *, region: str, is_spot: bool
    ) -> tuple[Offer, float]:
        """The offer and its spot or on-demand price; CatalogError when either is missing."""
        offer = self.require_offer(instance_type, region=region)
        price = offer.usd_per_hour(is_spot=is_spot)
        if price is None:
            raise CatalogError(f"{instance_type} has no spot price in {region}; drop --spot")
        return offer, price

    def spot_zone_prices(self, offer: Offer) -> tuple[float, ...]:
        """The spot $/hour of ``offer`` in each zone where it was seen, cheapest first.

        The cheapest is the offer's own spot price; a zone at the on-demand price
        (spot there at its cap) is listed too. Empty when the zones are unknown:
        an imported or overridden offer, an offer without a spot price, or a
        shipped one whose zones the source did not list in full.
        """
        if offer.origin != "shipped" or offer.spot_usd_per_hour is None:
            return ()
        return tuple(
            sorted(zone.spot_usd_per_hour for zone in self.spot_zones if zone.key == offer.key)
        )

    def commitments_for(self, offer: Offer) -> list[Commitment]:
        """Savings plans / committed-use discounts that apply to ``offer``, best first."""
        matching = [c for c in self.prices.commitments if c.applies_to(offer)]
        return sorted(matching, key=lambda c: (c.term_years, -c.discount_fraction))


def _read_text(name: str) -> str:
    return resources.files("mlcost.catalog").joinpath("data", name).read_text(encoding="utf-8")


def _read_csv(name: str) -> list[tuple[dict[str, str], str]]:
    text = _read_text(name)
    reader = csv.DictReader(io.StringIO(text))
    return [(row, f"{name}:{reader.line_num}") for row in reader]


def _attached_offers(hosts: dict[tuple[str, str, str], Offer]) -> tuple[list[Offer], list[Issue]]:
    """GCP prices GPUs apart from the host: compose host + GPU offers from both prices."""
    offers: list[Offer] = []
    issues: list[Issue] = []
    for row, where in _read_csv("gpu_attachments.csv"):
        for host_type in row["hosts"].split():
            host = hosts.get((row["provider"], row["region"], host_type))
            if host is None:
                issues.append(
                    Issue("error", where, f"host {host_type} not in offers.csv for {row['region']}")
                )
                continue
            offer, row_issues = parse_offer_row(_attached_row(row, host), where)
            issues.extend(row_issues)
            if offer is not None:
                offers.append(offer)
    return offers, issues


def _attached_row(row: dict[str, str], host: Offer) -> dict[str, str]:
    gpu_od = float(row["on_demand_usd_per_hour"])
    gpu_spot = float(row["spot_usd_per_hour"]) if row["spot_usd_per_hour"] else None
    spot = (
        ""
        if gpu_spot is None or host.spot_usd_per_hour is None
        else repr(round(host.spot_usd_per_hour + gpu_spot, 6))
    )
    return {
        "provider": host.provider,
        "region": host.region,
        "instance_type": f"{host.instance_type} + 1x {row['accelerator']}",
        "vcpus": str(host.vcpus),
        "memory_gib": repr(host.memory_gib),
        "accelerator": row["accelerator"],
        "accelerator_count": "1",
        "arch": host.arch,
        "on_demand_usd_per_hour": repr(round(host.on_demand_usd_per_hour + gpu_od, 6)),
        "spot_usd_per_hour": spot,
        "as_of": row["as_of"],
        "source": f"host: {host.source} | GPU: {row['source']}",
        "note": f"host ${host.on_demand_usd_per_hour:g}/h + GPU ${gpu_od:g}/h; {row['note']}",
    }


def _price_book() -> tuple[PriceBook, list[Issue]]:
    text = (
        resources.files("mlcost.catalog")
        .joinpath("data", "prices.toml")
        .read_text(encoding="utf-8")
    )
    data = tomllib.loads(text)
    try:
        book = PriceBook(
            commitments=tuple(_commitment(item) for item in data.get("commitment", [])),
            serverless=tuple(ServerlessPrice(**item) for item in data.get("serverless", [])),
            transfer=tuple(TransferPrice(**item) for item in data.get("transfer", [])),
            storage=tuple(StoragePrice(**item) for item in data.get("storage", [])),
            platform=tuple(PlatformPrice(**item) for item in data.get("platform", [])),
        )
    except TypeError as exc:
        raise CatalogError(f"prices.toml has an unknown or missing field: {exc}") from exc
    issues = [
        Issue("error", "prices.toml", f"{kind} price from {provider} has no source")
        for kind, items in (
            ("commitment", book.commitments),
            ("serverless", book.serverless),
            ("transfer", book.transfer),
            ("storage", book.storage),
            ("platform", book.platform),
        )
        for provider, source in ((item.provider, item.source) for item in items)
        if not source
    ]
    return book, issues


def _commitment(item: dict[str, Any]) -> Commitment:
    return Commitment(**{**item, "families": tuple(item.get("families", ()))})


@functools.cache
def load_shipped() -> Catalog:
    """The catalog shipped with mlcost.

    Raises CatalogError if the shipped data has an error (a packaging bug).
    """
    located: list[tuple[Offer, str]] = []
    issues: list[Issue] = []
    for row, where in _read_csv("offers.csv"):
        offer, row_issues = parse_offer_row(row, where)
        issues.extend(row_issues)
        if offer is not None:
            located.append((offer, where))
    attached, attach_issues = _attached_offers({offer.key: offer for offer, _ in located})
    issues.extend(attach_issues)
    located.extend((offer, "gpu_attachments.csv") for offer in attached)
    issues.extend(find_duplicates(located))
    by_key = {offer.key: offer for offer, _ in located}
    zones, zone_issues = parse_spot_zones(_read_text("spot_zones.csv"), "spot_zones.csv", by_key)
    issues.extend(zone_issues)
    book, book_issues = _price_book()
    issues.extend(book_issues)
    errors = [issue for issue in issues if issue.level == "error"]
    if errors:
        raise CatalogError(
            f"the shipped catalog is invalid: {errors[0]} (and {len(errors) - 1} more)"
        )
    return Catalog(tuple(offer for offer, _ in located), book, tuple(issues), zones)


def layer_offers(base: Iterable[Offer], imported: Sequence[Offer]) -> list[Offer]:
    """Imported offers replace shipped ones with the same key.

    An import without spot prices (the AWS Price List has none) keeps the
    shipped spot price, and says so in the note; one without interruption
    buckets (neither format has them) keeps the shipped bucket.
    """
    merged = {offer.key: offer for offer in base}
    for offer in imported:
        old = merged.get(offer.key)
        if old is not None:
            offer = _keep_what_the_import_lacks(offer, old)
        merged[offer.key] = offer
    return list(merged.values())


def _keep_what_the_import_lacks(offer: Offer, old: Offer) -> Offer:
    if offer.interruption_bucket is None and old.interruption_bucket is not None:
        offer = replace(offer, interruption_bucket=old.interruption_bucket)
    old_spot = old.spot_usd_per_hour
    if (
        offer.spot_usd_per_hour is None
        and old_spot is not None
        and old_spot < offer.on_demand_usd_per_hour
    ):
        offer = replace(
            offer,
            spot_usd_per_hour=old_spot,
            spot_seen_on=old.spot_seen_on,
            note="; ".join(filter(None, (offer.note, "spot price from the shipped catalog"))),
        )
    return offer


def apply_overrides(
    offers: Iterable[Offer], overrides: Sequence[PriceOverride]
) -> tuple[list[Offer], list[Issue]]:
    """Offers with the user's own prices applied; a warning for overrides that match nothing."""
    by_key = {(o.provider, o.region, o.instance_type): o for o in overrides}
    result: list[Offer] = []
    for offer in offers:
        override = by_key.pop(offer.key, None)
        result.append(offer if override is None else _overridden(offer, override))
    issues = [
        Issue(
            "warning", "override", f"override for {'/'.join(key)} matches no offer in the catalog"
        )
        for key in by_key
    ]
    return result, issues


def _overridden(offer: Offer, override: PriceOverride) -> Offer:
    on_demand = override.on_demand_usd_per_hour
    if on_demand is None and override.discount_fraction is not None:
        on_demand = offer.on_demand_usd_per_hour * (1.0 - override.discount_fraction)
    changes = [
        f"on-demand ${offer.on_demand_usd_per_hour:g} -> ${on_demand:g}"
        if on_demand is not None
        else "",
        f"spot -> ${override.spot_usd_per_hour:g}"
        if override.spot_usd_per_hour is not None
        else "",
    ]
    return replace(
        offer,
        on_demand_usd_per_hour=on_demand if on_demand is not None else offer.on_demand_usd_per_hour,
        spot_usd_per_hour=override.spot_usd_per_hour
        if override.spot_usd_per_hour is not None
        else offer.spot_usd_per_hour,
        origin="override",
        source=f"your override ({override.note or 'no note'}) | catalog: {offer.source}",
        note="; ".join(filter(None, (*changes, offer.note))),
    )


def load_catalog(store: Store | None = None) -> Catalog:
    """The effective catalog: shipped, then the store's imports, then its overrides."""
    shipped = load_shipped()
    if store is None:
        return shipped
    offers = layer_offers(shipped.offers, store.imported_offers())
    offers, issues = apply_overrides(offers, store.overrides())
    return Catalog(
        tuple(offers), shipped.prices, shipped.issues + tuple(issues), shipped.spot_zones
    )


def import_price_file(
    store: Store, path: Path, *, format: str | None = None, provider: str | None = None
) -> tuple[ImportRecord, ImportResult]:
    """Validate a whole price file, then record its offers in the store in one transaction.

    Returns the import record and what was read (warnings included). Raises
    CatalogImportError (line-numbered) before anything is written when the
    file has an error.
    """
    result = read_price_file(path, format=format, provider=provider)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    import_id = store.record_import(
        file_name=path.name, sha256=digest, format=result.format, offers=result.offers
    )
    record = next(record for record in store.imports() if record.id == import_id)
    return record, result
