"""The terminal report of a serving Plan: estimate warning, winner, waterfall, runners-up.

Money ranks the options; each shows its month's kgCO2e beside its dollars.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from mlcost.cli._context import table, usd
from mlcost.cli._waterfall_table import waterfall_table
from mlcost.core import CostBreakdown, Plan, PlanOption


def _pricing(option: PlanOption) -> str:
    return option.commitment or option.pricing


def _kg_co2e(option: PlanOption) -> str:
    kg = option.kg_co2e_per_month
    return "-" if kg is None else f"{kg:,.2f}"


def _speed(option: PlanOption) -> str:
    return f"{option.latency_ms_p50:.1f} / {option.latency_ms_p99:.1f} ms {option.speed_basis}"


def bill_table(title: str, cost: CostBreakdown) -> Table:
    """A bill as the provider would print it: each line quantity x unit price, source and date."""
    rows = []
    for line in cost.lines:
        charged = usd(line.usd_per_month, 2) if line.is_charged else "shared"
        rows.append(
            [
                line.category,
                line.item,
                f"{line.quantity:,.2f} {line.unit}",
                f"${line.usd_per_unit:,.6g}",
                charged,
                str(line.as_of) if line.as_of else "undated",
                _short(line.source),
                line.note,
            ]
        )
    rows.append(["", "total", "", "", usd(cost.total_usd_per_month, 2), "", "", ""])
    return table(
        title,
        ["category", "line", "quantity", "$ per unit", "$/month", "price date", "source", "note"],
        rows,
    )


def _print_prerequisites(option: PlanOption, console: Console) -> None:
    """What must be set for ``option`` to run as planned, one line each."""
    for line in option.prerequisites:
        console.print(f"  [bold]prerequisite[/]: {line}", highlight=False)


def _print_risk(option: PlanOption, console: Console) -> None:
    risk = option.spot_risk
    if risk is None:
        return
    console.print(
        f"  spot risk over {risk.seeds} simulated months: ${risk.monthly_usd_mean:,.2f} mean, "
        f"${risk.monthly_usd_p95:,.2f} P95; minutes over the SLO {risk.minutes_over_slo_mean:.1f} "
        f"mean, {risk.minutes_over_slo_p95:.0f} P95; {risk.reclaims_mean:.2f} nodes reclaimed a "
        f"month (P95 {risk.reclaims_p95:.0f}); worst single reclaim {risk.worst_reclaim_nodes} "
        f"node(s) at once, leaving {risk.worst_ready_replicas} ready replica(s); "
        f"{risk.interruptions_per_node_hour:.5f} reclaims per node-hour ({risk.interruption_basis})",
        highlight=False,
    )


def _short(source: str) -> str:
    """The first source of a price, cut to a readable length."""
    first = source.split(" | ")[0].split(" ; ")[0]
    return first if len(first) <= 60 else first[:57] + "..."


def _carbon_line(option: PlanOption) -> str:
    """The option's month in energy and CO2e, or why there is no figure; ends in a newline."""
    carbon = option.carbon
    if carbon is None:
        return "  energy / CO2e: not estimated\n"
    return (
        f"  {carbon.kg_co2e:,.2f} kgCO2e/month ({carbon.energy_kwh:,.1f} kWh at "
        f"{carbon.g_co2e_per_kwh:.0f} gCO2e/kWh, {carbon.basis})\n"
    )


