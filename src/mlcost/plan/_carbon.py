"""A candidate's month in energy and kgCO2e, from the same simulation that priced it.

Machines. Each minute of the simulated month the fleet bills ``nodes`` nodes and
its replicas are busy ``min(arrivals x E[S], ready replicas)`` (the share of a
replica the autoscaler reads, summed over replicas); a busy replica keeps its
threads' vCPUs and its GPUs busy. The CPU utilization is busy vCPU-minutes over the
billed nodes' vCPU-minutes, the GPU's likewise, and the node-hours are the billed
ones, scaled to a 730-hour month as the bill is. ``mlcost.cost.fleet_carbon`` turns
them into watts, kWh and kgCO2e.

Serverless. The provider packs functions onto hosts it does not show, so an
instance is counted as the slice of a host it is billed for: the billed seconds
(from the duration line's GB-seconds over the function's memory) at its vCPUs, all
busy (one request at a time, CPU-bound), and its memory. Idle hosts and warm idle
instances, which the bill does not count, are not counted either.
"""

from __future__ import annotations

import numpy as np

from mlcost.core import CarbonFootprint, CostError, MissingDependencyError
from mlcost.cost import NodeUsage, fleet_carbon
from mlcost.plan._bill import month_factor
from mlcost.plan._search import Candidate, Search

_MACHINES_METHOD = (
    "estimated: node-hours and CPU/GPU utilization of the simulated month (busy replicas x "
    "their vCPUs and GPUs over the billed nodes'), scaled to a 730-hour month"
)
_SERVERLESS_METHOD = (
    "estimated: the billed GB-seconds over the function's memory, at its vCPUs fully busy and "
    "its memory; the provider's idle hosts and idle warm instances are not counted"
)


def candidate_carbon(candidate: Candidate, search: Search) -> tuple[CarbonFootprint | None, str]:
    """A month's energy and kgCO2e of ``candidate``, or None and why it could not be estimated."""
    try:
        if candidate.platform == "serverless":
            return fleet_carbon([_function_usage(candidate)], method=_SERVERLESS_METHOD), ""
        return fleet_carbon([_fleet_usage(candidate, search)], method=_MACHINES_METHOD), ""
    except (CostError, MissingDependencyError) as exc:
        return None, str(exc)


def _fleet_usage(candidate: Candidate, search: Search) -> NodeUsage:
    speed, run = candidate.speed, candidate.run
    offer, replica = speed.offer, speed.replica
    nodes = (run.on_demand_nodes + run.spot_nodes).astype(np.float64)
    busy = np.minimum(search.arrivals_per_s * speed.service.mean_s, run.ready_replicas)
    node_minutes = float(nodes.sum())

    def share(per_replica: float, per_node: int) -> float:
        if not node_minutes or not per_node:
            return 0.0
        return min(1.0, float(busy.sum()) * per_replica / (node_minutes * per_node))

    return NodeUsage(
        offer,
        node_hours=node_minutes / 60.0 * month_factor(search.workload.horizon_days),
        cpu_utilization=share(replica.vcpus, offer.vcpus),
        accelerator_utilization=share(replica.accelerators, offer.accelerator_count),
    )


def _function_usage(candidate: Candidate) -> NodeUsage:
    offer = candidate.speed.offer
    gb_seconds = sum(
        line.quantity for line in candidate.cost.lines if line.unit == "GB-second"
    )  # the bill's lines are already a month's
    return NodeUsage(offer, node_hours=gb_seconds / offer.memory_gib / 3600.0, cpu_utilization=1.0)
