"""Per-zone spot prices of the shipped offers, and the date of the interruption data."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from mlcost.catalog import (
    INTERRUPTION_DATA,
    Catalog,
    interruption_data_age_days,
    layer_offers,
    load_shipped,
)
from mlcost.catalog._spot_zones import SPOT_ZONE_COLUMNS, parse_spot_zones
from mlcost.core import CatalogError, Offer

SKYPILOT_AWS = (
    "https://github.com/skypilot-org/skypilot-catalog/blob/"
    "00148f2af3672e2229b4f7bf8157d5a3f36e3c35/catalogs/v8/aws/vms.csv"
)


@pytest.fixture(scope="module")
def shipped() -> Catalog:
    return load_shipped()


def _offer(catalog: Catalog, instance_type: str, region: str) -> Offer:
    offer = catalog.offer(instance_type, region=region, provider="aws")
    assert offer is not None
    return offer


def test_a_known_offer_has_its_five_zones_cheapest_first(shipped: Catalog) -> None:
    offer = _offer(shipped, "c6i.large", "us-east-1")
    zones = shipped.spot_zone_prices(offer)
    assert zones == (0.0364, 0.0368, 0.0379, 0.0385, 0.0469)
    assert offer.spot_usd_per_hour == 0.0364 == min(zones)


def test_every_zone_list_starts_at_its_offers_spot_price(shipped: Catalog) -> None:
    mismatches = []
    with_zones = 0
    for offer in shipped.offers:
        zones = shipped.spot_zone_prices(offer)
        if not zones:
            continue
        with_zones += 1
        assert list(zones) == sorted(zones)
        if zones[0] != offer.spot_usd_per_hour:
            mismatches.append((offer.key, zones[0], offer.spot_usd_per_hour))
    assert mismatches == []
    assert with_zones == 65
    assert shipped.issues == ()  # no cheapest-zone warning either


def test_every_zone_row_belongs_to_a_shipped_aws_offer_and_names_its_source(
    shipped: Catalog,
) -> None:
    keys = {offer.key for offer in shipped.offers}
    assert {zone.key for zone in shipped.spot_zones} <= keys
    assert {zone.provider for zone in shipped.spot_zones} == {"aws"}
    assert {zone.source for zone in shipped.spot_zones} == {SKYPILOT_AWS}
    assert {zone.region for zone in shipped.spot_zones} == {"us-east-1", "us-west-2", "eu-west-1"}


def test_zone_ids_are_kept_where_the_source_gives_them(shipped: Catalog) -> None:
    zones = {z.zone: z.spot_usd_per_hour for z in shipped.spot_zones if z.key[2] == "g4dn.xlarge"}
    assert {name for name in zones if name.startswith("az")} == {"az1", "az2", "az4", "az5", "az6"}
    west = [z.zone for z in shipped.spot_zones if z.key == ("aws", "us-west-2", "g4dn.xlarge")]
    assert west == ["z1", "z2", "z3"]


def test_local_zones_and_incomplete_zone_lists_are_left_out(shipped: Catalog) -> None:
    # c6i.large has a $0.012 Atlanta Local Zone price: not a zone a regional fleet spreads over.
    assert 0.012 not in shipped.spot_zone_prices(_offer(shipped, "c6i.large", "us-east-1"))
    # g6e.xlarge us-east-1 and p5.48xlarge us-west-2 were read only in part.
    assert shipped.spot_zone_prices(_offer(shipped, "g6e.xlarge", "us-east-1")) == ()
    assert shipped.spot_zone_prices(_offer(shipped, "p5.48xlarge", "us-west-2")) == ()


def test_a_zone_at_the_on_demand_price_is_listed(shipped: Catalog) -> None:
    offer = _offer(shipped, "p5.48xlarge", "us-east-1")
    zones = shipped.spot_zone_prices(offer)
    assert zones[0] == offer.spot_usd_per_hour == 17.6289
    assert zones[-2:] == (55.04, 55.04) == (offer.on_demand_usd_per_hour,) * 2


def test_imported_overridden_and_unknown_offers_have_no_zones(shipped: Catalog) -> None:
    offer = _offer(shipped, "c6i.large", "us-east-1")
    imported = replace(offer, origin="imported", spot_usd_per_hour=0.03)
    layered = Catalog(
        tuple(layer_offers(shipped.offers, [imported])), shipped.prices, (), shipped.spot_zones
    )
    assert layered.spot_zone_prices(_offer(layered, "c6i.large", "us-east-1")) == ()
    assert shipped.spot_zone_prices(replace(offer, origin="override")) == ()
    assert shipped.spot_zone_prices(replace(offer, spot_usd_per_hour=None)) == ()
    gcp = next(o for o in shipped.offers if o.provider == "gcp" and o.spot_usd_per_hour)
    assert shipped.spot_zone_prices(gcp) == ()
    assert Catalog(shipped.offers, shipped.prices).spot_zone_prices(offer) == ()


# -- validation of spot_zones.csv --------------------------------------------------------

HEADER = ",".join(SPOT_ZONE_COLUMNS)
OFFER = Offer("aws", "us-east-1", "c6i.large", 2, 4.0, "x86_64", 0.085, spot_usd_per_hour=0.0364)
OFFERS = {OFFER.key: OFFER}


def _issues(*rows: str, header: str = HEADER) -> list[str]:
    _, issues = parse_spot_zones("\n".join((header, *rows)) + "\n", "spot_zones.csv", OFFERS)
    return [str(issue) for issue in issues]


def test_good_rows_parse() -> None:
    zones, issues = parse_spot_zones(
        f"{HEADER}\naws,us-east-1,c6i.large,az1,0.0364,src\naws,us-east-1,c6i.large,az2,0.04,src\n",
        "spot_zones.csv",
        OFFERS,
    )
    assert issues == []
    assert [(z.zone, z.spot_usd_per_hour) for z in zones] == [("az1", 0.0364), ("az2", 0.04)]


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("aws,us-east-1,c6i.large,az1,,src", "missing spot_usd_per_hour; fill it in"),
        ("aws,us-east-1,c6i.large,az1,abc,src", "spot_usd_per_hour must be a number, got 'abc'"),
        ("aws,us-east-1,c6i.large,az1,0,src", "looks like a placeholder price"),
        ("aws,us-east-1,c6i.large,,0.0364,src", "missing zone; fill it in"),
        ("aws,us-east-1,c6i.large,az1,0.0364,", "missing source; fill it in"),
        ("aws,us-east-1,c6i.large,az1,0.09,src", "zone az1 spot 0.09 is above on-demand 0.085"),
        ("aws,us-east-1,m6i.large,az1,0.0364,src", "aws/us-east-1/m6i.large is not an offer"),
        ("ibm,us-east-1,c6i.large,az1,0.0364,src", "provider 'ibm' is not one of aws, gcp, azure"),
    ],
)
def test_a_bad_row_is_an_error_at_its_line(row: str, expected: str) -> None:
    issues = _issues("aws,us-east-1,c6i.large,az9,0.0364,src", row)
    assert len(issues) == 1, issues
    assert issues[0].startswith("spot_zones.csv:3: error: ")
    assert expected in issues[0]


def test_a_zone_listed_twice_is_an_error() -> None:
    issues = _issues(
        "aws,us-east-1,c6i.large,az1,0.0364,src", "aws,us-east-1,c6i.large,az1,0.04,src"
    )
    assert issues == [
        "spot_zones.csv:3: error: zone az1 listed twice (first at spot_zones.csv:2); keep one"
    ]


def test_zones_of_an_offer_without_a_spot_price_are_an_error() -> None:
    no_spot = replace(OFFER, spot_usd_per_hour=None)
    _, issues = parse_spot_zones(
        f"{HEADER}\naws,us-east-1,c6i.large,az1,0.0364,src\n", "f.csv", {no_spot.key: no_spot}
    )
    assert [str(i) for i in issues] == [
        "f.csv:2: error: aws/us-east-1/c6i.large has no spot price in offers.csv; "
        "add it there or drop the zone"
    ]


def test_a_cheapest_zone_that_is_not_the_spot_price_is_a_warning() -> None:
    issues = _issues(
        "aws,us-east-1,c6i.large,az1,0.04,src", "aws,us-east-1,c6i.large,az2,0.038,src"
    )
    assert issues == [
        "spot_zones.csv:3: warning: aws/us-east-1/c6i.large: cheapest zone az2 at 0.038 is not "
        "the offer's spot price 0.0364 in offers.csv; one of the two is stale"
    ]


def test_a_missing_column_is_an_error_at_the_header() -> None:
    issues = _issues("aws,us-east-1,c6i.large,az1,0.0364", header=HEADER.removesuffix(",source"))
    assert issues == ["spot_zones.csv:1: error: missing column(s) source"]


# -- interruption data -------------------------------------------------------------------


def test_the_interruption_data_says_when_and_where_it_was_seen() -> None:
    assert INTERRUPTION_DATA.as_of == date(2025, 6, 28)
    assert INTERRUPTION_DATA.window == "trailing month"
    assert INTERRUPTION_DATA.source == (
        "https://github.com/alexei-led/spotinfo/blob/5bdc33cee2e185c2f62df29dd9c4ad0ad7102a74"
        "/internal/spot/data/spot-advisor-data.json"
    )


def test_the_offers_cite_the_same_interruption_data(shipped: Catalog) -> None:
    aws = [
        offer for offer in shipped.offers if offer.provider == "aws" and offer.interruption_bucket
    ]
    assert aws and all(INTERRUPTION_DATA.source in offer.source for offer in aws)


def test_the_age_of_the_interruption_data_in_days() -> None:
    assert interruption_data_age_days(date(2025, 6, 28)) == 0
    assert interruption_data_age_days(date(2025, 7, 28)) == 30
    assert interruption_data_age_days(date(2026, 6, 28)) == 365
    with pytest.raises(
        CatalogError, match=r"today \(2025-06-27\) is before .* check the system clock"
    ):
        interruption_data_age_days(date(2025, 6, 27))