def render_plan(plan: Plan, console: Console) -> None:
    """Print ``plan`` for a person: what to run, what it costs, how we got there."""
    winner = plan.winner
    if plan.is_estimated:
        console.print(
            "[bold yellow]ESTIMATED[/]: the winner's speed on "
            f"{winner.offer.instance_type} is estimated, not measured: {winner.speed_method}. "
            f"Confirm it: {plan.confirm_by}.",
            highlight=False,
        )
    slo = winner.slo
    console.print(
        f"\n[bold]plan for {plan.workload}[/]: {plan.requests / plan.horizon_days:,.0f} requests/day "
        f"over {plan.horizon_days} days, p{plan.latency_percentile:g} <= {plan.latency_ms:g} ms, "
        f"accuracy >= {plan.accuracy_floor:.2%}",
        highlight=False,
    )
    cost = winner.cost
    serverless = winner.platform == "serverless"
    fleet = (
        f"  concurrent instances {winner.replicas_min}-{winner.replicas_max} (mean "
        f"{winner.replicas_mean:.2f}), {winner.cold_starts_expected:,.0f} cold starts a month of "
        f"{winner.cold_start_ms / 1000:.2f} s each (estimated)\n"
        if serverless
        else f"  replicas {winner.replicas_min}-{winner.replicas_max} (mean {winner.replicas_mean:.1f}), "
        f"{winner.pods_per_node} per node, nodes mean {winner.nodes_mean:.2f} (max {winner.nodes_max}), "
        f"{winner.spot_node_share:.0%} of node-hours on spot, "
        f"{winner.interruptions_expected:.2f} interruptions expected\n"
    )
    console.print(
        f"[bold green]winner[/]: {winner.label}\n"
        f"  {usd(winner.monthly_usd, 2)}/month (compute {usd(cost.compute_usd_per_month, 2)}, "
        f"platform {usd(cost.platform_usd_per_month, 2)}, storage {usd(cost.storage_usd_per_month, 2)}, "
        f"transfer {usd(cost.transfer_usd_per_month, 2)}); "
        f"${plan.usd_per_1k_predictions:.4f} per 1,000 predictions\n"
        f"{_carbon_line(winner)}"
        f"{fleet}"
        f"  replica latency p50/p99 {_speed(winner)}; accuracy "
        f"{(winner.accuracy or 0.0):.2%} (measured)\n"
        f"  SLO (simulated per minute): {slo.minutes_over_slo} of {slo.minutes:,} minutes over "
        f"(allowed {slo.allowed_minutes_over_slo}), {slo.share_of_requests_over_slo:.3%} of requests "
        f"slower than {slo.latency_ms:g} ms, worst minute p{slo.latency_percentile:g} "
        f"{slo.worst_latency_ms:.1f} ms -> {'met' if slo.is_met else 'MISSED'}",
        highlight=False,
    )
    _print_risk(winner, console)
    _print_prerequisites(winner, console)
    console.print(bill_table(f"the winner's bill: {winner.label}", cost))
    for option in plan.platforms:
        if option is winner or option.label == winner.label:
            continue
        console.print(
            bill_table(f"best {option.platform}: {option.label} ({option.why_not})", option.cost)
        )
        _print_risk(option, console)
        _print_prerequisites(option, console)
    if plan.sensitivity:
        console.print(
            table(
                "sensitivity (estimated: the winner under changed assumptions)",
                ["case", "$/month mean", "$/month P95", "minutes over P95", "SLO", "note"],
                [
                    [
                        row.case,
                        usd(row.monthly_usd, 2),
                        usd(row.monthly_usd_p95, 2),
                        f"{row.minutes_over_slo_p95:,.0f}",
                        "met" if row.is_met else "MISSED",
                        row.note,
                    ]
                    for row in plan.sensitivity
                ],
            )
        )
    for note in plan.price_notes:
        console.print(f"[yellow]prices[/]: {note}", highlight=False)
    for note in plan.carbon_notes:
        console.print(f"[green]carbon[/]: {note}", highlight=False)
    for source in winner.carbon.inputs if winner.carbon else ():
        console.print(f"[dim]carbon input: {source}[/]", highlight=False)
    if plan.waterfall:
        console.print(waterfall_table("savings waterfall ($/month)", plan.waterfall))
    if plan.runners_up:
        console.print(
            table(
                "runners-up",
                [
                    "option",
                    "$/month",
                    "kgCO2e/month",
                    "p50 / p99 replica",
                    "accuracy",
                    "why it lost",
                ],
                [
                    [
                        o.label,
                        f"{usd(o.monthly_usd, 2)}",
                        _kg_co2e(o),
                        _speed(o),
                        f"{(o.accuracy or 0):.2%}",
                        o.why_not,
                    ]
                    for o in plan.runners_up
                ],
            )
        )
    if plan.pareto:
        console.print(
            table(
                "Pareto front (cost, latency, accuracy)",
                ["option", "$/month", "kgCO2e/month", "p99 replica ms", "accuracy"],
                [
                    [
                        o.label,
                        f"{usd(o.monthly_usd, 2)}",
                        _kg_co2e(o),
                        f"{o.latency_ms_p99:.1f}",
                        f"{(o.accuracy or 0):.2%}",
                    ]
                    for o in plan.pareto
                ],
            )
        )
    advice = plan.savings_plan
    if advice is not None:
        if advice.is_upper_bound:
            # An "up to N %" maximum is not a rate: show the range, never a point saving.
            saving = (
                f"saves between $0.00 and {usd(advice.saved_usd_per_month, 2)}/month: the provider "
                f"publishes only an 'up to {advice.discount_fraction:.0%}' maximum; set your own "
                "rate with mlcost catalog override to plan on it"
            )
        else:
            saving = (
                f"{advice.discount_fraction:.0%} off on-demand: saves "
                f"{usd(advice.saved_usd_per_month, 2)}/month more; estimated"
            )
        console.print(
            f"savings plan: commit only the always-on {advice.nodes} x {advice.instance_type} to "
            f"{advice.commitment}: {saving}",
            highlight=False,
        )
    for line in plan.excluded:
        console.print(f"[dim]left out: {line}[/]", highlight=False)
    rate = plan.candidates_simulated / plan.search_s if plan.search_s else 0.0
    console.print(
        f"{plan.candidates_simulated:,} candidates simulated per minute over {plan.horizon_days} "
        f"days in {plan.search_s:.2f} s ({rate:,.0f}/s); {plan.candidates_meeting_slo:,} met the SLO",
        highlight=False,
    )
