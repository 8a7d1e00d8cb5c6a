"""Cost components: compute by pricing, storage, transfer by where the data lives."""

from __future__ import annotations

import pytest

from mlcost.catalog import load_shipped
from mlcost.core import DataLocation, PlatformSettings, Slo, Traffic, Workload
from mlcost.plan._bill import BillSettings, Compute, bill, fixed_costs, month_factor

CATALOG = load_shipped()
C6I = CATALOG.offer("c6i.large", region="us-east-1")
C6I_WEST = CATALOG.offer("c6i.large", region="us-west-2")


def _workload(**kwargs: object) -> Workload:
    return Workload(
        traffic=Traffic(requests_per_day=1_000_000, payload_in_bytes=2000, payload_out_bytes=200),
        slo=Slo(latency_ms=150),
        **kwargs,  # type: ignore[arg-type]
    )


REQUESTS = 1_000_000 * 730 / 24  # a 730-hour month


def test_a_month_is_730_hours_whatever_the_horizon() -> None:
    assert month_factor(30) == pytest.approx(730 / 720)
    assert month_factor(7) == pytest.approx(730 / 168)


def test_compute_bills_each_pricing_at_its_own_price() -> None:
    assert C6I is not None
    fixed = fixed_costs(
        _workload(),
        C6I,
        artifact_bytes=0,
        requests_per_month=0,
        catalog=CATALOG,
        settings=BillSettings(disk_gib_per_node=0),
    )
    compute = Compute(C6I, 720, 1440, 720, committed_usd_per_hour=0.05, commitment="CUD 1y")
    cost = bill(compute, fixed, horizon_days=30)
    factor = 730 / 720
    assert C6I.on_demand_usd_per_hour == 0.085 and C6I.spot_usd_per_hour == 0.0364
    assert cost.on_demand_usd_per_month == pytest.approx(720 * 0.085 * factor)
    assert cost.spot_usd_per_month == pytest.approx(1440 * 0.0364 * factor)
    assert cost.commitment_usd_per_month == pytest.approx(720 * 0.05 * factor)
    assert cost.total_usd_per_month == pytest.approx(cost.compute_usd_per_month)
    # Every line is quantity x unit price, with the price's source.
    for line in cost.lines:
        assert line.usd_per_month == pytest.approx(line.quantity * line.usd_per_unit)
        assert line.source


def test_storage_is_the_artifact_plus_a_disk_per_node_hour() -> None:
    assert C6I is not None
    fixed = fixed_costs(
        _workload(),
        C6I,
        artifact_bytes=25_000_000,
        requests_per_month=0,
        catalog=CATALOG,
        settings=BillSettings(disk_gib_per_node=20),
    )
    cost = bill(Compute(C6I, 730 * 30 / 30.4167, 0), fixed, horizon_days=30)
    s3, gp3 = 0.023, 0.08
    disk_per_month = 20 * gp3  # one node all month; block storage is billed per GiB-month
    assert cost.storage_usd_per_month == pytest.approx(0.025 * s3 + disk_per_month, rel=1e-3)
    assert any("EBS gp3" in line.item and line.unit == "GiB-month" for line in cost.lines)


def test_same_region_data_pays_only_cross_zone_transfer() -> None:
    assert C6I is not None
    workload = _workload(data_location=DataLocation(provider="aws", region="us-east-1"))
    fixed = fixed_costs(
        workload,
        C6I,
        artifact_bytes=0,
        requests_per_month=REQUESTS,
        catalog=CATALOG,
        settings=BillSettings(cross_zone_share=0.5),
    )
    gb = REQUESTS * 2200 / 1e9
    assert fixed.transfer_usd_per_month == pytest.approx(gb * 0.5 * 0.02)


def test_another_region_pays_inter_region_both_ways() -> None:
    assert C6I_WEST is not None
    workload = _workload(data_location=DataLocation(provider="aws", region="us-east-1"))
    fixed = fixed_costs(
        workload,
        C6I_WEST,
        artifact_bytes=0,
        requests_per_month=REQUESTS,
        catalog=CATALOG,
        settings=BillSettings(cross_zone_share=0.0),
    )
    assert fixed.transfer_usd_per_month == pytest.approx(REQUESTS * 2200 / 1e9 * 0.02)


def test_without_a_data_location_responses_are_internet_egress_free_tier_only_if_asked() -> None:
    assert C6I is not None
    fixed = fixed_costs(
        _workload(),
        C6I,
        artifact_bytes=0,
        requests_per_month=REQUESTS,
        catalog=CATALOG,
        settings=BillSettings(cross_zone_share=0.0),
    )
    out_gb = REQUESTS * 200 / 1e9  # 6.08 GB: inside AWS's 100 GB free tier
    assert out_gb < 100
    assert fixed.transfer_usd_per_month == pytest.approx(out_gb * 0.09)
    free = _workload(platform=PlatformSettings(free_tier=True))
    fixed = fixed_costs(
        free,
        C6I,
        artifact_bytes=0,
        requests_per_month=REQUESTS,
        catalog=CATALOG,
        settings=BillSettings(cross_zone_share=0.0),
    )
    assert fixed.transfer_usd_per_month == 0.0
    big = fixed_costs(
        free,
        C6I,
        artifact_bytes=0,
        requests_per_month=REQUESTS * 100,
        catalog=CATALOG,
        settings=BillSettings(cross_zone_share=0.0),
    )
    assert big.transfer_usd_per_month == pytest.approx((out_gb * 100 - 100) * 0.09)


def test_data_at_another_provider_pays_egress_on_both_sides() -> None:
    assert C6I is not None
    workload = _workload(data_location=DataLocation(provider="gcp", region="us-central1"))
    fixed = fixed_costs(
        workload,
        C6I,
        artifact_bytes=0,
        requests_per_month=REQUESTS * 100,
        catalog=CATALOG,
        settings=BillSettings(cross_zone_share=0.0),
    )
    assert any("leaving gcp" in line.item for line in fixed.lines)
    assert fixed.transfer_usd_per_month > 0
