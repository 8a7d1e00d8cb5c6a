"""What happened against the plan: the monitor's readings beside it, and the bill's spend.

Both are measured: a reading's figures come from Prometheus (``mlcost monitor --record``
keeps them in the store), the spend from imported billing exports (FOCUS), in the bill's
own currency. The plan's side of a comparison is its estimate.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from mlcost.core import BillingLine, MonitorReading, PlanGap
from mlcost.report._charts import COST, PALETTE, WARNING, draw
from mlcost.report._section import Section, no_data
from mlcost.report._sources import Sources

# A figure within this share of the plan's reads as on plan.
ON_PLAN = 0.2
# The services a spend chart names; the rest are summed as "other".
TOP_SERVICES = 5
_MONITOR = "mlcost monitor --prometheus http://HOST:9090 --plan plan.json --record"


def plan_vs_actual_section(sources: Sources) -> Section:
    """The latest reading's figures against what the plan predicted for them."""
    key, title = "plan-vs-actual", "Plan vs actual"
    if not sources.readings:
        return no_data(key, title, "no monitor reading is in the store", _MONITOR)
    reading = sources.readings[-1]
    if not reading.plan_gaps:
        return no_data(key, title, "the latest monitor reading was taken without a plan", _MONITOR)
    read = [gap for gap in reading.plan_gaps if gap.gap_fraction is not None]
    when = f"{reading.taken_at:%Y-%m-%d %H:%M} UTC, {reading.covered_s / 3600:.1f} h watched"
    if read:
        worst = max(read, key=lambda gap: abs(gap.gap_fraction or 0.0))
        on_plan = sum(abs(gap.gap_fraction or 0.0) <= ON_PLAN for gap in read)
        takeaway = (
            f"The latest reading ({when}): {worst.name} is {worst.gap_fraction:+.0%} off the "
            f"plan ({worst.actual:,.4g} vs {worst.planned:,.4g}); {on_plan} of {len(read)} "
            f"figures read are within {ON_PLAN:.0%} of it."
        )
    else:
        takeaway = f"The latest reading ({when}) read none of the figures the plan predicted."
    rows = tuple(
        (
            gap.name,
            "-" if gap.actual is None else f"{gap.actual:,.4g}",
            f"{gap.planned:,.4g}",
            "-" if gap.gap_fraction is None else f"{gap.gap_fraction:+.1%}",
            _source(reading, gap),
        )
        for gap in reading.plan_gaps
    )
    return Section(
        key,
        title,
        takeaway,
        draw(key, (8.0, 1.2 + 0.4 * len(reading.plan_gaps)), lambda f: _paint_gaps(f, reading)),
        ("figure", "actual", "planned", "% off plan", "measured from"),
        rows,
        basis=(
            f"measured: each actual figure read from {reading.source} over "
            f"{reading.covered_s:,.0f} s of the {reading.window_s:,.0f} s asked",
            "estimated: each planned figure is the plan's simulation of "
            f"{reading.plan_option or 'its option'}",
        ),
        notes=(*reading.flags, *reading.notes),
    )


def billing_section(sources: Sources) -> Section:
    """Spend by month and service, and by pricing category, from the imported bills."""
    key, title = "billing", "Spend breakdowns from billing"
    if not sources.billing_lines:
        return no_data(
            key,
            title,
            "no billing export has been imported into the store",
            "mlcost billing import FOCUS-export.csv",
        )
    totals = _summed(sources.billing_lines, lambda line: line.currency)
    currency = max(totals, key=lambda name: totals[name])  # the bill's main currency
    lines = [line for line in sources.billing_lines if line.currency == currency]
    total = sum(line.effective_cost for line in lines)
    periods = sorted({line.billing_period for line in lines})
    services = _summed(lines, _service)
    pricings = _summed(lines, _pricing)
    top_service, top_usd = max(services.items(), key=lambda item: item[1])
    shares = ", ".join(
        f"{name} {amount / total:.0%}"
        for name, amount in sorted(pricings.items(), key=lambda item: -item[1])
    )
    takeaway = (
        f"{total:,.2f} {currency} effective cost over {len(periods)} "
        f"month{'' if len(periods) == 1 else 's'} ({periods[0]} to {periods[-1]}); "
        f"{top_service} is {top_usd / total:.0%} of it; by pricing: {shares}."
        if total
        else f"The bills of {periods[0]} to {periods[-1]} hold no cost in {currency}."
    )
    rows = tuple(
        (period, service, pricing, f"{effective:,.2f}", f"{billed:,.2f}")
        for (period, service, pricing), (effective, billed) in sorted(
            _by_month_service_pricing(lines).items(), key=lambda item: (item[0][0], -item[1][0])
        )
    )
    files = ", ".join(record.file_name for record in sources.billing_imports)
    others = [name for name in totals if name != currency]
    findings = [
        f"{record.file_name}: {len(record.findings)} FOCUS {record.focus_version} findings"
        for record in sources.billing_imports
        if record.findings
    ]
    return Section(
        key,
        title,
        takeaway,
        draw(key, (8.0, 3.6), lambda figure: _paint_spend(figure, lines, periods, currency)),
        ("month", "service", "pricing", f"effective {currency}", f"billed {currency}"),
        rows,
        basis=(f"measured: amounts read from the bills (FOCUS EffectiveCost) of {files}",),
        notes=(
            *([f"left out: lines in {', '.join(others)}"] if others else []),
            *findings,
        ),
    )


