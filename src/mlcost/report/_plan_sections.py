"""The plan's views: the savings waterfall, cost per 1,000 predictions, the accuracy-vs-cost front.

Every dollar here is a simulated month on catalog prices (estimated); a replica's speed
is measured or estimated as the plan says, and accuracy is the profile's measurement on
the held-out test rows, with its 95 % interval.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from mlcost.core import Plan, PlanOption, WaterfallBar, waterfall_reduction
from mlcost.cost import HOURS_PER_MONTH
from mlcost.report._charts import COST, MUTED, PALETTE, SAVING, axis_scale, draw
from mlcost.report._section import Section, no_data, price_lines, usd
from mlcost.report._sources import Sources

_SIMULATED = "estimated: each dollar figure is a month simulated per minute on catalog prices"


def plan_missing(key: str, title: str) -> Section:
    """The panel of a section drawn from a plan that has not been written."""
    return no_data(key, title, "no plan.json was found", "mlcost plan workload.yaml")


def waterfall_section(sources: Sources) -> Section:
    """Today's bill, then each step of the plan and what it saves."""
    key, title = "waterfall", "Savings waterfall"
    plan = sources.plan
    if plan is None or not plan.waterfall:
        return plan_missing(key, title)
    bars = plan.waterfall
    steps = bars[1:]
    if steps:
        biggest = max(steps, key=lambda bar: bar.saved_usd)
        takeaway = (
            f"From {usd(bars[0].monthly_usd)} to {usd(bars[-1].monthly_usd)} a month "
            f"({waterfall_reduction(bars):.1%} less) in {len(steps)} "
            f"step{'' if len(steps) == 1 else 's'}; the biggest, {_step_name(biggest.label)}, "
            f"saves {usd(biggest.saved_usd)}."
        )
    else:
        takeaway = f"{bars[0].label} costs {usd(bars[0].monthly_usd)} a month; no step saves on it."
    rows = tuple(
        (
            bar.label,
            usd(bar.monthly_usd),
            "" if i == 0 else usd(bar.saved_usd),
            f"{waterfall_reduction(bars[: i + 1]):.1%}",
            bar.basis,
        )
        for i, bar in enumerate(bars)
    )
    return Section(
        key,
        title,
        takeaway,
        draw(key, (8.0, 3.6), lambda figure: _paint_waterfall(figure, bars)),
        ("step", "$/month", "$ saved", "% cut so far", "basis"),
        rows,
        basis=(
            "estimated: the first bar is today's setup at catalog list prices, each later bar "
            "a simulated month",
            *_speed_bases(sources, [bar.option for bar in bars if bar.option is not None]),
        ),
        prices=price_lines(bar.cost for bar in bars),
    )


def cost_per_1k_section(sources: Sources) -> Section:
    """What 1,000 predictions cost on every option the plan weighed, by variant and hardware."""
    key, title = "cost-per-1k", "Cost per 1,000 predictions by variant and hardware"
    plan = sources.plan
    if plan is None:
        return plan_missing(key, title)
    options = sorted(weighed_options(plan), key=lambda o: o.monthly_usd)
    per_1k = [usd_per_1k(plan, option) for option in options]
    winner, dearest = plan.winner, options[-1]
    winner_1k = usd_per_1k(plan, winner)
    ratio = usd_per_1k(plan, dearest) / winner_1k if winner_1k else math.inf
    misses = sum(not o.slo.is_met and o.monthly_usd < winner.monthly_usd for o in options)
    takeaway = (
        f"The winner, {winner.variant} on {hardware(winner)}, serves 1,000 predictions for "
        f"{usd(winner_1k)}; the dearest weighed, {dearest.variant} on {hardware(dearest)}, "
        f"costs {ratio:,.0f}x as much"
        + (
            f"; {misses} cheaper option{'' if misses == 1 else 's'} miss the SLO."
            if misses
            else "."
        )
    )
    rows = tuple(
        (
            option.variant,
            hardware(option),
            option.platform,
            f"{option.commitment or option.pricing}, {option.scaling}",
            usd(option.monthly_usd),
            usd(value),
            f"{option.latency_ms_p99:.1f} ms {option.speed_basis}",
            accuracy_text(sources, option),
            "met" if option.slo.is_met else "missed",
        )
        for option, value in zip(options, per_1k, strict=True)
    )
    return Section(
        key,
        title,
        takeaway,
        draw(
            key,
            (8.0, 0.9 + 0.28 * len(options)),
            lambda figure: _paint_cost_per_1k(figure, options, per_1k),
        ),
        (
            "variant",
            "hardware",
            "platform",
            "pricing",
            "$/month",
            "$ per 1,000",
            "p99 replica",
            "accuracy",
            "SLO",
        ),
        rows,
        basis=(_SIMULATED, *_speed_bases(sources, options)),
        prices=price_lines(option.cost for option in options),
    )


