"""The Plan: the configuration chosen to serve a workload, what it costs, and why it won.

Money is US dollars over the plan's horizon scaled to a month (``*_usd_per_month``:
the horizon's bill x 730 / horizon hours), so plans of any horizon compare.
Every speed figure carries its basis (measured or estimated, with the method).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

from mlcost.core._values import Basis, Offer

PlanPricing = Literal["on-demand", "spot", "mixed", "savings"]
PlanScaling = Literal["fixed", "autoscaled"]


BillCategory = Literal["compute", "platform", "storage", "transfer"]
Platform = Literal["kubernetes", "vm-group", "serverless"]
PLATFORMS: tuple[Platform, ...] = ("kubernetes", "vm-group", "serverless")


@dataclass(frozen=True, slots=True)
class BillLine:
    """One line of a monthly bill, as the provider would print it: quantity x unit price.

    ``usd_per_month`` is what is charged: ``quantity x usd_per_unit`` less any free
    allowance the line says it used (``note``). A line for something already paid
    elsewhere (an existing cluster's control plane) has ``is_charged`` False and
    costs nothing in the totals. ``source`` and ``as_of`` are the price's own
    (``as_of`` None: the source gives no date). ``pricing`` tags compute lines
    (on-demand, spot, commitment) and is empty elsewhere.
    """

    category: BillCategory
    item: str
    quantity: float
    unit: str
    usd_per_unit: float
    usd_per_month: float
    source: str
    as_of: date | None = None
    note: str = ""
    is_charged: bool = True
    pricing: str = ""


@dataclass(frozen=True, slots=True)
class CostBreakdown:
    """One option's monthly bill, line by line; ``assumptions`` says what the figures rest on."""

    lines: tuple[BillLine, ...]
    assumptions: tuple[str, ...] = ()

    def usd_per_month(self, category: BillCategory, pricing: str | None = None) -> float:
        """The charged total of one category (and, for compute, one pricing)."""
        return sum(
            line.usd_per_month
            for line in self.lines
            if line.is_charged
            and line.category == category
            and (pricing is None or line.pricing == pricing)
        )

    @property
    def on_demand_usd_per_month(self) -> float:
        return self.usd_per_month("compute", "on-demand")

    @property
    def spot_usd_per_month(self) -> float:
        return self.usd_per_month("compute", "spot")

    @property
    def commitment_usd_per_month(self) -> float:
        return self.usd_per_month("compute", "commitment")

    @property
    def compute_usd_per_month(self) -> float:
        return self.usd_per_month("compute")

    @property
    def platform_usd_per_month(self) -> float:
        return self.usd_per_month("platform")

    @property
    def storage_usd_per_month(self) -> float:
        return self.usd_per_month("storage")

    @property
    def transfer_usd_per_month(self) -> float:
        return self.usd_per_month("transfer")

    @property
    def total_usd_per_month(self) -> float:
        return sum(line.usd_per_month for line in self.lines if line.is_charged)

    def with_lines(
        self, lines: tuple[BillLine, ...], assumptions: tuple[str, ...] = ()
    ) -> CostBreakdown:
        """This bill with more lines (and assumptions) added."""
        return CostBreakdown(self.lines + lines, self.assumptions + assumptions)


@dataclass(frozen=True, slots=True)
class CarbonFootprint:
    """Energy and greenhouse gas of a fleet over a period (an option's: a month), and its inputs.

    ``energy_kwh`` is what the data centre draws: the machines' energy x the provider's
    PUE. ``kg_co2e`` is that x ``g_co2e_per_kwh``, the region's grid (an annual,
    location-based average: renewable certificates are not counted). ``basis`` is
    the energy's: estimated from a power model and a utilization (``method`` says
    which), or measured (metered on the machine by codecarbon); the CO2e always
    rests on the grid factor. ``inputs`` names every coefficient, utilization and
    grid figure used, each with its source.
    """

    energy_kwh: float
    kg_co2e: float
    g_co2e_per_kwh: float
    basis: Basis
    method: str
    inputs: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SloResult:
    """How the simulated month fares against the latency SLO (request counts are expectations).

    The SLO is met when at most ``allowed_minutes_over_slo`` minutes have their
    percentile latency above the SLO, and over the whole horizon no more than
    ``100 - latency_percentile`` % of requests are slower than it.
    """

    latency_ms: float
    latency_percentile: float
    minutes: int
    minutes_over_slo: int
    allowed_minutes_over_slo: int
    requests: float
    requests_over_slo: float
    worst_latency_ms: float
    is_met: bool

    @property
    def share_of_requests_over_slo(self) -> float:
        return self.requests_over_slo / self.requests if self.requests else 0.0


@dataclass(frozen=True, slots=True)
class SpotRisk:
    """A spot option's month over many seeds of its reclaims, not one lucky draw.

    Money and minutes are the mean and the 95th percentile over ``seeds``
    simulated months; reclaims count spot nodes taken a month. The worst single
    reclaim is the most nodes one reclaim took at once (a pool of one instance
    type in one zone goes together) and the ready replicas it left.
    ``interruption_basis`` says which rate was used and how old its data is.
    """

    seeds: int
    monthly_usd_mean: float
    monthly_usd_p95: float
    minutes_over_slo_mean: float
    minutes_over_slo_p95: float
    reclaims_mean: float
    reclaims_p95: float
    worst_reclaim_nodes: int
    worst_ready_replicas: int
    interruptions_per_node_hour: float
    interruption_basis: str


@dataclass(frozen=True, slots=True)
class SensitivityRow:
    """The winner under one changed assumption: what it would cost and whether it holds."""

    case: str
    monthly_usd: float
    monthly_usd_p95: float
    minutes_over_slo_p95: float
    is_met: bool
    note: str = ""


@dataclass(frozen=True, slots=True)
class ReplicaSpec:
    """What one serving pod of an option needs and does, for rendering it (``mlcost deploy``).

    ``vcpus`` are the intra-op threads the speed assumed; ``memory_mib`` the
    measured peak resident memory of the serving process; ``accelerators``
    GPUs per pod. ``target_requests_per_s`` is the request rate per pod the
    simulated autoscaler held (its target utilisation of what one replica can
    take). ``max_batch_size`` and ``max_queue_delay_ms``
    are the batching the latency model assumed, from the workload.
    """

    vcpus: float
    memory_mib: float
    accelerators: int
    target_requests_per_s: float
    target_utilisation: float
    max_batch_size: int
    max_queue_delay_ms: float


@dataclass(frozen=True, slots=True)
class PlanOption:
    """One simulated configuration: a variant on a machine type, priced and scaled one way.

    Replica counts are per minute over the horizon (min / mean / max); nodes
    likewise. ``speed_basis`` says whether the replica's latency was measured on
    this machine type or estimated (``speed_method``; ``confirm_by`` names the
    measurement that would confirm it). ``monthly_usd`` is the cost breakdown's
    total. ``spare_nodes`` are spot nodes kept beyond need so that a reclaim does
    not cut capacity below it. ``why_not`` is empty for the winner and otherwise
    says why this option lost to it. ``spot_types`` are the instance types its spot
    nodes diversify over (empty: one type); ``prerequisites`` what must be set for
    it to run as planned (a burstable machine's credit mode and HPA rule);
    ``replica`` what one pod needs (``ReplicaSpec``). ``replicas_min`` counts replicas
    ready (a reclaim takes it below the autoscaler's floor); ``replicas_floor`` the fewest
    the autoscaler asked for.
    """

    variant: str
    offer: Offer
    pricing: PlanPricing
    scaling: PlanScaling
    commitment: str
    accuracy: float | None
    latency_ms_p50: float
    latency_ms_p99: float
    speed_basis: Basis
    speed_method: str
    confirm_by: str
    pods_per_node: int
    replicas_min: int
    replicas_mean: float
    replicas_max: int
    nodes_mean: float
    nodes_max: int
    always_on_nodes: int
    spot_node_share: float
    interruptions_expected: float
    cost: CostBreakdown
    monthly_usd: float
    slo: SloResult
    why_not: str = ""
    spare_nodes: int = 0
    platform: Platform = "kubernetes"
    platform_service: str = ""
    cold_starts_expected: float = 0.0
    cold_start_ms: float = 0.0
    spot_risk: SpotRisk | None = None
    spot_types: tuple[str, ...] = ()
    prerequisites: tuple[str, ...] = ()
    replica: ReplicaSpec | None = None  # None in plans written before deploy existed
    replicas_floor: int | None = None  # the fewest the autoscaler asked for; None: older plan
    carbon: CarbonFootprint | None = None  # a month's; None: older plan, or no coefficients

    @property
    def kg_co2e_per_month(self) -> float | None:
        """The option's estimated kgCO2e a month; None where it was not estimated."""
        return None if self.carbon is None else self.carbon.kg_co2e

    @property
    def min_replicas(self) -> int:
        """The autoscaler's floor: the fewest replicas it asked for in any minute (0 where it
        scaled to zero). ``replicas_min`` counts replicas ready, which a spot reclaim takes
        below the floor; plans written before the floor was kept give only that."""
        return self.replicas_min if self.replicas_floor is None else self.replicas_floor

    @property
    def label(self) -> str:
        """One line: variant on machine (or function), pricing, scaling, platform."""
        where = f"{self.offer.provider} {self.offer.region}"
        if self.platform == "serverless":
            return f"{self.variant} on {self.platform_service} ({where}), per request"
        pricing: str = self.pricing
        if self.spot_types:
            pricing = f"{pricing} over {len(self.spot_types)} types ({', '.join(self.spot_types)})"
        return (
            f"{self.variant} on {self.offer.instance_type} ({where}), {pricing}, "
            f"{self.scaling}, {self.platform_service or self.platform}"
        )


@dataclass(frozen=True, slots=True)
class WaterfallBar:
    """One step of a savings waterfall: what changed, and the bill after it.

    ``monthly_usd`` is ``cost``'s total and ``saved_usd`` what it saves on the bar
    before (0 for the first). In a Plan ``cost`` is the bar's whole bill, platform,
    storage and transfer lines included, so no saving comes from what a bar leaves
    uncounted; the reference case study's bars carry compute lines only, and their
    ``cost.assumptions`` say so. ``option`` is the simulated configuration behind
    the bar (None for today's setup and for the case study's list-price arithmetic);
    ``basis`` says what the figure rests on.
    """

    label: str
    monthly_usd: float
    saved_usd: float
    option: PlanOption | None
    basis: str
    cost: CostBreakdown


def waterfall_reduction(bars: Sequence[WaterfallBar]) -> float:
    """Share of the first bar's bill that the last bar saves (0.932 = 93.2 %).

    Returns 0 for no bars or a first bar that costs nothing.
    """
    if not bars or bars[0].monthly_usd <= 0:
        return 0.0
    return 1.0 - bars[-1].monthly_usd / bars[0].monthly_usd


@dataclass(frozen=True, slots=True)
class SavingsPlanAdvice:
    """A commitment sized to the winner's always-on baseline, never to its peaks."""

    commitment: str
    nodes: int
    instance_type: str
    discount_fraction: float
    is_upper_bound: bool
    saved_usd_per_month: float
    source: str


@dataclass(frozen=True, slots=True)
class Plan:
    """The answer of ``mlcost plan``: the winner, how it was reached, and what else was weighed.

    ``is_estimated`` is True when the winner's speed rests on an estimate;
    ``confirm_by`` then names the measurement that would confirm it.
    ``usd_per_1k_predictions`` is the winner's monthly bill over a month's requests.
    ``platforms`` holds the best option of every platform weighed (the winner's
    included), each with its whole bill. ``sensitivity`` is the winner under
    changed assumptions (spot price, interruption rate, traffic, an on-demand
    base); ``price_notes`` how old the prices behind the winner are. The plan is
    ranked by dollars alone; ``carbon_notes`` say what its CO2e figures rest on and
    whether another region was cleaner at a similar cost (``cleaner``: those options).
    """

    workload: str
    horizon_days: int
    requests: float
    latency_ms: float
    latency_percentile: float
    accuracy_floor: float
    winner: PlanOption
    runners_up: tuple[PlanOption, ...]
    pareto: tuple[PlanOption, ...]
    waterfall: tuple[WaterfallBar, ...]
    savings_plan: SavingsPlanAdvice | None
    platforms: tuple[PlanOption, ...]
    is_estimated: bool
    confirm_by: str
    candidates_simulated: int
    candidates_meeting_slo: int
    search_s: float
    usd_per_1k_predictions: float
    excluded: tuple[str, ...] = ()
    sensitivity: tuple[SensitivityRow, ...] = ()
    price_notes: tuple[str, ...] = ()
    carbon_notes: tuple[str, ...] = ()
    cleaner: tuple[PlanOption, ...] = ()
