from __future__ import annotations

import math

import pytest

from mlcost.core import CostError, ServerlessPrice
from mlcost.cost import (
    HOURS_PER_MONTH,
    ServerlessCall,
    TotalCost,
    hours_per_month,
    monthly_usd,
    serverless_breakeven_requests,
    serverless_monthly_usd,
    usd_per_1k_predictions,
)

LAMBDA = ServerlessPrice(
    provider="aws",
    service="Lambda",
    usd_per_million_requests=0.20,
    usd_per_gb_second=0.0000166667,
    free_requests_per_month=1_000_000,
    free_gb_seconds_per_month=400_000,
)


def test_hours_per_month_convention_is_730_and_can_be_set() -> None:
    assert HOURS_PER_MONTH == 730.0
    assert hours_per_month(hours_per_day=24, days=30) == 720.0
    assert hours_per_month(hours_per_day=10, days=22) == 220.0


def test_monthly_cost_of_the_case_study_baseline() -> None:
    assert monthly_usd(0.526, count=5, hours=720) == pytest.approx(1893.60, abs=1e-9)
    assert monthly_usd(0.526) == pytest.approx(0.526 * 730)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"usd_per_hour": -1.0}, "price must be >= 0"),
        ({"usd_per_hour": 1.0, "count": -2}, "instance count"),
        ({"usd_per_hour": 1.0, "hours": -5}, "hours must be"),
    ],
)
def test_monthly_cost_rejects_impossible_inputs(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(CostError, match=message):
        monthly_usd(**kwargs)  # type: ignore[arg-type]


def test_hours_per_day_over_24_is_refused() -> None:
    with pytest.raises(CostError, match="hours per day"):
        hours_per_month(hours_per_day=25)


def test_cost_per_1k_predictions_counts_idle_time() -> None:
    # $0.085/h serving 100/s at full load: 360,000 predictions an hour.
    full = usd_per_1k_predictions(0.085, throughput_per_s=100)
    assert full == pytest.approx(0.085 / 360_000 * 1000)
    half = usd_per_1k_predictions(0.085, throughput_per_s=100, utilization=0.5)
    assert half == pytest.approx(2 * full)


@pytest.mark.parametrize(("throughput", "utilization"), [(0, 1.0), (10, 0.0), (10, 1.5)])
def test_cost_per_1k_rejects_zero_throughput_and_bad_utilization(
    throughput: float, utilization: float
) -> None:
    with pytest.raises(CostError):
        usd_per_1k_predictions(1.0, throughput_per_s=throughput, utilization=utilization)


def test_serverless_bill_subtracts_the_free_tier() -> None:
    call = ServerlessCall(memory_gb=1.0, duration_ms=100)
    assert serverless_monthly_usd(LAMBDA, call, 1_000_000) == 0.0  # all inside the free tier
    # 10M requests: 9M billable requests, 1M GB-s minus 400k free.
    expected = 9 * 0.20 + 600_000 * 0.0000166667
    assert serverless_monthly_usd(LAMBDA, call, 10_000_000) == pytest.approx(expected)


def test_breakeven_is_where_serverless_costs_what_dedicated_costs() -> None:
    call = ServerlessCall(memory_gb=2.0, duration_ms=50)
    dedicated = monthly_usd(0.085, hours=HOURS_PER_MONTH)  # one c6i.large on-demand
    requests = serverless_breakeven_requests(LAMBDA, call, dedicated)
    assert serverless_monthly_usd(LAMBDA, call, requests) == pytest.approx(dedicated, rel=1e-6)
    assert serverless_monthly_usd(LAMBDA, call, requests * 0.9) < dedicated
    assert serverless_monthly_usd(LAMBDA, call, requests * 1.1) > dedicated


def test_breakeven_with_a_free_platform_is_infinite() -> None:
    free = ServerlessPrice("x", "free", 0.0, 0.0)
    assert serverless_breakeven_requests(free, ServerlessCall(1.0, 10), 100.0) == math.inf


def test_tco_and_roi_as_finops_defines_them() -> None:
    total = TotalCost(compute_usd=1000, storage_usd=50, transfer_usd=25, other_usd=125)
    assert total.total_usd == 1200
    assert total.roi(1800) == pytest.approx(0.5)
    assert total.roi(600) == pytest.approx(-0.5)
    with pytest.raises(CostError, match="storage cost must be >= 0"):
        TotalCost(compute_usd=1, storage_usd=-1)
    with pytest.raises(CostError, match="ROI needs"):
        TotalCost(compute_usd=0).roi(10)