def pareto_section(sources: Sources) -> Section:
    """Accuracy against monthly cost: every option weighed, the plan's Pareto front marked."""
    key, title = "pareto", "Accuracy vs cost: the Pareto front"
    plan = sources.plan
    if plan is None or not plan.pareto:
        return plan_missing(key, title)
    front = sorted(plan.pareto, key=lambda o: o.monthly_usd)
    accuracies = [o.accuracy or 0.0 for o in front]
    if max(accuracies) - min(accuracies) < 0.0005:
        takeaway = (
            f"All {len(front)} options on the front have the same measured accuracy "
            f"({accuracies[0]:.2%}): they trade cost for latency, from {usd(front[0].monthly_usd)} "
            f"a month (p99 {front[0].latency_ms_p99:.0f} ms) to {usd(front[-1].monthly_usd)} "
            f"(p99 {front[-1].latency_ms_p99:.0f} ms)."
        )
    else:
        best = max(front, key=lambda o: (o.accuracy or 0.0, -o.monthly_usd))
        takeaway = (
            f"The cheapest option on the front, {usd(front[0].monthly_usd)} a month, is "
            f"{accuracies[0]:.2%} accurate; {best.accuracy or 0.0:.2%} costs "
            f"{usd(best.monthly_usd)} ({best.variant} on {hardware(best)})."
        )
    rows = tuple(
        (
            str(number),
            option.label,
            usd(option.monthly_usd),
            f"{option.latency_ms_p99:.1f} ms {option.speed_basis}",
            accuracy_text(sources, option),
        )
        for number, option in enumerate(front, start=1)
    )
    return Section(
        key,
        title,
        takeaway,
        draw(key, (8.0, 4.2), lambda figure: _paint_front(figure, sources, plan, front)),
        ("#", "option on the front (numbered on the chart)", "$/month", "p99 replica", "accuracy"),
        rows,
        basis=(
            _SIMULATED,
            "measured: accuracy on the held-out test rows, with its 95 % bootstrap interval",
            *_speed_bases(sources, front),
        ),
        notes=(
            "The plan's front is over cost, latency and accuracy: an option here may cost more "
            "at the same accuracy because it is faster.",
        ),
    )


def _paint_waterfall(figure: Any, bars: Sequence[WaterfallBar]) -> None:
    """Each bar's bill, and above it, hatched, what its step saved on the bar before."""
    axes = figure.subplots()
    bills = [bar.monthly_usd for bar in bars]
    axes.bar(range(len(bars)), bills, color=COST, width=0.6, label="bill after the step")
    axes.bar(
        range(1, len(bars)),
        [bar.saved_usd for bar in bars[1:]],
        bottom=bills[1:],
        color=SAVING,
        alpha=0.35,
        hatch="//",
        width=0.6,
        label="saved by the step",
    )
    for i, bar in enumerate(bars):
        text = usd(bar.monthly_usd) + (f"\n(-{usd(bar.saved_usd)})" if i else "")
        top = bar.monthly_usd + (bar.saved_usd if i else 0.0)
        axes.annotate(text, (i, top), ha="center", va="bottom", fontsize=9)
    axes.set_xticks(range(len(bars)), [_step_name(bar.label) for bar in bars])
    scale = axis_scale(min(bills), max(bills))
    axes.set_yscale(scale)
    if scale == "log":  # room below the smallest bill, so that its bar shows
        axes.set_ylim(min(bills) / 3, max(bills) * 3)
    else:
        axes.margins(y=0.2)
    axes.set_ylabel("$ per month (simulated)")
    axes.grid(axis="y")
    axes.legend(loc="upper right", fontsize=8)


