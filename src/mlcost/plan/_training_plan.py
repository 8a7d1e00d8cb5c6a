"""A training workload priced from the catalog: the options, their Monte Carlo check, a pick.

The checkpoint interval is the one the train engine would really use: its auto policy
(CheckpointSchedule) takes Young/Daly for the measured write time and the job's MTBI
and caps it at 30 minutes, so a missed preemption notice never costs more than that.
On-demand runs under the same policy with no interruptions expected, which is the cap.
``checkpoint_interval_min`` in the workload forces one interval on every option, as the
engine's ``--checkpoint-every`` does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Final

from mlcost.catalog import INTERRUPTION_DATA, Catalog
from mlcost.core import MlcostError, Offer, PlanError, TrainingWorkload
from mlcost.cost import interruptions_per_hour, monthly_interruption_share, young_daly_interval_s
from mlcost.plan._training import (
    TrainingJob,
    TrainingOption,
    TrainingPricing,
    TrainingSimulation,
    plan_training,
    simulate_training,
)
from mlcost.train import CheckpointPolicy, CheckpointSchedule

MEETS_DEADLINE_PROBABILITY: Final = 0.95
NEAR_CHEAPEST_FRACTION: Final = 0.01  # costs this close count as a tie
MONTE_CARLO_RUNS: Final = 20_000
_SECONDS_PER_MINUTE: Final = 60.0


@dataclass(frozen=True, slots=True)
class TrainingCheck:
    """An option's Monte Carlo next to its expected values.

    ``wall_hours_gap_fraction`` is (Monte Carlo mean - expected) / expected wall time.
    The Monte Carlo uses another seed than the planner's, so for spot-with-fallback
    (itself a Monte Carlo) the gap is the sampling noise.
    """

    pricing: TrainingPricing
    simulation: TrainingSimulation
    wall_hours_gap_fraction: float


@dataclass(frozen=True, slots=True)
class TrainingPlan:
    """How to run a training workload: each option, its check, and the one to pick and why.

    ``offer`` carries the prices used, their source and date; ``job`` is the workload
    in wall hours (``gpus_per_node`` from the offer, 1 for a CPU-only node).
    """

    workload: TrainingWorkload
    offer: Offer
    gpus_per_node: int
    job: TrainingJob
    interruptions_per_node_hour: float
    interruption_rate_source: str
    checkpoint_interval_source: str
    options: tuple[TrainingOption, ...]
    checks: tuple[TrainingCheck, ...]
    recommended: TrainingOption
    recommendation_reason: str

    def check_for(self, pricing: TrainingPricing) -> TrainingCheck:
        """The Monte Carlo check of the option with ``pricing``; raises KeyError without one."""
        for check in self.checks:
            if check.pricing == pricing:
                return check
        raise KeyError(pricing)


def plan_training_workload(
    workload: TrainingWorkload,
    catalog: Catalog,
    *,
    runs: int = MONTE_CARLO_RUNS,
    seed: int = 0,
) -> TrainingPlan:
    """Returns the TrainingPlan of ``workload`` priced from ``catalog``.

    Options come from plan_training (``runs`` Monte Carlo runs seeded with ``seed``
    for deadlines and the fallback), each checked by simulate_training seeded with
    ``seed + 1``. Raises PlanError (one line, what to do) when the instance is not in
    the catalog for the region, has no spot price, has no interruption bucket and the
    workload gives no rate, or the job cannot be simulated.
    """
    spec = workload.training
    offer = _offer(catalog, workload)
    gpus_per_node = max(offer.accelerator_count, 1)
    work_hours = spec.work_hours
    if work_hours is None:
        assert spec.work_gpu_hours is not None  # the model requires one of the two
        work_hours = spec.work_gpu_hours / (spec.nodes * gpus_per_node)
    rate, rate_source = _interruption_rate(workload, offer)
    try:
        job = TrainingJob(
            work_hours=work_hours,
            nodes=spec.nodes,
            checkpoint_write_s=spec.checkpoint_write_s,
            restore_s=spec.restore_s,
            replacement_delay_s=spec.replacement_delay_s,
            deadline_hours=spec.deadline_hours,
        )
        options, interval_source = _options(workload, job, offer, rate, runs=runs, seed=seed)
        checks = tuple(_check(job, option, runs=runs, seed=seed + 1) for option in options)
    except MlcostError as exc:
        raise PlanError(f"cannot plan training workload {_name(workload)}: {exc}") from exc
    recommended, reason = recommend(options, job.deadline_hours)
    return TrainingPlan(
        workload=workload,
        offer=offer,
        gpus_per_node=gpus_per_node,
        job=job,
        interruptions_per_node_hour=rate,
        interruption_rate_source=rate_source,
        checkpoint_interval_source=interval_source,
        options=options,
        checks=checks,
        recommended=recommended,
        recommendation_reason=reason,
    )


def recommend(
    options: tuple[TrainingOption, ...], deadline_hours: float | None
) -> tuple[TrainingOption, str]:
    """Returns the option to pick and why.

    Without a deadline, the cheapest. With one, the cheapest of those that meet it with
    probability >= 0.95; among options within 1 % of that cost, the one most likely to
    meet it (spot-with-fallback, which meets every deadline on-demand meets, wins a
    near-tie with spot). When none reaches 0.95, the most likely to meet it, and of
    equally likely ones the fastest.
    """
    on_demand = next(option for option in options if option.pricing == "on-demand")
    if deadline_hours is None:
        best = min(options, key=lambda option: option.expected_cost_usd)
        return best, f"{best.pricing} is the cheapest{_saving(best, on_demand)}; no deadline"
    eligible = [option for option in options if _meets(option) >= MEETS_DEADLINE_PROBABILITY]
    if not eligible:
        best = max(options, key=lambda option: (_meets(option), -option.expected_wall_hours))
        return best, (
            f"no option meets the {deadline_hours:g} h deadline with probability >= "
            f"{MEETS_DEADLINE_PROBABILITY:g} (on-demand alone needs "
            f"{on_demand.expected_wall_hours:,.1f} h); {best.pricing} is the most likely "
            f"(P = {_meets(best):.3f}, {best.expected_wall_hours:,.1f} h expected): relax "
            "deadline_hours or add nodes"
        )
    cheapest = min(eligible, key=lambda option: option.expected_cost_usd)
    limit_usd = cheapest.expected_cost_usd * (1 + NEAR_CHEAPEST_FRACTION)
    near = [option for option in eligible if option.expected_cost_usd <= limit_usd]
    best = max(near, key=lambda option: (_meets(option), -option.expected_cost_usd))
    reason = (
        f"{best.pricing} is the cheapest way to meet the {deadline_hours:g} h deadline with "
        f"probability >= {MEETS_DEADLINE_PROBABILITY:g} (P = {_meets(best):.3f})"
        f"{_saving(best, on_demand)}"
    )
    if best is not cheapest:
        reason += (
            f"; within {NEAR_CHEAPEST_FRACTION:.0%} of {cheapest.pricing} "
            f"(${cheapest.expected_cost_usd:,.2f}, P = {_meets(cheapest):.3f}) and more "
            "likely to meet the deadline"
        )
    return best, reason


def _meets(option: TrainingOption) -> float:
    return option.probability_meets_deadline or 0.0


def _saving(option: TrainingOption, on_demand: TrainingOption) -> str:
    """ ": $123.45 expected, 58 % below on-demand ($290.00)" (or just the cost)."""
    text = f": ${option.expected_cost_usd:,.2f} expected"
    if option is on_demand or on_demand.expected_cost_usd <= 0:
        return text
    fraction = 1 - option.expected_cost_usd / on_demand.expected_cost_usd
    return f"{text}, {fraction:.0%} below on-demand (${on_demand.expected_cost_usd:,.2f})"


def _name(workload: TrainingWorkload) -> str:
    return workload.name or workload.training.instance_type


def _offer(catalog: Catalog, workload: TrainingWorkload) -> Offer:
    """The catalog offer of the workload's node, with a spot price."""
    spec = workload.training
    where = f"{spec.provider} {spec.region}"
    offer = catalog.offer(spec.instance_type, region=spec.region, provider=spec.provider)
    if offer is None:
        raise PlanError(
            f"{spec.instance_type} is not in the catalog for {where}; check "
            f"`mlcost catalog list --region {spec.region}` or import a price file with it"
        )
    if offer.spot_usd_per_hour is None:
        raise PlanError(
            f"{spec.instance_type} has no spot price in {where}, so spot cannot be planned; "
            "pick an instance type with one, or import a price file that has its spot price"
        )
    return offer


