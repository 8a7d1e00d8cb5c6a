"""The report as a value: what its header says and every section in order, from the sources."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from mlcost.report._audit_section import audit_section
from mlcost.report._carbon_section import carbon_section
from mlcost.report._day import traffic_day_section
from mlcost.report._finops_sections import billing_section, plan_vs_actual_section
from mlcost.report._plan_sections import cost_per_1k_section, pareto_section, waterfall_section
from mlcost.report._prices import prices_section
from mlcost.report._section import Section, usd
from mlcost.report._sources import Sources

SectionFunction = Callable[[Sources], Section]
# The report's views in reading order: what the plan saves, where, how it scales, what
# happened since, what it emits, what the manifests waste (then the prices behind them all).
SECTIONS: tuple[SectionFunction, ...] = (
    waterfall_section,
    cost_per_1k_section,
    pareto_section,
    traffic_day_section,
    plan_vs_actual_section,
    billing_section,
    carbon_section,
    audit_section,
)


@dataclass(frozen=True, slots=True)
class Report:
    """The header lines and the sections. ``estimated`` is the warning a plan built on
    estimates carries at the top ("" when the winner's speed is measured); ``warnings``
    say how old the prices behind the winner are."""

    title: str
    summary: tuple[str, ...]
    estimated: str
    warnings: tuple[str, ...]
    sections: tuple[Section, ...]
    generated_at: datetime


def build_report(sources: Sources) -> Report:
    """Every section of ``SECTIONS`` drawn from ``sources``, then every price they rest on,
    under the plan's headline.

    Raises MissingDependencyError without matplotlib, and PlanError when the workload
    cannot be replayed.
    """
    drawn = tuple(section(sources) for section in SECTIONS)
    sections = (*drawn, prices_section(drawn, today=sources.generated_at.date()))
    plan = sources.plan
    when = f"{sources.generated_at:%Y-%m-%d %H:%M} UTC"
    if plan is None:
        return Report(
            "mlcost report",
            (f"generated {when} from the store; no plan yet: run mlcost plan workload.yaml",),
            "",
            (),
            sections,
            sources.generated_at,
        )
    winner = plan.winner
    summary = (
        f"{plan.requests / plan.horizon_days:,.0f} requests a day, p{plan.latency_percentile:g} "
        f"<= {plan.latency_ms:g} ms, accuracy >= {plan.accuracy_floor:.2%}; generated {when} "
        f"from the plan ({plan.candidates_simulated:,} candidates simulated per minute over "
        f"{plan.horizon_days} days) and the store",
        f"winner: {winner.label}: {usd(winner.monthly_usd)}/month, "
        f"{usd(plan.usd_per_1k_predictions)} per 1,000 predictions (estimated: a simulated month "
        f"on catalog prices; speed {winner.speed_basis})",
    )
    estimated = (
        f"ESTIMATED: the winner's speed on {winner.offer.instance_type} is estimated, not "
        f"measured: {winner.speed_method}. Confirm it: {plan.confirm_by}."
        if plan.is_estimated
        else ""
    )
    return Report(
        f"mlcost report: {plan.workload}",
        summary,
        estimated,
        plan.price_notes,
        sections,
        sources.generated_at,
    )