def _paint_cost_per_1k(figure: Any, options: Sequence[PlanOption], per_1k: Sequence[float]) -> None:
    """A bar per option, cheapest on top, coloured by variant, hatched where speed is estimated
    and faint where it misses the SLO."""
    colours = variant_colours(options)
    axes = figure.subplots()
    names = [_chart_label(option) for option in options]
    positions = range(len(options))[::-1]  # cheapest on top
    for y, option, value in zip(positions, options, per_1k, strict=True):
        axes.barh(
            y,
            value,
            color=colours[option.variant],
            hatch="//" if option.speed_basis != "measured" else None,
            alpha=1.0 if option.slo.is_met else 0.35,
            edgecolor="none",
        )
        axes.annotate(f" {usd(value)}", (value, y), va="center", fontsize=8)
    axes.set_yticks(list(positions), names, fontsize=8)
    axes.set_xscale(axis_scale(min(per_1k), max(per_1k)))
    axes.set_xlabel("$ per 1,000 predictions (hatched: speed estimated; faint: misses the SLO)")
    axes.grid(axis="x")
    axes.margins(x=0.25)


def _paint_front(figure: Any, sources: Sources, plan: Plan, front: Sequence[PlanOption]) -> None:
    """Every option weighed in grey (a cross where it misses the SLO); the front numbered,
    with accuracy intervals, and its staircase; the accuracy floor."""
    weighed = weighed_options(plan)
    colours = variant_colours(weighed)
    axes = figure.subplots()
    for is_met, marker, label in ((True, "o", "weighed"), (False, "x", "misses the SLO")):
        others = [o for o in weighed if o not in front and o.slo.is_met == is_met]
        if others:
            axes.scatter(
                [o.monthly_usd for o in others],
                [100 * (o.accuracy or 0.0) for o in others],
                color=MUTED,
                marker=marker,
                s=18,
                label=label,
            )
    for number, option in enumerate(front, start=1):
        low, high = _accuracy_interval(sources, option)
        axes.errorbar(
            option.monthly_usd,
            100 * (option.accuracy or 0.0),
            yerr=[[100 * low], [100 * high]],
            fmt="s",
            color=colours[option.variant],
            capsize=3,
        )
        axes.annotate(
            str(number),
            (option.monthly_usd, 100 * (option.accuracy or 0.0)),
            xytext=(3, 4),
            textcoords="offset points",
            fontsize=8,
        )
    cost_steps, accuracy_steps = _front_steps(front)
    axes.step(cost_steps, accuracy_steps, where="post", color=COST, label="front")
    axes.axhline(
        100 * plan.accuracy_floor, color=PALETTE[3], linestyle="--", label="accuracy floor"
    )
    costs = [o.monthly_usd for o in weighed]
    axes.set_xscale(axis_scale(min(costs), max(costs)))
    axes.set_xlabel("$ per month (simulated)")
    axes.set_ylabel("accuracy, % (measured, 95 % interval)")
    axes.grid()
    axes.legend(loc="lower right")


def weighed_options(plan: Plan) -> tuple[PlanOption, ...]:
    """Every option the plan shows (winner, best per platform, front, runners-up, bars), once."""
    found: dict[str, PlanOption] = {}
    bars = [bar.option for bar in plan.waterfall if bar.option is not None]
    for option in (plan.winner, *plan.platforms, *plan.pareto, *plan.runners_up, *bars):
        found.setdefault(option.label, option)
    return tuple(found.values())


