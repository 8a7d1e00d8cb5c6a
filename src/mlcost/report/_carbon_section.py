"""Each option's kgCO2e a month beside its dollars, as the plan estimated them.

The plan is ranked by dollars alone; this view shows what each option weighed would emit,
the winner marked and the cleaner regions the plan pointed out (``Plan.cleaner``) among them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mlcost.core import CarbonFootprint, Plan, PlanOption
from mlcost.report._charts import COST, MUTED, axis_scale, draw
from mlcost.report._plan_sections import (
    hardware,
    plan_missing,
    requests_per_month,
    variant_colours,
    weighed_options,
)
from mlcost.report._section import Section, no_data, usd
from mlcost.report._sources import Sources

_GRID = "estimated: CO2e at each region's grid factor (an annual, location-based average)"


def carbon_section(sources: Sources) -> Section:
    """Dollars against kgCO2e a month for every option the plan estimated both for."""
    key, title = "carbon", "Carbon"
    plan = sources.plan
    if plan is None:
        return plan_missing(key, title)
    found = {o.label: o for o in (*weighed_options(plan), *plan.cleaner)}
    estimated = [(o, carbon) for o in found.values() if (carbon := o.carbon) is not None]
    if not estimated:
        why = f" ({plan.carbon_notes[0]})" if plan.carbon_notes else ""
        return no_data(
            key,
            title,
            f"the plan holds no carbon estimate per option{why}",
            "mlcost plan workload.yaml again with this mlcost",
        )
    estimated.sort(key=lambda pair: pair[1].kg_co2e)
    least, least_carbon = next(
        ((o, carbon) for o, carbon in estimated if o.slo.is_met), estimated[0]
    )
    winner = plan.winner
    if winner.carbon is None:
        takeaway = (
            "The winner's emissions were not estimated; the least-emitting option weighed that "
            f"meets the SLO, {least.variant} on {hardware(least)}, emits "
            f"{least_carbon.kg_co2e:,.2f} kgCO2e a month at {usd(least.monthly_usd)}."
        )
    else:
        cut = 1 - least_carbon.kg_co2e / winner.carbon.kg_co2e if winner.carbon.kg_co2e else 0.0
        takeaway = (
            f"The winner emits {winner.carbon.kg_co2e:,.2f} kgCO2e a month "
            f"({_grams_per_1k(plan, winner.carbon):,.3g} g per 1,000 predictions, "
            f"{winner.carbon.energy_kwh:,.1f} kWh at {winner.carbon.g_co2e_per_kwh:,.0f} "
            "gCO2e/kWh); "
            + (
                "no option weighed that meets the SLO emits less."
                if least.label == winner.label
                else f"the least-emitting option weighed that meets the SLO, {least.variant} on "
                f"{hardware(least)}, emits {cut:.0%} less at {usd(least.monthly_usd)} a month."
            )
        )
    rows = tuple(
        (
            option.label,
            usd(option.monthly_usd),
            f"{carbon.kg_co2e:,.2f}",
            f"{_grams_per_1k(plan, carbon):,.3g}",
            f"{carbon.energy_kwh:,.1f}",
            f"{carbon.g_co2e_per_kwh:,.0f}",
            carbon.basis,
        )
        for option, carbon in estimated
    )
    methods = dict.fromkeys(_labelled(carbon) for _, carbon in estimated)
    inputs = dict.fromkeys(line for _, carbon in estimated for line in carbon.inputs)
    return Section(
        key,
        title,
        takeaway,
        draw(key, (8.0, 4.0), lambda figure: _paint(figure, plan, estimated)),
        (
            "option",
            "$/month",
            "kgCO2e/month",
            "g per 1,000 predictions",
            "kWh/month",
            "grid gCO2e/kWh",
            "energy",
        ),
        rows,
        basis=(*methods, _GRID),
        notes=(*plan.carbon_notes, *inputs),
    )


def _paint(
    figure: Any, plan: Plan, estimated: Sequence[tuple[PlanOption, CarbonFootprint]]
) -> None:
    """An option a dot, dollars across and kgCO2e up; the winner ringed, cleaner ones marked."""
    axes = figure.subplots()
    colours = variant_colours([option for option, _ in estimated])
    cleaner = {option.label for option in plan.cleaner}
    for option, carbon in estimated:
        axes.scatter(
            option.monthly_usd,
            carbon.kg_co2e,
            color=colours[option.variant],
            marker="D" if option.label in cleaner else "o",
            s=30,
        )
    if plan.winner.carbon is not None:
        axes.scatter(
            plan.winner.monthly_usd,
            plan.winner.carbon.kg_co2e,
            s=160,
            facecolors="none",
            edgecolors=COST,
            linewidths=2,
            label="winner",
        )
    for variant, colour in colours.items():
        axes.scatter([], [], color=colour, label=variant)
    if cleaner:
        axes.scatter([], [], color=MUTED, marker="D", label="cleaner region, similar cost")
    costs = [option.monthly_usd for option, _ in estimated]
    emissions = [carbon.kg_co2e for _, carbon in estimated]
    axes.set_xscale(axis_scale(min(costs), max(costs)))
    axes.set_yscale(axis_scale(min(emissions), max(emissions)))
    axes.set_xlabel("$ per month (simulated)")
    axes.set_ylabel("kgCO2e per month (estimated)")
    axes.grid()
    axes.legend(loc="upper left", fontsize=8)


def _grams_per_1k(plan: Plan, carbon: CarbonFootprint) -> float:
    """Grams of CO2e per 1,000 predictions: a month's kg over a month's requests."""
    requests = requests_per_month(plan)
    return carbon.kg_co2e * 1e6 / requests if requests else 0.0


def _labelled(carbon: CarbonFootprint) -> str:
    """The footprint's method as a basis line, "measured: ..." or "estimated: ..."."""
    prefix = f"{carbon.basis}: "
    return carbon.method if carbon.method.startswith(prefix) else prefix + carbon.method
