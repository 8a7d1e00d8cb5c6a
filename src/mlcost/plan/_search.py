"""The search: every variant within the accuracy floor x every allowed offer x pricing x scaling
x platform, and every variant in a serverless function.

Each candidate's month is simulated per minute (``simulate_fleet``: the HPA, pod
start-up, node provisioning, bin-packing, spot interruptions) and screened against
the SLO in microseconds: a minute is over the SLO exactly when its arrivals exceed
what its ready replicas can take at the SLO (``max_arrivals_per_s``, the M/G/c model
solved once per replica speed). Candidates are ranked by monthly cost; the cheapest
ones, the Pareto front and the waterfall's steps are then checked with the full
latency model, which also counts the requests slower than the SLO.

A simulated fleet is priced once per allowed platform (managed Kubernetes or a VM
group: the same nodes, other lines around them, ``plan/_platform_pricer.py``); serverless
candidates are simulated apart (``plan/_serverless.py``) and carry their SLO result.
Commitments are searched only for the terms ``constraints.commitments`` allows.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

from mlcost.catalog import Catalog, matches_accelerator
from mlcost.core import (
    CostBreakdown,
    Offer,
    PlanError,
    PlanPricing,
    PlanScaling,
    Platform,
    Profile,
    SloResult,
    Variant,
    Workload,
    paired_drop_ci,
)
from mlcost.cost import HOURS_PER_MONTH, interruptions_per_hour
from mlcost.plan._bill import BillSettings, Compute, FixedCosts, bill, month_factor
from mlcost.plan._credits import CreditRun, fleet_credits, fleet_prerequisites, surplus_line
from mlcost.plan._estimate import Unfit
from mlcost.plan._fleet import (
    DEFAULT_SPOT_INTERRUPTION_BUCKET,
    ON_DEMAND_ONLY,
    FleetRun,
    ScalingPolicy,
    SpotPolicy,
    simulate_fleet,
)
from mlcost.plan._platform_pricer import Platforms
from mlcost.plan._serverless import FunctionOption, function_options
from mlcost.plan._speeds import CapacityTables, Speed, least_replicas, speed_on
from mlcost.plan._spot_pools import diversified, spread_over_zones
from mlcost.plan._traffic import arrivals_per_minute

FloatArray = npt.NDArray[np.float64]
# (pricing, scaling, spot policy, commitment name, commitment $/h): one way to buy a fleet.
Choice = tuple[PlanPricing, PlanScaling, SpotPolicy, str, float]


@dataclass(frozen=True, slots=True)
class SearchSettings:
    """Knobs of the search; the defaults are Kubernetes' and the cluster autoscaler's.

    ``allowed_minute_share`` is the share of minutes whose percentile latency may
    exceed the SLO (0.001: 43 minutes a month) before a candidate fails it. A spot pool is taken to be short of capacity for replacements as
    often as it reclaims instances (the bucket's monthly share), and a replacement
    that finds it short runs on-demand for ``fallback_hours``. Spot nodes spread
    over ``spot_zones`` zones, each a pool reclaimed whole, and a spot fleet is also tried
    diversified over up to ``spot_types`` instance types (``_spot_pools``); a spot option is
    confirmed on ``risk_seeds`` months of reclaims (its 95th percentile month).
    """

    target_utilisation: float = 0.6
    scale_down_window_min: int = 5
    pod_start_min: int = 1
    node_provisioning_min: int = 2
    node_scale_down_min: int = 10
    allowed_minute_share: float = 0.001
    fallback_hours: float = 1.0
    seed: int = 0
    risk_seeds: int = 32
    spot_zones: int = 2
    spot_types: int = 3
    bill: BillSettings = field(default_factory=BillSettings)

    def scaling(
        self,
        *,
        is_autoscaled: bool,
        min_replicas: int,
        max_replicas: int,
        target_utilisation: float | None = None,
    ) -> ScalingPolicy:
        """The autoscaler the search simulates, between these bounds, with these timings."""
        return ScalingPolicy(
            is_autoscaled=is_autoscaled,
            min_replicas=min_replicas,
            max_replicas=max_replicas,
            target_utilisation=(
                self.target_utilisation if target_utilisation is None else target_utilisation
            ),
            scale_down_window_min=self.scale_down_window_min,
            pod_start_min=self.pod_start_min,
            node_provisioning_min=self.node_provisioning_min,
            node_scale_down_min=self.node_scale_down_min,
        )


@dataclass(frozen=True, slots=True)
class Candidate:
    """One simulated configuration, screened against the SLO."""

    speed: Speed
    pricing: PlanPricing
    scaling: PlanScaling
    commitment: str
    run: FleetRun
    cost: CostBreakdown
    minutes_over_slo: int
    is_screened_in: bool
    spare_nodes: int = 0
    platform: Platform = "kubernetes"
    platform_service: str = ""
    slo: SloResult | None = None  # known up front for serverless candidates
    cold_starts: float = 0.0
    cold_start_ms: float = 0.0
    choice: Choice | None = None  # how it was simulated, to simulate it again
    credits: CreditRun | None = None  # a burstable fleet's CPU credits
    spot_types: tuple[str, ...] = ()  # instance types its spot nodes diversify over
    prerequisites: tuple[str, ...] = ()  # what must be set to run as simulated

    @property
    def monthly_usd(self) -> float:
        return self.cost.total_usd_per_month


@dataclass(frozen=True, slots=True)
class Search:
    """Everything the search found: speeds, candidates, what was left out and why."""

    workload: Workload
    arrivals_per_s: FloatArray
    requests_per_month: float  # the horizon's requests scaled to a 730-hour month
    accuracy_floor: float
    speeds: tuple[Speed, ...]
    candidates: tuple[Candidate, ...]
    excluded: tuple[str, ...]
    unfit: tuple[Unfit, ...]
    allowed_minutes: int
    seconds: float
    platforms: Platforms
    settings: SearchSettings


def run_search(
    workload: Workload,
    *,
    variants: Sequence[Variant],
    profiles: Mapping[str, Sequence[Profile]],
    catalog: Catalog,
    baseline: str,
    flops: Mapping[str, float] | None = None,
    settings: SearchSettings | None = None,
) -> Search:
    """Simulate every candidate for ``workload``; raises PlanError when nothing can be tried."""
    settings = settings or SearchSettings()
    started = time.perf_counter()
    counts = arrivals_per_minute(workload.traffic, horizon_days=workload.horizon_days)
    arrivals = np.asarray(counts, dtype=np.float64) / 60.0
    floor, excluded, kept = _accuracy_floor(workload, variants, profiles, baseline)
    offers = [
        spread_over_zones(o, catalog, settings.spot_zones)
        for o in _allowed_offers(workload, catalog)
    ]
    requests_per_month = float(arrivals.sum() * 60.0) * month_factor(workload.horizon_days)
    speeds: list[Speed] = []
    unfit: list[Unfit] = []
    tables = CapacityTables(workload, float(arrivals.max()))
    for variant, accuracy, variant_profiles in kept:
        for offer in offers:
            speed = speed_on(
                workload,
                variant,
                accuracy,
                variant_profiles,
                offer,
                arrivals,
                requests_per_month,
                catalog,
                (flops or {}).get(variant.name),
                tables,
                settings.target_utilisation,
                settings.bill,
            )
            if isinstance(speed, Unfit):
                unfit.append(speed)
            else:
                speeds.append(speed)
    allowed = math.floor(settings.allowed_minute_share * arrivals.size)
    platforms = Platforms(workload, catalog, arrivals, requests_per_month)
    candidates = [
        candidate
        for speed in speeds
        for pricing in _pricings(speed, workload, catalog, settings)
        for candidate in platforms.priced(
            simulate(speed, pricing, arrivals, workload, catalog, allowed, settings),
            variant_bytes=speed.variant.size_bytes,
        )
    ]
    for speed, types in diversified(speeds, settings.spot_types):
        for pricing in _pricings(speed, workload, catalog, settings, spot_types=len(types)):
            simulated = simulate(speed, pricing, arrivals, workload, catalog, allowed, settings)
            candidates.extend(
                platforms.priced(
                    replace(simulated, spot_types=types), variant_bytes=speed.variant.size_bytes
                )
            )
    if "serverless" in workload.platform.allowed:
        regions = _regions(offers)
        for variant, accuracy, variant_profiles in kept:
            for function in function_options(
                workload,
                variant,
                accuracy,
                variant_profiles[-1],
                arrivals_per_s=arrivals,
                requests_per_month=requests_per_month,
                regions=regions,
                catalog=catalog,
                allowed_minutes=allowed,
                bill_settings=settings.bill,
            ):
                candidates.append(_serverless_candidate(function))
    return Search(
        workload,
        arrivals,
        requests_per_month,
        floor,
        tuple(speeds),
        tuple(candidates),
        tuple(excluded),
        tuple(unfit),
        allowed,
        time.perf_counter() - started,
        platforms,
        settings,
    )


def _accuracy_floor(
    workload: Workload,
    variants: Sequence[Variant],
    profiles: Mapping[str, Sequence[Profile]],
    baseline: str,
) -> tuple[float, list[str], list[tuple[Variant, float | None, Sequence[Profile]]]]:
    base_profiles = profiles.get(baseline, ())
    base_accuracy = next((p.accuracy for p in reversed(base_profiles) if p.accuracy), None)
    if base_accuracy is None and workload.slo.accuracy_floor is None:
        raise PlanError(
            f"no measured accuracy for the baseline {baseline!r}, so the accuracy floor "
            "'points below the baseline' has nothing to count from; run mlcost profile measure, "
            "or give slo.accuracy_floor"
        )
    floor = workload.slo.accuracy_floor_for(base_accuracy or 0.0)
    excluded: list[str] = []
    kept: list[tuple[Variant, float | None, Sequence[Profile]]] = []
    for variant in variants:
        own = profiles.get(variant.name, ())
        if not own:
            excluded.append(
                f"{variant.name}: no profile of its current build; run mlcost profile measure {variant.name}"
            )
            continue
        accuracy = own[-1].accuracy
        if accuracy is None or accuracy < floor:
            shown = "unmeasured" if accuracy is None else f"{accuracy:.2%}"
            excluded.append(f"{variant.name}: accuracy {shown} is below the floor {floor:.2%}")
            continue
        doubt = _drop_in_doubt(workload, own[-1])
        if doubt:
            excluded.append(f"{variant.name}: {doubt}")
            continue
        kept.append((variant, accuracy, own))
    if not kept:
        best = max((p[-1].accuracy or 0.0 for p in profiles.values() if p), default=0.0)
        raise PlanError(
            f"binding constraint: the accuracy floor {floor:.2%}: no variant reaches it "
            f"(best {best:.2%}); lower slo.accuracy_floor or slo.max_accuracy_drop_points"
        )
    return floor, excluded, kept


def _drop_in_doubt(workload: Workload, profile: Profile) -> str:
    """Why a variant within a points-below-the-baseline floor on its point estimate is not shown
    to be (the paired drop's 95 % interval reaches past the points allowed); '' when it is, or
    when the floor is absolute or the profile has no paired counts."""
    allowed = workload.slo.allowed_drop_points
    if allowed is None or profile.discordant is None:
        return ""
    _, high = paired_drop_ci(*profile.discordant, profile.test_samples)
    if high <= allowed:
        return ""
    return (
        f"its accuracy drop's 95 % interval reaches {high:.2f} pt on {profile.test_samples:,} "
        f"test rows, past the {allowed:g} pt allowed (not shown within it)"
    )


def _allowed_offers(workload: Workload, catalog: Catalog) -> list[Offer]:
    rules = workload.constraints
    chosen = []
    for offer in catalog.offers:
        if offer.provider not in rules.providers:
            continue
        if rules.regions and offer.region not in rules.regions:
            continue
        if rules.accelerators and not _accelerator_allowed(offer, rules.accelerators):
            continue
        chosen.append(offer)
    if not chosen:
        raise PlanError(
            "binding constraint: no catalog offer is in the allowed providers "
            f"({', '.join(rules.providers)}), regions ({', '.join(rules.regions) or 'any'}) "
            f"and accelerators ({', '.join(rules.accelerators) or 'any'}); widen "
            "constraints.regions or constraints.accelerators, or import prices with mlcost catalog import"
        )
    return chosen


def _accelerator_allowed(offer: Offer, allowed: Sequence[str]) -> bool:
    if not offer.has_accelerator:
        return "cpu" in allowed
    return any(
        name != "cpu" and matches_accelerator(name, offer.accelerator_name) for name in allowed
    )


def _pricings(
    speed: Speed,
    workload: Workload,
    catalog: Catalog,
    settings: SearchSettings,
    *,
    spot_types: int = 1,
) -> Iterator[Choice]:
    """Every (pricing, scaling, spot policy, commitment name, commitment $/h) to simulate; a
    fleet diversified over ``spot_types`` > 1 instance types only its spot choices."""
    offer = speed.offer
    share = workload.constraints.max_spot_share
    base_nodes = math.ceil(least_replicas(workload.constraints) / speed.pods_per_node)
    has_spot = offer.spot_usd_per_hour is not None and share > 0
    rate = interruptions_per_hour(offer.interruption_bucket or DEFAULT_SPOT_INTERRUPTION_BUCKET)

    def on_spot(on_demand_base_nodes: int) -> SpotPolicy:
        return SpotPolicy(
            on_demand_base_nodes,
            share,
            rate,
            fallback_share=_fallback_share(rate),
            fallback_hours=settings.fallback_hours,
            pools=settings.spot_zones * spot_types,
        )

    all_spot_base = 0 if share >= 1.0 else base_nodes
    scalings: tuple[PlanScaling, ...] = ("fixed", "autoscaled")
    only_spot = spot_types > 1
    for scaling in scalings:
        if not only_spot:
            yield "on-demand", scaling, ON_DEMAND_ONLY, "", 0.0
        if has_spot:
            yield "spot", scaling, on_spot(all_spot_base), "", 0.0
            if all_spot_base == 0:  # an on-demand base for min_replicas, the rest spot
                yield "mixed", scaling, on_spot(base_nodes), "", 0.0
        if only_spot:
            continue
        for commitment in catalog.commitments_for(offer):
            if commitment.is_upper_bound:
                continue  # an "up to N %" figure is not a rate to plan on
            if f"{commitment.term_years}y" not in workload.constraints.commitments:
                continue  # a term binds the user: only those the workload allows
            price = offer.on_demand_usd_per_hour * (1.0 - commitment.discount_fraction)
            name = f"{commitment.name} {commitment.term_years}y"
            yield "savings", scaling, ON_DEMAND_ONLY, name, price


def _fallback_share(rate_per_node_hour: float) -> float:
    """Share of replacements that find spot short: the pool's monthly reclaim share."""
    return 1.0 - math.exp(-rate_per_node_hour * HOURS_PER_MONTH)


def simulate(
    speed: Speed,
    pricing: Choice,
    arrivals: FloatArray,
    workload: Workload,
    catalog: Catalog,
    allowed_minutes: int,
    settings: SearchSettings,
) -> Candidate:
    kind, scaling, spot, commitment, committed_price = pricing
    is_autoscaled = scaling == "autoscaled"
    rules = workload.constraints
    policy = settings.scaling(
        is_autoscaled=is_autoscaled,
        min_replicas=least_replicas(rules) if is_autoscaled else speed.fixed_replicas,
        max_replicas=speed.max_replicas if is_autoscaled else speed.fixed_replicas,
    )

    def month(policy_spot: SpotPolicy) -> tuple[FleetRun, int, CreditRun | None]:
        run = simulate_fleet(
            arrivals,
            mean_service_s=speed.service.mean_s,
            pods_per_node=speed.pods_per_node,
            scaling=policy,
            spot=policy_spot,
            seed=settings.seed,
        )
        ready = np.minimum(run.ready_replicas, len(speed.capacity_per_s) - 1)
        slow = arrivals > speed.capacity_per_s[ready]
        credits = fleet_credits(speed, run, arrivals, workload)
        if credits is not None:
            slow |= credits.throttled
        return run, int(np.count_nonzero(slow)), credits

    run, over, credits = month(spot)
    if kind in ("spot", "mixed") and over > allowed_minutes:
        # Reclaims cut capacity below need: spare spot nodes may absorb them. A pool goes
        # whole, so the spare may need to cover the largest pool: 1, 2, 4, ... spare nodes,
        # up to the fleet's own peak.
        count = 1
        while count <= max(1, run.peak_nodes):
            spare = replace(spot, overprovision_nodes=count)
            spared_run, spared_over, spared_credits = month(spare)
            if spared_over <= allowed_minutes:
                run, over, spot, credits = spared_run, spared_over, spare, spared_credits
                break
            count *= 2
    offer = speed.offer
    committed_hours = 0.0
    on_demand_hours = run.on_demand_node_hours
    if kind == "savings":
        committed_hours = run.always_on_nodes * arrivals.size / 60.0
        on_demand_hours = max(0.0, on_demand_hours - committed_hours)
    compute = Compute(
        offer,
        on_demand_node_hours=on_demand_hours,
        spot_node_hours=run.spot_node_hours,
        committed_node_hours=committed_hours,
        committed_usd_per_hour=committed_price,
        commitment=commitment,
    )
    cost = bill(compute, speed.fixed, horizon_days=workload.horizon_days)
    prerequisites: tuple[str, ...] = ()
    if credits is not None:
        cost = cost.with_lines((surplus_line(speed, credits, workload, catalog),))
        prerequisites = fleet_prerequisites(
            speed, credits, workload, target_utilisation=settings.target_utilisation
        )
    return Candidate(
        speed,
        kind,
        scaling,
        commitment,
        run,
        cost,
        over,
        over <= allowed_minutes,
        spot.overprovision_nodes,
        choice=pricing,
        credits=credits,
        prerequisites=prerequisites,
    )


def _regions(offers: Sequence[Offer]) -> dict[str, tuple[str, ...]]:
    """The regions the plan may use, by provider (in catalog order)."""
    found: dict[str, dict[str, None]] = {}
    for offer in offers:
        found.setdefault(offer.provider, {})[offer.region] = None
    return {provider: tuple(regions) for provider, regions in found.items()}


def _serverless_candidate(function: FunctionOption) -> Candidate:
    speed = Speed(
        function.variant,
        function.accuracy,
        function.offer,
        function.replica,
        function.service,
        np.zeros(1),
        1,
        0,
        int(function.run.desired_replicas.max()),
        FixedCosts((), None, 0.0, ()),
    )
    return Candidate(
        speed,
        "on-demand",
        "autoscaled",
        "",
        function.run,
        function.cost,
        function.slo.minutes_over_slo,
        function.slo.is_met,
        platform="serverless",
        platform_service=function.service_name,
        slo=function.slo,
        cold_starts=function.cold_starts,
        cold_start_ms=function.cold_start_ms,
    )