def requests_per_month(plan: Plan) -> float:
    """The plan's requests over its horizon, scaled to a 730-hour month (as its bills are)."""
    return plan.requests * HOURS_PER_MONTH / (24.0 * plan.horizon_days)


def usd_per_1k(plan: Plan, option: PlanOption) -> float:
    """The option's monthly bill over a month's requests, per 1,000 (as the plan's winner's)."""
    requests = requests_per_month(plan)
    return option.monthly_usd / requests * 1000.0 if requests else 0.0


def hardware(option: PlanOption) -> str:
    """The machine type, or the function it runs in."""
    return (
        option.platform_service if option.platform == "serverless" else option.offer.instance_type
    )


def variant_colours(options: Sequence[PlanOption]) -> dict[str, str]:
    """One palette colour per variant, in the order the variants first appear."""
    names = dict.fromkeys(option.variant for option in options)
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}


def accuracy_text(sources: Sources, option: PlanOption) -> str:
    """``86.86 % [85.44, 88.28] measured`` from the variant's profile (or the plan alone)."""
    if option.accuracy is None:
        return "-"
    profile = sources.latest_profile(option.variant)
    if profile is None or profile.accuracy_ci_low is None or profile.accuracy_ci_high is None:
        return f"{option.accuracy:.2%} measured"
    return (
        f"{option.accuracy:.2%} [{profile.accuracy_ci_low:.2%}, {profile.accuracy_ci_high:.2%}] "
        "measured"
    )


def _accuracy_interval(sources: Sources, option: PlanOption) -> tuple[float, float]:
    """How far the 95 % interval reaches below and above the option's accuracy."""
    profile = sources.latest_profile(option.variant)
    accuracy = option.accuracy or 0.0
    if profile is None or profile.accuracy_ci_low is None or profile.accuracy_ci_high is None:
        return 0.0, 0.0
    return max(0.0, accuracy - profile.accuracy_ci_low), max(
        0.0, profile.accuracy_ci_high - accuracy
    )


def _front_steps(front: Sequence[PlanOption]) -> tuple[list[float], list[float]]:
    """The accuracy-vs-cost front as a staircase: the best accuracy money buys up to each cost."""
    costs, accuracies, best = [], [], -1.0
    for option in front:
        accuracy = 100 * (option.accuracy or 0.0)
        if accuracy > best:
            costs.append(option.monthly_usd)
            accuracies.append(accuracy)
            best = accuracy
    costs.append(front[-1].monthly_usd)
    accuracies.append(best)
    return costs, accuracies


def _speed_bases(sources: Sources, options: Sequence[PlanOption]) -> tuple[str, ...]:
    """How each variant's replica speed is known, per basis: measured there, or estimated
    from the profile measured here."""
    machines: dict[tuple[str, str], list[str]] = {}
    for option in options:
        names = machines.setdefault((option.speed_basis, option.variant), [])
        if hardware(option) not in names:
            names.append(hardware(option))
    lines = []
    for (basis, variant), names in machines.items():
        profile = sources.latest_profile(variant)
        where = (
            f", from its profile measured on {profile.hardware.cpu_model} "
            f"({profile.threads} threads, {profile.measured_at:%Y-%m-%d})"
            if profile is not None
            else ""
        )
        lines.append(f"{basis}: {variant}'s replica speed on {', '.join(names)}{where}")
    return tuple(lines)


def _chart_label(option: PlanOption) -> str:
    """``int8-dynamic · t3.medium · kubernetes, spot, autoscaled``: one bar of the chart."""
    if option.platform == "serverless":
        return f"{option.variant} · {option.platform_service}"
    pricing = option.commitment or option.pricing
    return f"{option.variant} · {hardware(option)} · {option.platform}, {pricing}, {option.scaling}"


def _step_name(label: str) -> str:
    """A waterfall bar's short name: what changed ("platform change"), before its detail."""
    return label.split(":", 1)[0]
