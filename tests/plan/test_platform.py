"""The platform bill (control plane, load balancer, addresses, NAT, system pool) and the
serverless candidates (duration, cold starts, front door), each line worked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from mlcost.catalog import load_shipped
from mlcost.core import (
    Constraints,
    DataLocation,
    PlatformSettings,
    Slo,
    Traffic,
    Workload,
)
from mlcost.plan._bill import BillSettings
from mlcost.plan._platform import fleet_lines, lcu_hours, platform_costs, system_pool
from mlcost.plan._serverless import KEEP_WARM_MIN, RECYCLE_MIN, cold_starts, function_options

CATALOG = load_shipped()
MINUTES = 30 * 1440
FLAT = np.full(MINUTES, 1_000_000 / 86_400)  # 1M requests a day, flat
REQUESTS_PER_MONTH = 1_000_000 * 730 / 24


def _workload(**platform: object) -> Workload:
    return Workload(
        traffic=Traffic(requests_per_day=1_000_000, payload_in_bytes=2000, payload_out_bytes=200),
        slo=Slo(latency_ms=150),
        constraints=Constraints(providers=("aws",), regions=("us-east-1",)),
        data_location=DataLocation(provider="aws", region="us-east-1"),
        platform=PlatformSettings(**platform),  # type: ignore[arg-type]
    )


def _costs(
    platform: str = "kubernetes", provider: str = "aws", region: str = "us-east-1", **kw: object
):  # type: ignore[no-untyped-def]
    return platform_costs(
        platform,  # type: ignore[arg-type]
        provider=provider,
        region=region,
        workload=_workload(**kw),
        catalog=CATALOG,
        arrivals_per_s=FLAT,
        requests_per_month=REQUESTS_PER_MONTH,
    )


def _line(costs, text: str):  # type: ignore[no-untyped-def]
    found = [line for line in costs.fixed if line.item.startswith(text)]
    assert len(found) == 1, [line.item for line in costs.fixed]
    return found[0]


def test_a_new_eks_cluster_bills_its_control_plane_load_balancer_addresses_and_system_pool() -> (
    None
):
    costs = _costs()
    assert costs.service == "EKS"
    assert _line(costs, "EKS control plane").usd_per_month == pytest.approx(730 * 0.10)
    assert _line(costs, "load balancer, hourly").usd_per_month == pytest.approx(730 * 0.0225)
    # Two zones, one ALB address in each.
    assert _line(costs, "2 public IPv4 of the load balancer").usd_per_month == pytest.approx(
        2 * 730 * 0.005
    )
    lcu = _line(costs, "load balancer capacity")
    assert lcu.quantity == pytest.approx(730 * FLAT[0] / 25, rel=1e-6)  # new connections bind
    pool = _line(costs, "system pool")
    assert "2 x t3.medium on-demand" in pool.item  # the cheapest machine that holds the add-ons
    assert pool.usd_per_month == pytest.approx(2 * 730 * 0.0416)
    disks = _line(costs, "node disks of the system pool")  # its nodes boot from disks too
    assert disks.category == "storage" and disks.usd_per_month == pytest.approx(2 * 20 * 0.08)
    for line in costs.fixed:
        assert line.source and line.usd_per_month == pytest.approx(
            line.quantity * line.usd_per_unit
        )


def test_lcu_hours_take_the_largest_dimension_each_hour() -> None:
    # 11.57 requests/s, each a new connection: 0.463 LCU; 2,900 bytes each: 0.12 GB/h.
    hours = lcu_hours(FLAT, bytes_per_request=2900)
    assert hours == pytest.approx(720 * FLAT[0] / 25, rel=1e-9)
    # Big payloads make processed bytes the larger dimension.
    big = lcu_hours(FLAT, bytes_per_request=1_000_000)
    assert big == pytest.approx(720 * FLAT[0] * 3600 * 1_000_000 / 1e9, rel=1e-9)


def test_a_vm_group_has_no_control_plane_and_no_system_pool() -> None:
    costs = _costs("vm-group")
    items = " ".join(line.item for line in costs.fixed)
    assert "control plane" not in items and "system pool" not in items
    assert "load balancer" in items


def test_an_existing_cluster_shows_its_fee_and_pool_as_shared_not_charged() -> None:
    costs = _costs(cluster="existing")
    for text in ("EKS control plane", "system pool"):
        line = _line(costs, text)
        assert not line.is_charged and "shared" in line.note
    assert not any("system pool's nodes" in line.item for line in costs.fixed)


def test_nat_gateways_replace_the_node_addresses_and_bill_what_they_carry() -> None:
    public = _costs()
    assert fleet_lines(public, node_hours_per_month=1460, node_launches_per_month=0, pulled_gb=1)[
        0
    ].usd_per_month == pytest.approx(1460 * 0.005)
    private = _costs(nat_gateways=2)
    assert _line(private, "2 NAT gateway").usd_per_month == pytest.approx(2 * 730 * 0.045)
    assert _line(private, "2 public IPv4 of the NAT").usd_per_month == pytest.approx(
        2 * 730 * 0.005
    )
    (data,) = fleet_lines(
        private, node_hours_per_month=1460, node_launches_per_month=10, pulled_gb=1.5
    )
    assert data.usd_per_month == pytest.approx(10 * 1.5 * 0.045)


def test_the_gke_credit_comes_off_only_when_free_allowances_are_counted() -> None:
    paid = _costs(provider="gcp", region="us-central1")
    assert _line(paid, "GKE control plane").usd_per_month == pytest.approx(73.0)
    # Data through the load balancer, in GiB both ways, at $0.008.
    data = _line(paid, "load balancer data processed")
    assert data.quantity == pytest.approx(REQUESTS_PER_MONTH * 3200 / 2**30)
    assert data.usd_per_unit == 0.008
    assert not any("credit" in line.item for line in paid.fixed)
    free = _costs(provider="gcp", region="us-central1", free_tier=True)
    assert _line(free, "GKE free tier").usd_per_month == pytest.approx(-73.0)  # capped at the fee


def test_every_provider_has_a_system_pool_machine() -> None:
    for provider, region in (("aws", "us-east-1"), ("gcp", "us-central1"), ("azure", "eastus")):
        assert system_pool(provider, region, CATALOG) is not None


def test_cold_starts_follow_rises_idle_gaps_and_recycling() -> None:
    steady = np.full(600, 10.0)
    cold, peak, _ = cold_starts(steady, mean_service_s=0.02)
    # 0.2 busy on average: 0.2 + 3 sqrt(0.2) -> 2 instances, recycled every RECYCLE_MIN.
    assert set(peak.tolist()) == {2}
    recycled = 2 / RECYCLE_MIN * (1 - np.exp(-600 * KEEP_WARM_MIN))
    assert cold == pytest.approx(np.full(600, recycled))
    rise = steady.copy()
    rise[300:] = 100.0  # ten times the traffic from minute 300
    cold, peak, _ = cold_starts(rise, mean_service_s=0.02)
    assert cold[300] == pytest.approx(peak[300] - 2 + peak[299] / RECYCLE_MIN)
    assert cold[301:305].sum() == pytest.approx(4 * peak[300] / RECYCLE_MIN)  # the pool is warm
    # One request every ten minutes: each finds its instance gone (kept warm 5 minutes).
    sparse = np.full(600, 1 / 600)
    cold, _, _ = cold_starts(sparse, mean_service_s=0.02)
    share = float(cold.sum() / (sparse.sum() * 60))
    gap = np.exp(-KEEP_WARM_MIN / 10)
    assert share == pytest.approx(gap + (1 - gap) / RECYCLE_MIN / 0.1, rel=1e-6)


def test_a_lambda_bill_is_requests_duration_and_the_front_door(tmp_path: object) -> None:
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from planning_inputs import PROFILES, VARIANTS

    variant, profile = VARIANTS[1], PROFILES[1]  # int8-dynamic
    for door, per_million in (("function-url", 0.0), ("http-api", 1.00)):
        options = list(
            function_options(
                _workload(front_door=door),
                variant,
                profile.accuracy,
                profile,
                arrivals_per_s=FLAT,
                requests_per_month=REQUESTS_PER_MONTH,
                regions={"aws": ("us-east-1",)},
                catalog=CATALOG,
                allowed_minutes=43,
                bill_settings=BillSettings(),
            )
        )
        one = next(o for o in options if o.offer.provider == "aws" and o.offer.vcpus == 1)
        lines = {line.item.split(":")[-1].split(",")[0].strip(): line for line in one.cost.lines}
        requests = lines["requests"]
        assert requests.quantity == pytest.approx(REQUESTS_PER_MONTH / 1e6)
        assert requests.usd_per_month == pytest.approx(REQUESTS_PER_MONTH / 1e6 * 0.20)
        duration = next(line for line in one.cost.lines if "duration" in line.item)
        # 1,769 MB buys one vCPU; GB-seconds count MB / 1,024.
        assert one.offer.memory_gib == pytest.approx(1769 / 1024)
        billed_s = (one.service.mean_s * 1000 + 0.5) / 1000
        inits = one.cold_starts * np.ceil(one.cold_start_ms) / 1000
        assert duration.quantity == pytest.approx(
            (REQUESTS_PER_MONTH * billed_s + inits) * 1769 / 1024, rel=1e-6
        )
        doors = [line for line in one.cost.lines if line.category == "platform"]
        assert sum(line.usd_per_month for line in doors) == pytest.approx(
            REQUESTS_PER_MONTH / 1e6 * per_million
        )
        assert one.slo.is_met
        assert "Lambda" in one.service_name
