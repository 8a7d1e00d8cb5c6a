"""Validation of catalog rows: the rules shared by the shipped catalog and every import."""

from __future__ import annotations

import pytest

from mlcost.catalog import Issue, find_duplicates, parse_offer_row

GOOD = {
    "provider": "aws",
    "region": "us-east-1",
    "instance_type": "g4dn.xlarge",
    "vcpus": "4",
    "memory_gib": "16",
    "accelerator": "NVIDIA T4",
    "accelerator_count": "1",
    "accelerator_memory_gib": "",
    "arch": "x86_64",
    "on_demand_usd_per_hour": "0.526",
    "spot_usd_per_hour": "0.2",
    "spot_seen_on": "",
    "interruption_bucket": "15-20%",
    "as_of": "2026-07-20",
    "source": "https://example.org/prices",
    "note": "",
}


def errors(issues: list[Issue]) -> list[str]:
    return [issue.message for issue in issues if issue.level == "error"]


def test_a_good_row_becomes_an_offer() -> None:
    offer, issues = parse_offer_row(GOOD, "offers.csv:2")
    assert issues == []
    assert offer is not None
    assert offer.accelerator_name == "T4"
    assert offer.accelerator_memory_gib == 16.0  # filled from the accelerator spec
    assert offer.spot_discount_fraction == pytest.approx(1 - 0.2 / 0.526)
    assert str(offer.as_of) == "2026-07-20"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("on_demand_usd_per_hour", "", "missing on_demand_usd_per_hour"),
        ("on_demand_usd_per_hour", "abc", "must be a number"),
        ("on_demand_usd_per_hour", "0", "placeholder price"),
        ("on_demand_usd_per_hour", "99999", "placeholder price"),
        ("on_demand_usd_per_hour", "TBD", "placeholder"),
        ("on_demand_usd_per_hour", "-1", ">= 0"),
        ("spot_usd_per_hour", "0.0", "placeholder price"),
        ("region", "us-east-1a", "is an AWS availability zone, not a region; use 'us-east-1'"),
        ("region", "us-central1-a", "GCP zone"),
        ("region", "use1-az1", "AWS zone ID"),
        ("accelerator", "Voodoo 5", "unknown accelerator 'Voodoo 5'"),
        ("provider", "oracle", "provider 'oracle' is not one of aws, gcp, azure"),
        ("arch", "sparc", "arch 'sparc'"),
        ("vcpus", "2.5", "whole number"),
        ("memory_gib", "0", "memory_gib must be > 0"),
        ("interruption_bucket", "sometimes", "interruption_bucket"),
        ("as_of", "July 2026", "YYYY-MM-DD"),
        ("source", "", "missing source"),
        ("instance_type", "", "missing instance_type"),
    ],
)
def test_bad_rows_are_rejected_with_a_message_that_says_what_to_fix(
    field: str, value: str, message: str
) -> None:
    offer, issues = parse_offer_row({**GOOD, field: value}, "prices.csv:7")
    assert offer is None
    assert any(message in text for text in errors(issues)), issues
    assert all(issue.where == "prices.csv:7" for issue in issues)


def test_spot_at_or_above_on_demand_is_dropped_with_a_warning() -> None:
    for spot in ("0.526", "0.9"):
        offer, issues = parse_offer_row({**GOOD, "spot_usd_per_hour": spot}, "x:3")
        assert offer is not None and offer.spot_usd_per_hour is None
        assert [i.level for i in issues] == ["warning"]
        assert "no spot discount" in issues[0].message


def test_accelerator_count_without_accelerator_is_an_error() -> None:
    offer, issues = parse_offer_row({**GOOD, "accelerator": "", "accelerator_count": "2"}, "x:2")
    assert offer is None
    assert "accelerator is empty" in errors(issues)[0]


def test_duplicates_name_both_lines() -> None:
    offer, _ = parse_offer_row(GOOD, "a:2")
    assert offer is not None
    issues = find_duplicates([(offer, "a:2"), (offer, "a:9")])
    assert len(issues) == 1
    assert (
        str(issues[0])
        == "a:9: error: duplicate offer aws/us-east-1/g4dn.xlarge (first at a:2); keep one row"
    )
