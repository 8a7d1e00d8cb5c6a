"""A TrainingPlan as a Rich report or as JSON, for `mlcost plan` on a training workload."""

from __future__ import annotations

import math
from typing import Any

from rich.console import Console
from rich.table import Table

from mlcost.cli._context import short_sources, usd
from mlcost.core import Offer, to_jsonable
from mlcost.plan import TrainingOption
from mlcost.plan._training_plan import TrainingCheck, TrainingPlan

ESTIMATED = (
    "estimated: Daly (2006) expected values on list prices and a Monte Carlo of the same "
    "process; not a measurement"
)
_NUMERIC_COLUMNS = (
    "wall h",
    "lost work h",
    "interruptions",
    "node-h",
    "$ expected",
    "P(deadline)",
    "MC wall h",
    "MC gap %",
)


def render_training_plan(plan: TrainingPlan, console: Console) -> None:
    """Print ``plan`` to ``console``: what was planned, the options table, the pick and why."""
    for line in _header(plan):
        console.print(line, highlight=False)
    console.print(_options_table(plan))
    console.print(
        f"[bold]Recommended: {plan.recommended.pricing}[/bold] (estimated): "
        f"{plan.recommendation_reason}",
        highlight=False,
    )
    for option in plan.options:
        method = option.method.removeprefix(f"{option.pricing}: ")
        console.print(f"[dim]{option.pricing}: {method}[/dim]", highlight=False)
        if option.fallback_probability is not None:
            console.print(
                f"[dim]{option.pricing}: moved to on-demand in "
                f"{option.fallback_probability:.1%} of runs[/dim]",
                highlight=False,
            )


def training_plan_json(plan: TrainingPlan) -> dict[str, Any]:
    """``plan`` as plain JSON values (no infinities: "no checkpoints" is null)."""
    job = plan.job
    return {
        "kind": "training",
        "name": plan.workload.name,
        "workload": plan.workload.model_dump(mode="json"),
        "offer": _finite(to_jsonable(plan.offer)),
        "gpus_per_node": plan.gpus_per_node,
        "work_hours": job.work_hours,
        "nodes": job.nodes,
        "deadline_hours": job.deadline_hours,
        "interruptions_per_node_hour": plan.interruptions_per_node_hour,
        "interruption_rate_source": plan.interruption_rate_source,
        "checkpoint_interval_source": plan.checkpoint_interval_source,
        "options": [
            _option_json(option, plan.check_for(option.pricing)) for option in plan.options
        ],
        "recommended": plan.recommended.pricing,
        "recommendation_reason": plan.recommendation_reason,
    }


def _header(plan: TrainingPlan) -> list[str]:
    spec, job, offer = plan.workload.training, plan.job, plan.offer
    title = plan.workload.name or spec.instance_type
    accelerator = (
        f" ({offer.accelerator_count} x {offer.accelerator_name} each)"
        if offer.has_accelerator
        else " (no GPU: 1 per node counted)"
    )
    if spec.work_gpu_hours is not None:
        gpus = job.nodes * plan.gpus_per_node
        work = f"{spec.work_gpu_hours:,g} GPU-hours / {gpus} GPUs = {job.work_hours:,.2f} h"
    else:
        work = f"{job.work_hours:,.2f} h on all nodes"
    deadline = "no deadline" if job.deadline_hours is None else f"deadline {job.deadline_hours:g} h"
    return [
        f"[bold]Training plan: {title}[/bold]: {job.nodes} x {offer.instance_type}{accelerator} "
        f"in {offer.provider} {offer.region}; work: {work}; {deadline}",
        f"Checkpoint write {job.checkpoint_write_s:g} s, restore {job.restore_s:g} s, "
        f"replacement delay {job.replacement_delay_s:g} s",
        f"Prices per node: {_prices(offer)}",
        f"Interruptions: {plan.interruptions_per_node_hour:.3g} per node-hour, "
        f"from {plan.interruption_rate_source}",
        f"Checkpoint interval: {plan.checkpoint_interval_source}",
    ]


def _prices(offer: Offer) -> str:
    spot = "-" if offer.spot_usd_per_hour is None else f"{usd(offer.spot_usd_per_hour)}/h"
    as_of = f"as of {offer.as_of.isoformat()}" if offer.as_of else "date not given"
    spot_seen = (
        f"spot seen {offer.spot_seen_on.isoformat()}" if offer.spot_seen_on else "spot date unknown"
    )
    return (
        f"on-demand {usd(offer.on_demand_usd_per_hour)}/h, spot {spot} "
        f"({offer.origin} catalog, {as_of}, {spot_seen}; {short_sources(offer.source)})"
    )


def _options_table(plan: TrainingPlan) -> Table:
    runs = plan.checks[0].simulation.runs if plan.checks else 0
    result = Table(
        title="Training options (estimated)",
        caption=f"{ESTIMATED}. MC: Monte Carlo of {runs:,} runs; gap = MC / expected wall - 1.",
        caption_justify="left",
    )
    result.add_column("pricing")
    result.add_column("checkpoint every")
    for column in _NUMERIC_COLUMNS:
        result.add_column(column, justify="right")
    for option in plan.options:
        result.add_row(*_row(option, plan.check_for(option.pricing)))
    return result


def _row(option: TrainingOption, check: TrainingCheck) -> list[str]:
    meets = option.probability_meets_deadline
    return [
        option.pricing,
        _interval(option.checkpoint_interval_s),
        f"{option.expected_wall_hours:,.2f}",
        f"{option.expected_lost_work_hours:,.3f}",
        f"{option.expected_interruptions:,.3f}",
        f"{option.expected_node_hours:,.2f}",
        usd(option.expected_cost_usd, 2),
        "-" if meets is None else f"{meets:.3f}",
        f"{check.simulation.wall_hours_mean:,.2f}",
        f"{check.wall_hours_gap_fraction:+.2%}",
    ]


def _interval(seconds: float) -> str:
    if math.isinf(seconds):
        return "never"
    if seconds >= 60:
        return f"{seconds / 60:,.1f} min"
    return f"{seconds:,.0f} s"


def _option_json(option: TrainingOption, check: TrainingCheck) -> dict[str, Any]:
    simulation = check.simulation
    result: dict[str, Any] = _finite(
        {
            "pricing": option.pricing,
            "checkpoint_interval_s": option.checkpoint_interval_s,
            "expected_wall_hours": option.expected_wall_hours,
            "expected_lost_work_hours": option.expected_lost_work_hours,
            "expected_interruptions": option.expected_interruptions,
            "expected_node_hours": option.expected_node_hours,
            "expected_on_demand_node_hours": option.expected_on_demand_node_hours,
            "expected_cost_usd": option.expected_cost_usd,
            "probability_meets_deadline": option.probability_meets_deadline,
            "fallback_probability": option.fallback_probability,
            "method": option.method,
            "basis": option.basis,
            "monte_carlo": {
                "runs": simulation.runs,
                "seed": simulation.seed,
                "wall_hours_mean": simulation.wall_hours_mean,
                "wall_hours_stderr": simulation.wall_hours_stderr,
                "wall_hours_p50": simulation.wall_hours_p50,
                "wall_hours_p95": simulation.wall_hours_p95,
                "cost_usd_mean": simulation.cost_usd_mean,
                "probability_meets_deadline": simulation.probability_meets_deadline,
                "wall_hours_gap_fraction": check.wall_hours_gap_fraction,
            },
        }
    )
    return result


def _finite(value: Any) -> Any:
    """``value`` with every infinite or NaN float replaced by None (JSON has neither)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value
