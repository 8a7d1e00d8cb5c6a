"""A candidate checked once and turned into a PlanOption: the answer's and the waterfall's shared part.

The search screens every candidate per minute; what the Plan shows is checked with
the full latency model (``check_exactly``), a spot or mixed candidate over many
months of reclaims (``over_seeds``). ``Checked`` keeps each result so a candidate
shown in several places (winner, runners-up, Pareto front, platforms, waterfall
bars) is checked once; ``rank`` orders candidates cheapest first, and ``to_option``
is the Plan's record of one, with its month's energy and kgCO2e.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mlcost.core import PlanOption, ReplicaSpec, SloResult, SpotRisk
from mlcost.plan._carbon import candidate_carbon
from mlcost.plan._risk import Months, check_exactly, is_spot, over_seeds
from mlcost.plan._search import Candidate, Search


@dataclass(slots=True)
class Checked:
    """Exact SLO results, computed once per simulated month (spot ones over many seeds)."""

    search: Search
    results: dict[int, SloResult]
    months: dict[tuple[int, str], Months]

    def slo(self, candidate: Candidate) -> SloResult:
        if candidate.slo is not None:
            return candidate.slo
        if is_spot(candidate):
            return self.over_seeds(candidate).slo
        key = id(candidate.run)  # platforms share one fleet run, and so its SLO result
        if key not in self.results:
            self.results[key] = check_exactly(candidate, self.search)
        return self.results[key]

    def over_seeds(self, candidate: Candidate) -> Months:
        key = (id(candidate.run), candidate.platform)
        if key not in self.months:
            self.months[key] = over_seeds(candidate, self.search)
        return self.months[key]

    def risk(self, candidate: Candidate) -> SpotRisk | None:
        return self.over_seeds(candidate).risk if is_spot(candidate) else None

    def cheapest(self, pool: Sequence[Candidate]) -> tuple[Candidate, SloResult] | None:
        """The cheapest screened-in candidate of ``pool`` that the exact check confirms.

        Candidates are checked in rank order until one is confirmed, so usually only the
        first gets the full latency model.
        """
        ranked = sorted((c for c in pool if c.is_screened_in), key=rank)
        for candidate in ranked:
            result = self.slo(candidate)
            if result.is_met:
                return candidate, result
        return None


def rank(candidate: Candidate) -> tuple[float, float, int, str, str]:
    """Cheapest first; on a tie the lower p99, then autoscaled (it follows traffic growth)."""
    return (
        round(candidate.monthly_usd, 2),
        candidate.speed.replica.latency_ms_p99,
        0 if candidate.scaling == "autoscaled" else 1,
        candidate.speed.offer.instance_type,
        candidate.platform,
    )


def to_option(
    candidate: Candidate,
    slo: SloResult,
    search: Search,
    *,
    why_not: str = "",
    risk: SpotRisk | None = None,
) -> PlanOption:
    """The Plan's record of one candidate."""
    speed, run = candidate.speed, candidate.run
    serving, target = search.workload.serving, search.settings.target_utilisation
    replica = ReplicaSpec(
        vcpus=speed.replica.vcpus,
        memory_mib=speed.replica.memory_mib,
        accelerators=speed.replica.accelerators,
        target_requests_per_s=target / speed.service.mean_s,
        target_utilisation=target,
        max_batch_size=serving.max_batch_size,
        max_queue_delay_ms=serving.max_queue_delay_ms,
    )
    nodes = run.on_demand_nodes + run.spot_nodes
    node_minutes = float(nodes.sum())
    return PlanOption(
        variant=speed.variant.name,
        offer=speed.offer,
        pricing=candidate.pricing,
        scaling=candidate.scaling,
        commitment=candidate.commitment,
        accuracy=speed.accuracy,
        latency_ms_p50=speed.replica.latency_ms_p50,
        latency_ms_p99=speed.replica.latency_ms_p99,
        speed_basis=speed.replica.basis,
        speed_method=speed.replica.method,
        confirm_by=speed.replica.confirm_by,
        pods_per_node=speed.pods_per_node,
        replicas_min=int(run.ready_replicas.min()),
        replicas_floor=int(run.desired_replicas.min()),
        replicas_mean=float(run.desired_replicas.mean()),
        replicas_max=int(run.desired_replicas.max()),
        nodes_mean=float(nodes.mean()),
        nodes_max=int(nodes.max()),
        always_on_nodes=int(run.always_on_nodes),
        spot_node_share=float(run.spot_nodes.sum()) / node_minutes if node_minutes else 0.0,
        interruptions_expected=float(run.expected_interruptions),
        cost=candidate.cost,
        monthly_usd=candidate.monthly_usd,
        slo=slo,
        why_not=why_not,
        spare_nodes=candidate.spare_nodes,
        platform=candidate.platform,
        platform_service=candidate.platform_service,
        cold_starts_expected=candidate.cold_starts,
        cold_start_ms=candidate.cold_start_ms,
        spot_risk=risk,
        spot_types=candidate.spot_types,
        prerequisites=candidate.prerequisites,
        replica=replica,
        carbon=candidate_carbon(candidate, search)[0],
    )
