"""The arithmetic of serving ML: hours to months, price per prediction, break-even, TCO, ROI."""

from __future__ import annotations

import math
from dataclasses import dataclass

from mlcost.core import CostError, ServerlessPrice

# 8,760 hours a year / 12: the convention of the AWS and Google Cloud pricing calculators,
# and the month of AWS billing and of the Spot Instance Advisor's interruption frequency.
HOURS_PER_MONTH = 730.0


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise CostError(message)


def hours_per_month(*, hours_per_day: float = 24.0, days: float = 30.0) -> float:
    """Hours in a month of ``days`` days running ``hours_per_day`` hours each."""
    _require(0 < hours_per_day <= 24, f"hours per day must be in (0, 24], got {hours_per_day:g}")
    _require(days > 0, f"days must be > 0, got {days:g}")
    return hours_per_day * days


def monthly_usd(
    usd_per_hour: float, *, count: float = 1.0, hours: float = HOURS_PER_MONTH
) -> float:
    """What ``count`` machines at ``usd_per_hour`` cost over ``hours`` hours.

    Raises CostError for a negative price, count or hours.
    """
    _require(usd_per_hour >= 0, f"price must be >= 0 $/h, got {usd_per_hour:g}")
    _require(count >= 0, f"instance count must be >= 0, got {count:g}")
    _require(hours >= 0, f"hours must be >= 0, got {hours:g}")
    return usd_per_hour * count * hours


def usd_per_1k_predictions(
    usd_per_hour: float, *, throughput_per_s: float, utilization: float = 1.0
) -> float:
    """Cost of 1,000 predictions on a machine that serves ``throughput_per_s`` at full load.

    ``utilization`` is the share of that capacity real traffic uses (0.5 = half
    idle); idle time is paid for too. Raises CostError for zero throughput or a
    utilization outside (0, 1].
    """
    _require(
        throughput_per_s > 0, f"throughput must be > 0 predictions/s, got {throughput_per_s:g}"
    )
    _require(0 < utilization <= 1, f"utilization must be in (0, 1], got {utilization:g}")
    _require(usd_per_hour >= 0, f"price must be >= 0 $/h, got {usd_per_hour:g}")
    predictions_per_hour = throughput_per_s * 3600.0 * utilization
    return usd_per_hour / predictions_per_hour * 1000.0


@dataclass(frozen=True, slots=True)
class ServerlessCall:
    """What one request uses on a serverless platform."""

    memory_gb: float
    duration_ms: float
    vcpus: float = 0.0

    def __post_init__(self) -> None:
        _require(self.memory_gb > 0, f"memory must be > 0 GB, got {self.memory_gb:g}")
        _require(self.duration_ms > 0, f"duration must be > 0 ms, got {self.duration_ms:g}")
        _require(self.vcpus >= 0, f"vCPUs must be >= 0, got {self.vcpus:g}")


def serverless_monthly_usd(
    price: ServerlessPrice, call: ServerlessCall, requests_per_month: float
) -> float:
    """Monthly serverless bill for ``requests_per_month`` calls, after the free tier."""
    _require(
        requests_per_month >= 0, f"requests per month must be >= 0, got {requests_per_month:g}"
    )
    seconds = call.duration_ms / 1000.0
    billable_requests = max(0.0, requests_per_month - price.free_requests_per_month)
    gb_seconds = max(
        0.0, requests_per_month * call.memory_gb * seconds - price.free_gb_seconds_per_month
    )
    vcpu_seconds = max(
        0.0, requests_per_month * call.vcpus * seconds - price.free_vcpu_seconds_per_month
    )
    return (
        billable_requests * price.usd_per_million_requests / 1e6
        + gb_seconds * price.usd_per_gb_second
        + vcpu_seconds * price.usd_per_vcpu_second
    )


def serverless_breakeven_requests(
    price: ServerlessPrice, call: ServerlessCall, dedicated_monthly_usd: float
) -> float:
    """Requests per month at which serverless costs as much as the dedicated option.

    Below it serverless is cheaper; above it, dedicated. The serverless bill
    grows monotonically with traffic, so bisection finds the crossing.
    Returns math.inf when serverless never becomes dearer (a free platform).
    """
    _require(
        dedicated_monthly_usd >= 0, f"dedicated cost must be >= 0, got {dedicated_monthly_usd:g}"
    )
    low, high = 0.0, 1.0
    while serverless_monthly_usd(price, call, high) < dedicated_monthly_usd:
        high *= 2.0
        if high > 1e18:
            return math.inf
    for _ in range(200):
        middle = (low + high) / 2.0
        if serverless_monthly_usd(price, call, middle) < dedicated_monthly_usd:
            low = middle
        else:
            high = middle
        if high - low <= max(1e-6, high * 1e-12):
            break
    return high


@dataclass(frozen=True, slots=True)
class TotalCost:
    """Total cost of ownership as FinOps defines it: compute + storage + transfer + other."""

    compute_usd: float
    storage_usd: float = 0.0
    transfer_usd: float = 0.0
    other_usd: float = 0.0

    def __post_init__(self) -> None:
        for name in ("compute_usd", "storage_usd", "transfer_usd", "other_usd"):
            value = getattr(self, name)
            _require(value >= 0, f"{name.removesuffix('_usd')} cost must be >= 0, got {value:g}")

    @property
    def total_usd(self) -> float:
        return self.compute_usd + self.storage_usd + self.transfer_usd + self.other_usd

    def roi(self, value_usd: float) -> float:
        """Return on investment: (value - cost) / cost. Raises CostError for a zero cost."""
        _require(self.total_usd > 0, "ROI needs a total cost > 0")
        return (value_usd - self.total_usd) / self.total_usd
