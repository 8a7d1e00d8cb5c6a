"""The shipped catalog, queries over it, and the import/override layers."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mlcost.catalog import (
    OfferQuery,
    apply_overrides,
    canonical_accelerator,
    layer_offers,
    load_shipped,
)
from mlcost.core import PROVIDERS, PriceOverride


def test_shipped_catalog_loads_without_issues_and_every_row_has_a_source() -> None:
    catalog = load_shipped()
    assert catalog.issues == ()
    assert len(catalog.offers) > 100
    assert all(
        offer.source.startswith("http") or "host:" in offer.source for offer in catalog.offers
    )
    assert {offer.provider for offer in catalog.offers} == set(PROVIDERS)


def test_shipped_catalog_covers_the_machines_people_pick_for_ml() -> None:
    names = {offer.accelerator_name for offer in load_shipped().offers}
    for accelerator in (
        "T4",
        "A10G",
        "L4",
        "L40S",
        "V100",
        "A100-40GB",
        "H100",
        "Inferentia2",
        "Trainium",
        "TPU-v5e",
    ):
        assert accelerator in names
    arches = {offer.arch for offer in load_shipped().offers if not offer.has_accelerator}
    assert arches == {"x86_64", "arm64"}


def test_regions_per_provider() -> None:
    regions: dict[str, set[str]] = {}
    for offer in load_shipped().offers:
        regions.setdefault(offer.provider, set()).add(offer.region)
    assert all(len(found) >= 2 for found in regions.values()), regions


def test_gcp_gpu_is_priced_on_top_of_its_host() -> None:
    catalog = load_shipped()
    host = catalog.find("n1-standard-4", region="us-central1")
    plain = next(o for o in host if not o.has_accelerator)
    attached = next(o for o in host if o.has_accelerator)
    assert attached.instance_type == "n1-standard-4 + 1x T4"
    assert attached.on_demand_usd_per_hour == pytest.approx(plain.on_demand_usd_per_hour + 0.35)
    assert plain.spot_usd_per_hour is not None
    assert attached.spot_usd_per_hour == pytest.approx(plain.spot_usd_per_hour + 0.11)
    # a2/a3 prices already include their GPUs: they are not composed again.
    a2 = catalog.find("a2-highgpu-1g")
    assert a2 and all(o.instance_type == "a2-highgpu-1g" for o in a2)


def test_select_t4_on_aws_sorted_by_price() -> None:
    offers = load_shipped().select(OfferQuery(provider="aws", accelerator="T4"))
    assert offers and all(o.accelerator_name == "T4" and o.provider == "aws" for o in offers)
    prices = [o.on_demand_usd_per_hour for o in offers]
    assert prices == sorted(prices)
    assert offers[0].instance_type == "g4dn.xlarge"


def test_select_spot_sorts_by_spot_and_skips_offers_without_one() -> None:
    offers = load_shipped().select(OfferQuery(is_spot=True, min_vcpus=4, arch="arm64"))
    spots = [o.spot_usd_per_hour for o in offers]
    assert None not in spots and spots == sorted(spots)  # type: ignore[type-var]


def test_select_filters_combine() -> None:
    query = OfferQuery(
        provider="gcp", region="europe-west4", min_memory_gib=16, max_usd_per_hour=0.25
    )
    offers = load_shipped().select(query)
    assert offers
    for offer in offers:
        assert (
            offer.region == "europe-west4"
            and offer.memory_gib >= 16
            and offer.on_demand_usd_per_hour <= 0.25
        )


def test_accelerator_family_matches_both_a100_sizes() -> None:
    offers = load_shipped().select(OfferQuery(accelerator="A100"))
    assert {o.accelerator_name for o in offers} == {"A100-40GB", "A100-80GB"}
    assert canonical_accelerator("NVIDIA A100 40GB (price incl. GPU)") == "A100-40GB"
    assert canonical_accelerator("nvidia-tesla-t4") == "T4"
    assert canonical_accelerator("Radeon Pro V520") is None


def test_an_import_replaces_on_demand_but_keeps_the_shipped_spot_price() -> None:
    shipped = load_shipped()
    old = shipped.find("c6i.large", region="us-east-1")[0]
    imported = replace(
        old, on_demand_usd_per_hour=0.09, spot_usd_per_hour=None, origin="imported", source="f.json"
    )
    merged = {o.key: o for o in layer_offers(shipped.offers, [imported])}
    new = merged[old.key]
    assert new.on_demand_usd_per_hour == 0.09 and new.origin == "imported"
    assert new.spot_usd_per_hour == old.spot_usd_per_hour
    assert "spot price from the shipped catalog" in new.note
    assert len(merged) == len(shipped.offers)


def test_overrides_take_precedence_and_say_so() -> None:
    shipped = load_shipped()
    overrides = [
        PriceOverride("aws", "us-east-1", "g4dn.xlarge", discount_fraction=0.2, note="EDP"),
        PriceOverride("aws", "us-east-1", "c6i.large", spot_usd_per_hour=0.03),
        PriceOverride("aws", "mars-1", "c6i.large", on_demand_usd_per_hour=1.0),
    ]
    offers, issues = apply_overrides(shipped.offers, overrides)
    by_key = {o.key: o for o in offers}
    gpu = by_key[("aws", "us-east-1", "g4dn.xlarge")]
    assert gpu.on_demand_usd_per_hour == pytest.approx(0.526 * 0.8)
    assert gpu.origin == "override" and gpu.source.startswith("your override (EDP)")
    cpu = by_key[("aws", "us-east-1", "c6i.large")]
    assert cpu.spot_usd_per_hour == 0.03 and cpu.on_demand_usd_per_hour == 0.085
    assert [i.message for i in issues] == [
        "override for aws/mars-1/c6i.large matches no offer in the catalog"
    ]


def test_price_book_has_sources_for_every_price() -> None:
    book = load_shipped().prices
    assert book.commitments and book.serverless and book.transfer and book.storage
    for item in (*book.commitments, *book.serverless, *book.transfer, *book.storage):
        assert item.source
    gcp = [c for c in book.commitments if c.provider == "gcp" and "n2" in c.families]
    assert sorted((c.term_years, c.discount_fraction) for c in gcp) == [(1, 0.37), (3, 0.55)]


def test_offer_is_the_exact_type_and_require_offer_names_the_region() -> None:
    from mlcost.core import CatalogError

    catalog = load_shipped()
    offer = catalog.offer("n1-standard-4", region="us-central1")
    assert offer is not None and not offer.has_accelerator  # not the host + T4 composition
    assert catalog.offer("c6i.large", region="mars-1") is None
    with pytest.raises(
        CatalogError,
        match=r"c6i\.large is not in the catalog for mars-1; check mlcost catalog list",
    ):
        catalog.require_offer("c6i.large", region="mars-1")


def test_require_price_gives_spot_or_on_demand_and_names_a_missing_spot_price() -> None:
    from mlcost.core import CatalogError

    catalog = load_shipped()
    offer, price = catalog.require_price("c6i.large", region="us-east-1", is_spot=True)
    assert price == offer.spot_usd_per_hour == 0.0364
    assert catalog.require_price("c6i.large", region="us-east-1", is_spot=False)[1] == 0.085
    with pytest.raises(
        CatalogError, match=r"m7g\.large has no spot price in us-east-1; drop --spot"
    ):
        catalog.require_price("m7g.large", region="us-east-1", is_spot=True)