def _paint_gaps(figure: Any, reading: MonitorReading) -> None:
    """Each figure as a share of the plan's: a bar to 100 % is on plan."""
    axes = figure.subplots()
    gaps = list(reading.plan_gaps)
    positions = range(len(gaps))[::-1]
    for y, gap in zip(positions, gaps, strict=True):
        if gap.gap_fraction is None:
            axes.annotate("  not read", (0, y), va="center", fontsize=8)
            continue
        share = 100 * (1 + gap.gap_fraction)
        colour = COST if abs(gap.gap_fraction) <= ON_PLAN else WARNING
        axes.barh(y, share, color=colour, height=0.5)
        axes.annotate(f" {share:,.0f} %", (share, y), va="center", fontsize=8)
    axes.axvline(100, color=PALETTE[2], linestyle="--", label="the plan")
    axes.set_yticks(list(positions), [gap.name for gap in gaps], fontsize=8)
    axes.set_xlabel("actual as % of planned (measured / estimated)")
    axes.margins(x=0.2)
    axes.grid(axis="x")
    axes.legend(loc="lower right", fontsize=8)


def _paint_spend(
    figure: Any, lines: Sequence[BillingLine], periods: Sequence[str], currency: str
) -> None:
    """Each month's spend stacked by its largest services; beside it, spend by pricing."""
    by_month, by_pricing = figure.subplots(1, 2, width_ratios=(2, 1))
    services = _summed(lines, _service)
    named = sorted(services, key=lambda name: -services[name])[:TOP_SERVICES]
    bottoms = [0.0] * len(periods)
    for i, name in enumerate([*named, "other"]):
        amounts = [
            sum(
                line.effective_cost
                for line in lines
                if line.billing_period == period
                and (_service(line) if _service(line) in named else "other") == name
            )
            for period in periods
        ]
        if any(amounts):
            colour = PALETTE[i % len(PALETTE)]
            by_month.bar(periods, amounts, bottom=bottoms, color=colour, label=name)
            bottoms = [a + b for a, b in zip(bottoms, amounts, strict=True)]
    by_month.set_ylabel(f"effective cost, {currency}")
    by_month.grid(axis="y")
    by_month.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncols=2, fontsize=7)
    pricings = _summed(lines, _pricing)
    names = sorted(pricings, key=lambda name: pricings[name])
    by_pricing.barh(names, [pricings[name] for name in names], color=COST)
    by_pricing.set_xlabel(f"{currency} by pricing")
    by_pricing.grid(axis="x")


def _summed(lines: Sequence[BillingLine], group: Callable[[BillingLine], str]) -> dict[str, float]:
    """The effective cost of ``lines`` summed by ``group`` (a function of a line)."""
    sums: defaultdict[str, float] = defaultdict(float)
    for line in lines:
        sums[group(line)] += line.effective_cost
    return dict(sums)


def _by_month_service_pricing(
    lines: Sequence[BillingLine],
) -> dict[tuple[str, str, str], tuple[float, float]]:
    """Effective and billed cost by (month, service, pricing category)."""
    sums: defaultdict[tuple[str, str, str], tuple[float, float]] = defaultdict(lambda: (0.0, 0.0))
    for line in lines:
        key = (line.billing_period, _service(line), _pricing(line))
        effective, billed = sums[key]
        sums[key] = (effective + line.effective_cost, billed + line.billed_cost)
    return dict(sums)


def _service(line: BillingLine) -> str:
    return line.service_name or "(no service)"


def _pricing(line: BillingLine) -> str:
    return line.pricing_category or "(no pricing category)"


def _source(reading: MonitorReading, gap: PlanGap) -> str:
    """The PromQL (or field) a gap's actual figure was read from."""
    figure = reading.figure(gap.name)
    return figure.source if figure is not None else "-"
