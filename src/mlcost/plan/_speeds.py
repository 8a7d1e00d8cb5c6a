"""One variant's replica on one offer: its speed, pods per node, and the SLO capacity table.

The M/G/c model is solved once per replica speed for every replica count the plan may
use: ``capacity_per_s[c]`` is the most arrivals per second c ready replicas take while
the SLO percentile holds (``max_arrivals_per_s``). Offers whose replicas run at the same
speed share one table.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from mlcost.catalog import Catalog
from mlcost.core import (
    Constraints,
    Offer,
    PlanError,
    Profile,
    ServingSettings,
    Variant,
    Workload,
)
from mlcost.plan._batching import REQUEST_PATH_MS, BatchService, cpu_sharing
from mlcost.plan._bill import BillSettings, FixedCosts, fixed_costs
from mlcost.plan._estimate import ReplicaSpeed, Unfit, replica_speed
from mlcost.plan._fleet import pods_per_node
from mlcost.plan._queueing import max_arrivals_per_s
from mlcost.plan._service_time import ServiceTime

FloatArray = npt.NDArray[np.float64]

# Past this many replicas of one variant on one machine type the candidate is dropped:
# a plan that needs thousands of pods wants a faster variant or machine.
_MAX_REPLICAS = 5000
_TAIL_FIT_TRIES = 40
# EC2's instance-level SLA: 99.5 % monthly uptime per instance (https://aws.amazon.com/compute/sla/),
# taken for every provider; replicas are assumed spread over nodes (topology spread constraints).
_INSTANCE_AVAILABILITY = 0.995


def least_replicas(constraints: Constraints) -> int:
    """``min_replicas``, raised until independent replicas reach ``availability_target``."""
    target = constraints.availability_target
    if target is None:
        return constraints.min_replicas
    needed = math.ceil(math.log(1.0 - target) / math.log(1.0 - _INSTANCE_AVAILABILITY))
    return max(constraints.min_replicas, needed)


@dataclass(frozen=True, slots=True)
class Speed:
    """One variant's replica on one offer, with the latency model solved for the SLO."""

    variant: Variant
    accuracy: float | None
    offer: Offer
    replica: ReplicaSpeed
    service: ServiceTime | BatchService
    capacity_per_s: FloatArray  # index c: most arrivals/s that c ready replicas take at the SLO
    pods_per_node: int
    fixed_replicas: int
    max_replicas: int
    fixed: FixedCosts


def speed_on(
    workload: Workload,
    variant: Variant,
    accuracy: float | None,
    profiles: Sequence[Profile],
    offer: Offer,
    arrivals: FloatArray,
    requests_per_month: float,
    catalog: Catalog,
    flops: float | None,
    tables: CapacityTables,
    target_utilisation: float,
    bill_settings: BillSettings,
) -> Speed | Unfit:
    """The replica of ``variant`` on ``offer``, sized for the workload's peak, or why it is unfit."""
    found = [replica_speed(p, variant, offer, flops_per_inference=flops) for p in profiles]
    fits = [s for s in found if isinstance(s, ReplicaSpeed)]
    if not fits:
        last = found[-1]
        assert isinstance(last, Unfit)
        return last
    replica = next((s for s in fits if s.basis == "measured"), fits[-1])
    per_node = pods_per_node(
        node_vcpus=offer.vcpus,
        node_memory_gib=offer.memory_gib,
        pod_vcpus=replica.vcpus,
        pod_memory_mib=replica.memory_mib,
        node_accelerators=offer.accelerator_count,
        pod_accelerators=replica.accelerators,
        provider=offer.provider,
    )
    if per_node < 1:
        return Unfit(
            variant.name,
            offer.key,
            f"one serving pod ({replica.vcpus:g} vCPU, {replica.memory_mib:.0f} MiB) does not "
            "fit on the node after the system reservations",
        )
    batch_one, replica = fitted_service_time(replica)
    service = replica_service(
        workload.serving,
        batch_one,
        replica.rows_per_s_by_batch,
        vcpus=replica.vcpus,
        on_accelerator=replica.accelerators > 0,
    )
    capacity, fixed_replicas = tables.capacity(service)
    if fixed_replicas is None:
        return Unfit(
            variant.name,
            offer.key,
            _latency_reason(replica, workload, capacity),
            replica.latency_ms_p99,
        )
    rules = workload.constraints
    # A fixed fleet pays for whole nodes, so it fills them.
    nodes = math.ceil(max(fixed_replicas, least_replicas(rules)) / per_node)
    fixed_count = nodes * per_node
    hpa_peak = math.ceil(float(arrivals.max()) * service.mean_s / target_utilisation)
    max_replicas = max(least_replicas(rules), fixed_replicas, hpa_peak)
    if len(capacity) <= max_replicas:
        capacity = tables.extended(service, max_replicas + 1)
    fixed = fixed_costs(
        workload,
        offer,
        artifact_bytes=variant.size_bytes,
        requests_per_month=requests_per_month,
        catalog=catalog,
        settings=bill_settings,
    )
    return Speed(
        variant,
        accuracy,
        offer,
        replica,
        service,
        capacity,
        per_node,
        fixed_count,
        max_replicas,
        fixed,
    )


