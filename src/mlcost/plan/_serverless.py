"""Serverless candidates: the variant in a function (Lambda, Cloud Run), per request, cold starts counted.

Duration. The replica's latency is estimated from the measured profile on the
function's own CPU share (``estimate_on_function``): Lambda gives 1 vCPU per 1,769
MB of memory (https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html);
Cloud Run's vCPUs are chosen apart. Neither publishes its CPU model, so it is taken as
the slowest x86 core of the machines table, an SMT thread per vCPU: an estimate that
does not flatter. Each of 1 and 2 vCPUs is tried, memory at least the profile's peak
plus headroom. A function instance serves one request at a time (concurrency 1: the
model is CPU-bound), so a warm request never queues: its latency is the service time
plus the front door's overhead (``INVOKE_OVERHEAD_MS``, an assumption).

Cold starts, per minute. Instances busy at once are Poisson (M/G/inf) with mean
``a = arrivals x E[S]``; the minute needs ``ceil(a + 3 sqrt(a))`` (at least 1 when a
request comes). Instances stay warm ``KEEP_WARM_MIN`` after their last use (AWS does
not publish it; 5 minutes is at the short end of what is observed, so cold starts are
not undercounted) and are recycled every ``RECYCLE_MIN`` minutes (an assumption). A
minute starts new instances for the rise above the pool kept warm, for requests that
arrive after an idle gap longer than the keep-warm time (``exp(-rate x gap)`` of them),
and for the recycled ones. A cold request waits the instance's init: the runtime and
imports (``RUNTIME_INIT_S``, an assumption) plus the profile's model load, scaled as
its latency is. Lambda bills that init phase since August 2025
(https://aws.amazon.com/blogs/compute/aws-lambda-standardizes-billing-for-init-phase/),
and Cloud Run bills the instance while it starts; both are billed here.

SLO. A minute is over when more than ``100 - percentile`` % of its requests are
slower than the SLO: the cold ones whose init pushes them past it, and the warm ones
whose service time does. Over the month at most ``100 - percentile`` % of requests may
be slower, as for every candidate.

Bill. Requests at the per-million price; duration at the per-GB-second (and, for
Cloud Run, per-vCPU-second) price, each request rounded up to the billing step
(Lambda 1 ms, Cloud Run 100 ms); init time of the cold starts likewise; the front
door (``platform.front_door``: a Lambda function URL costs nothing more, API Gateway's
HTTP and REST APIs per million requests); the artifact in object storage; transfer as
for machines, without cross-zone traffic (the provider spreads functions over zones
at no charge). Free allowances only with ``platform.free_tier``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from mlcost.catalog import KNOWN_MACHINES, Catalog
from mlcost.core import (
    BillLine,
    CostBreakdown,
    Offer,
    Profile,
    ServerlessPrice,
    SloResult,
    Variant,
    Workload,
)
from mlcost.plan._bill import BillSettings, fixed_costs, month_factor, storage_and_transfer_lines
from mlcost.plan._estimate import ReplicaSpeed, estimate_on_function
from mlcost.plan._fleet import FleetRun, _trailing
from mlcost.plan._queueing import share_over_slo
from mlcost.plan._service_time import ServiceTime
from mlcost.plan._speeds import fitted_service_time

FloatArray = npt.NDArray[np.float64]

KEEP_WARM_MIN = 5
RECYCLE_MIN = 120
RUNTIME_INIT_S = 1.0
INVOKE_OVERHEAD_MS = 5.0
HEADROOM_MIB = 128.0
_VCPU_CHOICES = (1, 2)
_MIB_PER_GB = 1024.0
_FRONT_DOORS = {
    "function-url": "",
    "http-api": "http-api-million-requests",
    "rest-api": "rest-api-million-requests",
}
_FRONT_DOOR_NAMES = {
    "function-url": "function URL",
    "http-api": "API Gateway HTTP API",
    "rest-api": "API Gateway REST API",
}


@dataclass(frozen=True, slots=True)
class FunctionOption:
    """One serverless configuration of a variant, simulated over the horizon."""

    variant: Variant
    accuracy: float | None
    offer: Offer  # the function as an offer: its memory, vCPUs, region
    service_name: str
    replica: ReplicaSpeed
    service: ServiceTime
    run: FleetRun  # concurrent instances per minute (on_demand_nodes = warm pool)
    cost: CostBreakdown
    slo: SloResult
    cold_starts: float  # a month's
    cold_start_ms: float


def function_options(
    workload: Workload,
    variant: Variant,
    accuracy: float | None,
    profile: Profile,
    *,
    arrivals_per_s: FloatArray,
    requests_per_month: float,
    regions: Mapping[str, Sequence[str]],
    catalog: Catalog,
    allowed_minutes: int,
    bill_settings: BillSettings,
) -> Iterator[FunctionOption]:
    """Every function size of ``variant`` on every serverless price of the allowed providers.

    ``regions`` maps a provider to the regions the plan may use there. Variants that
    need a GPU (fp16, a profile measured on CUDA) are not offered.
    """
    if variant.precision == "fp16" or "cuda" in profile.provider.lower():
        return
    for price in catalog.prices.serverless:
        machine = KNOWN_MACHINES.get((price.provider, price.machine))
        if machine is None:
            continue
        for region in regions.get(price.provider, ()):
            for vcpus in _VCPU_CHOICES:
                yield _option(
                    workload,
                    variant,
                    accuracy,
                    profile,
                    price,
                    region,
                    vcpus,
                    arrivals_per_s=arrivals_per_s,
                    requests_per_month=requests_per_month,
                    catalog=catalog,
                    allowed_minutes=allowed_minutes,
                    bill_settings=bill_settings,
                )


def _option(
    workload: Workload,
    variant: Variant,
    accuracy: float | None,
    profile: Profile,
    price: ServerlessPrice,
    region: str,
    vcpus: int,
    *,
    arrivals_per_s: FloatArray,
    requests_per_month: float,
    catalog: Catalog,
    allowed_minutes: int,
    bill_settings: BillSettings,
) -> FunctionOption:
    machine = KNOWN_MACHINES[(price.provider, price.machine)]
    needed_mib = profile.peak_memory_mib + HEADROOM_MIB
    if price.mb_per_vcpu:
        memory_mib = float(max(math.ceil(vcpus * price.mb_per_vcpu), math.ceil(needed_mib)))
    else:
        memory_mib = 512.0 * math.ceil(needed_mib / 512.0)
    size = f"{memory_mib:,.0f} MB, {vcpus} vCPU"
    door = workload.platform.front_door if price.provider == "aws" else "function-url"
    door_text = f" + {_FRONT_DOOR_NAMES[door]}" if price.provider == "aws" else ""
    service_name = f"{price.service.split(' (')[0]} {size}{door_text}"
    offer = Offer(
        provider=price.provider,
        region=region,
        instance_type=price.machine,
        vcpus=vcpus,
        memory_gib=memory_mib / _MIB_PER_GB,
        arch=machine.arch,
        on_demand_usd_per_hour=0.0,
        as_of=price.as_of,
        source=price.source,
    )
    replica = estimate_on_function(profile, variant, offer, machine, vcpus)
    service, replica = fitted_service_time(replica)
    replica = replace(
        replica,
        memory_mib=memory_mib,
        confirm_by=(
            f"deploy {variant.name} to {price.service.split(' (')[0]} at {size} and read the "
            "billed and init durations in its REPORT log lines"
        ),
    )
    scale = replica.latency_ms_p50 / profile.latency_ms_p50
    init_ms = (RUNTIME_INIT_S + profile.load_s * scale) * 1000.0
    cold, peak, pool = cold_starts(arrivals_per_s, mean_service_s=service.mean_s)
    slo = _slo(workload, arrivals_per_s, cold, service, init_ms, allowed_minutes)
    factor = month_factor(workload.horizon_days)
    cost = _bill(
        workload,
        price,
        catalog,
        variant,
        offer=offer,
        service=service,
        cold_per_month=float(cold.sum()) * factor,
        init_ms=init_ms,
        requests_per_month=requests_per_month,
        bill_settings=bill_settings,
        door=door,
    )
    run = FleetRun(
        ready_replicas=peak,
        desired_replicas=peak,
        on_demand_nodes=pool,
        spot_nodes=np.zeros_like(pool),
        interruptions=0,
        expected_interruptions=0.0,
    )
    return FunctionOption(
        variant,
        accuracy,
        offer,
        service_name,
        replica,
        service,
        run,
        cost,
        slo,
        float(cold.sum()) * factor,
        init_ms,
    )


def cold_starts(
    arrivals_per_s: FloatArray, *, mean_service_s: float
) -> tuple[FloatArray, npt.NDArray[np.int32], npt.NDArray[np.int32]]:
    """Return the expected cold starts per minute, the instances each minute needs, and the
    pool kept warm (the module docstring's model)."""
    load = arrivals_per_s * mean_service_s
    busy = arrivals_per_s > 0.0
    peak = np.where(busy, np.maximum(1.0, np.ceil(load + 3.0 * np.sqrt(load))), 0.0).astype(
        np.int32
    )
    before = np.empty_like(peak)
    before[0] = peak[0]  # steady before the horizon, as the fleet is
    before[1:] = peak[:-1]
    warm = _trailing(before, KEEP_WARM_MIN, np.maximum)
    requests = arrivals_per_s * 60.0
    rise = np.maximum(0, peak - warm).astype(np.float64)
    gap_share = np.exp(-arrivals_per_s * 60.0 * KEEP_WARM_MIN)
    after_gap = requests * gap_share
    # A recycled instance costs a cold start only where one would not have expired anyway.
    recycled = warm / RECYCLE_MIN * (1.0 - gap_share)
    cold = np.minimum(requests, rise + after_gap + recycled)
    return cold, peak, np.maximum(peak, warm)


def _slo(
    workload: Workload,
    arrivals_per_s: FloatArray,
    cold: FloatArray,
    service: ServiceTime,
    init_ms: float,
    allowed_minutes: int,
) -> SloResult:
    slo = workload.slo
    budget_ms = slo.latency_ms - INVOKE_OVERHEAD_MS
    warm_over = (
        float(share_over_slo(np.zeros(1), np.ones(1, dtype=np.int64), service, budget_ms)[0])
        if budget_ms > 0
        else 1.0
    )
    cold_budget = budget_ms - init_ms
    cold_over = (
        float(share_over_slo(np.zeros(1), np.ones(1, dtype=np.int64), service, cold_budget)[0])
        if cold_budget > 0
        else 1.0
    )
    requests = arrivals_per_s * 60.0
    slower = cold * cold_over + (requests - cold) * warm_over
    share = np.divide(slower, requests, out=np.zeros_like(requests), where=requests > 0)
    alpha = 1.0 - slo.latency_percentile / 100.0
    over = int(np.count_nonzero(share > alpha))
    total = float(requests.sum())
    warm_ms = service.quantile_ms(slo.latency_percentile) + INVOKE_OVERHEAD_MS
    worst = init_ms + service.quantile_ms(50.0) + INVOKE_OVERHEAD_MS if over else warm_ms
    is_met = over <= allowed_minutes and float(slower.sum()) <= alpha * total
    return SloResult(
        latency_ms=slo.latency_ms,
        latency_percentile=slo.latency_percentile,
        minutes=int(requests.size),
        minutes_over_slo=over,
        allowed_minutes_over_slo=allowed_minutes,
        requests=total,
        requests_over_slo=float(slower.sum()),
        worst_latency_ms=worst,
        is_met=is_met,
    )


def _bill(
    workload: Workload,
    price: ServerlessPrice,
    catalog: Catalog,
    variant: Variant,
    *,
    offer: Offer,
    service: ServiceTime,
    cold_per_month: float,
    init_ms: float,
    requests_per_month: float,
    bill_settings: BillSettings,
    door: str,
) -> CostBreakdown:
    free = workload.platform.free_tier
    step_ms = price.billing_granularity_ms
    billed_s = _billed_ms(service, step_ms) / 1000.0
    init_s = math.ceil(init_ms / step_ms) * step_ms / 1000.0
    gb = offer.memory_gib  # memory in MB / 1,024: the GB that GB-seconds count
    vcpus = offer.vcpus
    seconds = requests_per_month * billed_s + cold_per_month * init_s
    name = price.service
    lines: list[BillLine] = []

    def line(item: str, quantity: float, unit: str, usd_per_unit: float, free_units: float) -> None:
        allowance = free_units if free else 0.0
        charged = max(0.0, quantity - allowance) * usd_per_unit
        amount = f"{free_units:,.0f}" if free_units >= 10 else f"{free_units:g}"
        if allowance:
            note = f"free tier taken off: {amount} {unit} a month (platform.free_tier)"
        elif free_units:
            saved = min(quantity, free_units) * usd_per_unit
            note = (
                f"free tier not counted: {amount} {unit} a month per account would take "
                f"${saved:,.2f} off (platform.free_tier: true)"
            )
        else:
            note = ""
        lines.append(
            BillLine(
                "compute",
                item,
                quantity,
                unit,
                usd_per_unit,
                charged,
                price.source,
                price.as_of,
                note,
                pricing="on-demand",
            )
        )

    line(
        f"{name}: requests",
        requests_per_month / 1e6,
        "million requests",
        price.usd_per_million_requests,
        price.free_requests_per_month / 1e6,
    )
    line(
        f"{name}: duration, {billed_s * 1000:.1f} ms billed per request + "
        f"{cold_per_month:,.0f} inits of {init_s:.2f} s, at {gb:.3f} GB",
        seconds * gb,
        "GB-second",
        price.usd_per_gb_second,
        price.free_gb_seconds_per_month,
    )
    if price.usd_per_vcpu_second:
        line(
            f"{name}: CPU, {vcpus} vCPU",
            seconds * vcpus,
            "vCPU-second",
            price.usd_per_vcpu_second,
            price.free_vcpu_seconds_per_month,
        )
    item = _FRONT_DOORS[door] if price.provider == "aws" else ""
    if item:
        door_price = catalog.prices.platform_price(price.provider, item)
        if door_price is not None:
            lines.append(
                BillLine(
                    "platform",
                    door_price.name,
                    requests_per_month / 1e6,
                    door_price.unit,
                    door_price.usd,
                    requests_per_month / 1e6 * door_price.usd,
                    door_price.source,
                    door_price.as_of,
                    door_price.note,
                )
            )
    elif price.provider == "aws":
        url = catalog.prices.platform_price(price.provider, "function-url")
        if url is not None:
            lines.append(
                BillLine(
                    "platform",
                    url.name,
                    requests_per_month / 1e6,
                    url.unit,
                    url.usd,
                    0.0,
                    url.source,
                    url.as_of,
                    url.note,
                )
            )
    fixed = fixed_costs(
        workload,
        offer,
        artifact_bytes=variant.size_bytes,
        requests_per_month=requests_per_month,
        catalog=catalog,
        settings=replace(bill_settings, cross_zone_share=0.0, disk_gib_per_node=0.0),
    )
    extra, notes = storage_and_transfer_lines(fixed, node_hours_per_month=0.0)
    return CostBreakdown(tuple(lines) + extra, notes)


def _billed_ms(service: ServiceTime, step_ms: float) -> float:
    """Mean billed duration per request: each rounded up to the billing step."""
    mean_ms = service.mean_s * 1000.0
    if step_ms <= 1.0:
        return mean_ms + step_ms / 2.0
    return max(step_ms, step_ms * math.ceil(mean_ms / step_ms))