def _interruption_rate(workload: TrainingWorkload, offer: Offer) -> tuple[float, str]:
    """Interruptions per node-hour and where the number came from."""
    given = workload.training.interruptions_per_node_hour
    if given is not None:
        return given, "training.interruptions_per_node_hour in the workload"
    bucket = offer.interruption_bucket
    if bucket is None:
        raise PlanError(
            f"{offer.instance_type} in {offer.provider} {offer.region} has no spot "
            "interruption bucket in the catalog; set training.interruptions_per_node_hour "
            "(e.g. 0.0004 for about 25 % of nodes interrupted in a month)"
        )
    try:
        rate = interruptions_per_hour(bucket)
        share = monthly_interruption_share(bucket)
    except MlcostError as exc:
        raise PlanError(
            f"{offer.instance_type} in {offer.region}: {exc}; "
            "set training.interruptions_per_node_hour instead"
        ) from exc
    data = INTERRUPTION_DATA
    edge = (
        "no upper edge: deliberately pessimistic"
        if bucket.strip() == ">20%"
        else "the bucket's upper edge"
    )
    source = (
        f"AWS Spot Instance Advisor bucket {bucket} for {offer.instance_type} in {offer.region} "
        f"({data.window} as of {data.as_of.isoformat()}): p = {share:.0%} ({edge}) read as "
        "P(interrupted within 730 h), -ln(1 - p) / 730"
    )
    return rate, source


