"""The terminal report of a serving Plan: estimate warning, winner, waterfall, runners-up."""

from __future__ import annotations

from rich.console import Console

from mlcost.cli._context import table, usd
from mlcost.core import Plan, PlanOption


def _pricing(option: PlanOption) -> str:
    return option.commitment or option.pricing


def _speed(option: PlanOption) -> str:
    return f"{option.latency_ms_p50:.1f} / {option.latency_ms_p99:.1f} ms {option.speed_basis}"


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
    console.print(
        f"[bold green]winner[/]: {winner.label}\n"
        f"  {usd(winner.monthly_usd, 2)}/month (compute {usd(cost.compute_usd_per_month, 2)}, "
        f"storage {usd(cost.storage_usd_per_month, 2)}, transfer {usd(cost.transfer_usd_per_month, 2)}); "
        f"${plan.usd_per_1k_predictions:.4f} per 1,000 predictions\n"
        f"  replicas {winner.replicas_min}-{winner.replicas_max} (mean {winner.replicas_mean:.1f}), "
        f"{winner.pods_per_node} per node, nodes mean {winner.nodes_mean:.2f} (max {winner.nodes_max}), "
        f"{winner.spot_node_share:.0%} of node-hours on spot, "
        f"{winner.interruptions_expected:.2f} interruptions expected\n"
        f"  replica latency p50/p99 {_speed(winner)}; accuracy "
        f"{(winner.accuracy or 0.0):.2%} (measured)\n"
        f"  SLO (simulated per minute): {slo.minutes_over_slo} of {slo.minutes:,} minutes over "
        f"(allowed {slo.allowed_minutes_over_slo}), {slo.share_of_requests_over_slo:.3%} of requests "
        f"slower than {slo.latency_ms:g} ms, worst minute p{slo.latency_percentile:g} "
        f"{slo.worst_latency_ms:.1f} ms -> {'met' if slo.is_met else 'MISSED'}",
        highlight=False,
    )
    if plan.waterfall:
        rows = []
        start = plan.waterfall[0].monthly_usd
        for bar in plan.waterfall:
            cut = 1.0 - bar.monthly_usd / start if start else 0.0
            rows.append(
                [
                    bar.label,
                    f"{usd(bar.monthly_usd, 2)}",
                    f"{usd(bar.saved_usd, 2)}",
                    f"{cut:.1%}",
                    bar.basis,
                ]
            )
        console.print(
            table(
                "savings waterfall ($/month)",
                ["step", "$/month", "saved", "cut so far", "basis"],
                rows,
            )
        )
    if plan.runners_up:
        console.print(
            table(
                "runners-up",
                ["option", "$/month", "p50 / p99 replica", "accuracy", "why it lost"],
                [
                    [
                        o.label,
                        f"{usd(o.monthly_usd, 2)}",
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
                ["option", "$/month", "p99 replica ms", "accuracy"],
                [
                    [
                        f"{o.variant} on {o.offer.instance_type}, {_pricing(o)}, {o.scaling}",
                        f"{usd(o.monthly_usd, 2)}",
                        f"{o.latency_ms_p99:.1f}",
                        f"{(o.accuracy or 0):.2%}",
                    ]
                    for o in plan.pareto
                ],
            )
        )
    advice = plan.savings_plan
    if advice is not None:
        bound = " (an 'up to' figure: import your own rate)" if advice.is_upper_bound else ""
        console.print(
            f"savings plan: commit only the always-on {advice.nodes} x {advice.instance_type} to "
            f"{advice.commitment} ({advice.discount_fraction:.0%} off on-demand{bound}): "
            f"saves {usd(advice.saved_usd_per_month, 2)}/month more; estimated",
            highlight=False,
        )
    for option in plan.serverless:
        breakeven = option.breakeven_requests_per_day
        console.print(
            f"serverless {option.service}: {usd(option.monthly_usd, 2)}/month; cheaper than the "
            f"winner below {breakeven:,.0f} requests/day ({option.method})",
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