def _capacity_table(
    service: ServiceTime | BatchService, workload: Workload, size: int
) -> FloatArray:
    servers = np.arange(size, dtype=np.int64)
    table = np.zeros(size)
    table[1:] = max_arrivals_per_s(
        servers[1:],
        service,
        slo_ms=workload.slo.latency_ms,
        percentile=workload.slo.latency_percentile,
        balancing=workload.platform.load_balancing,
    )
    return table


def replica_service(
    serving: ServingSettings,
    batch_one: ServiceTime,
    rows_per_s_by_batch: Sequence[tuple[int, float]],
    *,
    vcpus: float,
    on_accelerator: bool,
) -> ServiceTime | BatchService:
    """The replica as the latency model sees it: batching as the workload's serving section says,
    from the batch sizes the profile measured, inside the server (its event loop shares the
    ``vcpus``; a GPU batch runs on the device); batch 1 when the cap is 1 or none was measured."""
    if serving.max_batch_size == 1 or not any(b > 1 for b, _ in rows_per_s_by_batch):
        return batch_one
    return BatchService.from_curve(
        batch_one,
        dict(rows_per_s_by_batch),
        max_batch_size=serving.max_batch_size,
        max_queue_delay_ms=serving.max_queue_delay_ms,
        cpu_sharing=1.0 if on_accelerator else cpu_sharing(vcpus),
        request_path_ms=REQUEST_PATH_MS,
    )


def measured_service(
    latency_ms_p50: float,
    latency_ms_p99: float,
    throughput_by_batch: Mapping[int, float],
    serving: ServingSettings,
    *,
    vcpus: float,
) -> ServiceTime | BatchService:
    """The latency model of one CPU replica with ``vcpus`` threads on the machine these figures
    (a profile's) were measured on, built as the planner builds it (what
    ``bench/serve_vs_plan.py`` holds against a real server)."""
    batch_one, _ = _fit_batch_one(latency_ms_p50, latency_ms_p99, "the replica")
    return replica_service(
        serving, batch_one, sorted(throughput_by_batch.items()), vcpus=vcpus, on_accelerator=False
    )


def fitted_service_time(replica: ReplicaSpeed) -> tuple[ServiceTime, ReplicaSpeed]:
    """The service time fitted to the replica's p50/p99; a tail too heavy to fit is made lighter
    by raising the p50 (slower, never faster, than measured), and the method says so."""
    service, p50 = _fit_batch_one(replica.latency_ms_p50, replica.latency_ms_p99, replica.variant)
    if p50 == replica.latency_ms_p50:
        return service, replica
    note = (
        f"; its p99/p50 of {replica.latency_ms_p99 / replica.latency_ms_p50:.0f} is too "
        f"heavy a tail to model, so the p50 is taken as {p50:.2f} ms (slower)"
    )
    return service, replace(replica, latency_ms_p50=p50, method=replica.method + note)


def _fit_batch_one(p50: float, p99: float, variant: str) -> tuple[ServiceTime, float]:
    """The batch-1 service time, and the p50 it was fitted with (raised for too heavy a tail)."""
    measured = p50
    for _ in range(_TAIL_FIT_TRIES):
        try:
            return ServiceTime.from_percentiles(p50, p99), p50
        except PlanError:
            p50 *= 1.25
    raise PlanError(
        f"{variant}: p99 {p99:.2f} ms vs p50 {measured:.2f} ms cannot be "
        "modelled; measure it again on a quiet machine (mlcost profile measure VARIANT)"
    )


class CapacityTables:
    """Capacity tables per service time: offers with the same replica speed share one."""

    def __init__(self, workload: Workload, peak_per_s: float) -> None:
        self._workload = workload
        self._peak_per_s = peak_per_s
        self._found: dict[ServiceTime | BatchService, tuple[FloatArray, int | None]] = {}

    def capacity(self, service: ServiceTime | BatchService) -> tuple[FloatArray, int | None]:
        """The table up to the smallest replica count that takes the peak, and that count."""
        if service not in self._found:
            self._found[service] = self._solve(service)
        return self._found[service]

    def extended(self, service: ServiceTime | BatchService, size: int) -> FloatArray:
        table, count = self.capacity(service)
        if len(table) < size:
            table = _capacity_table(service, self._workload, size)
            self._found[service] = (table, count)
        return table

    def _solve(self, service: ServiceTime | BatchService) -> tuple[FloatArray, int | None]:
        peak = self._peak_per_s
        size = max(8, math.ceil(peak * service.mean_s * 1.5) + 4)
        while True:
            table = _capacity_table(service, self._workload, min(size, _MAX_REPLICAS + 1))
            enough = np.nonzero(table >= peak)[0]
            if enough.size:
                return table, max(1, int(enough[0]))
            if table[-1] <= 0.0 or size > _MAX_REPLICAS:
                return table, None
            size *= 2


def _latency_reason(replica: ReplicaSpeed, workload: Workload, capacity: FloatArray) -> str:
    slo = workload.slo
    if capacity[-1] <= 0.0:
        return (
            f"one request alone takes longer than p{slo.latency_percentile:g} "
            f"{slo.latency_ms:g} ms here (p99 {replica.latency_ms_p99:.1f} ms, {replica.basis})"
        )
    return f"more than {_MAX_REPLICAS} replicas would be needed at the peak"