def _engine_interval(job: TrainingJob, rate_per_node_hour: float) -> tuple[float, str]:
    """The interval and description of the train engine's auto policy for this job.

    The engine's own schedule is asked, after one checkpoint write of the planned length,
    so the planner and the engine cannot drift apart (the 30-minute cap included).
    """
    policy = CheckpointPolicy(is_auto=True, interruptions_per_hour=rate_per_node_hour * job.nodes)
    schedule = CheckpointSchedule(policy, clock=lambda: 0.0)
    schedule.record_checkpoint(0, job.checkpoint_write_s)
    interval_s = schedule.interval_s
    assert interval_s is not None  # an auto policy always has one
    return interval_s, schedule.describe()


def _options(
    workload: TrainingWorkload,
    job: TrainingJob,
    offer: Offer,
    rate: float,
    *,
    runs: int,
    seed: int,
) -> tuple[tuple[TrainingOption, ...], str]:
    """plan_training's options at the intervals the engine would use, and where they came from."""
    on_demand_usd = offer.on_demand_usd_per_hour
    spot_usd = offer.spot_usd_per_hour
    assert spot_usd is not None  # _offer refuses an offer without one

    def options_at(plan_job: TrainingJob, interval_s: float) -> list[TrainingOption]:
        return plan_training(
            plan_job,
            on_demand_usd_per_node_hour=on_demand_usd,
            spot_usd_per_node_hour=spot_usd,
            interruptions_per_node_hour=rate,
            checkpoint_interval_s=interval_s,
            runs=runs,
            seed=seed,
        )

    forced_min = workload.training.checkpoint_interval_min
    if forced_min is not None:
        note = (
            f"checkpoint every {forced_min:g} min on every option "
            "(training.checkpoint_interval_min; the train engine's --checkpoint-every "
            f"{forced_min:g}m)"
        )
        options = options_at(job, forced_min * _SECONDS_PER_MINUTE)
        return tuple(_noted(option, note) for option in options), note
    spot_interval_s, spot_note = _engine_interval(job, rate)
    if rate > 0:
        optimum_s = young_daly_interval_s(job.checkpoint_write_s, 3600.0 / (job.nodes * rate))
        if optimum_s > spot_interval_s:
            spot_note += f"; uncapped Young/Daly {optimum_s:,.0f} s"
    on_demand_interval_s, on_demand_note = _engine_interval(job, 0.0)
    options = options_at(job, spot_interval_s)
    # On-demand under the same auto policy sees no interruptions: it checkpoints at the cap.
    on_demand = options_at(replace(job, deadline_hours=None), on_demand_interval_s)[0]
    if job.deadline_hours is not None:
        is_met = on_demand.expected_wall_hours <= job.deadline_hours
        on_demand = replace(on_demand, probability_meets_deadline=float(is_met))
    options[0] = on_demand
    notes = {"on-demand": on_demand_note}
    noted = tuple(
        _noted(option, f"train engine {notes.get(option.pricing, spot_note)}") for option in options
    )
    source = f"the train engine's auto policy: spot {spot_note}; on-demand {on_demand_note}"
    return noted, source


def _noted(option: TrainingOption, note: str) -> TrainingOption:
    return replace(option, method=f"{option.method}; interval: {note}")


def _check(job: TrainingJob, option: TrainingOption, *, runs: int, seed: int) -> TrainingCheck:
    simulation = simulate_training(job, option, runs=runs, seed=seed)
    expected = option.expected_wall_hours
    gap = (simulation.wall_hours_mean - expected) / expected if expected > 0 else math.nan
    return TrainingCheck(option.pricing, simulation, gap)
