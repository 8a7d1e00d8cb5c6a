"""`mlcost cost`: the unit economics of serving, and the reference case study."""

from __future__ import annotations

from typing import Annotated

import typer

from mlcost.cli._context import (
    HomeOption,
    JsonOption,
    console,
    current_catalog,
    print_json,
    short_sources,
    table,
    usd,
)
from mlcost.cli._waterfall_table import waterfall_table
from mlcost.core import UsageError, waterfall_reduction
from mlcost.cost import (
    HOURS_PER_MONTH,
    CaseStudy,
    ServerlessCall,
    TotalCost,
    price_checks,
    pricing_options,
    resolve_case_study,
    serverless_breakeven_requests,
    usd_per_1k_predictions,
)

app = typer.Typer(
    help="Unit economics: monthly bills, cost per 1,000 predictions, break-even, TCO/ROI.",
    no_args_is_help=True,
)

ESTIMATED = "estimated: arithmetic on list prices, not a measurement"
COMPUTE_ONLY = "compute only: the story's own scope; `mlcost plan` prices the whole bill"
HoursPerMonthOption = Annotated[
    float | None,
    typer.Option(
        min=0.1, help=f"Hours billed per month (default {HOURS_PER_MONTH:g} = 8,760 h / 12)."
    ),
]


@app.command("case-study")
def case_study(
    gpu_type: Annotated[
        str, typer.Option(help="GPU instance of the starting point.")
    ] = "g4dn.xlarge",
    gpu_count: Annotated[float, typer.Option(min=0.1, help="GPU instances, always on.")] = 5,
    gpu_price: Annotated[
        float | None,
        typer.Option(min=0.0001, help="GPU on-demand $/h (default: story's or catalog's)."),
    ] = None,
    autoscaled_count: Annotated[
        float, typer.Option(min=0.1, help="Average GPU instances with autoscaling.")
    ] = 3,
    gpu_spot_price: Annotated[float | None, typer.Option(min=0.0001, help="GPU spot $/h.")] = None,
    cpu_type: Annotated[
        str, typer.Option(help="CPU instance serving the INT8 model.")
    ] = "c6i.large",
    cpu_count: Annotated[float, typer.Option(min=0.1, help="CPU instances (spot).")] = 6,
    cpu_spot_price: Annotated[float | None, typer.Option(min=0.0001, help="CPU spot $/h.")] = None,
    hours_per_day: Annotated[
        float, typer.Option(min=0.1, max=24, help="Hours a day the service runs.")
    ] = 24,
    days: Annotated[float, typer.Option(min=1, help="Days in the month.")] = 30,
    region: Annotated[str, typer.Option(help="Region for catalog prices.")] = "us-east-1",
    catalog_prices: Annotated[
        bool, typer.Option("--catalog-prices", help="Use today's catalog prices for all three.")
    ] = False,
    as_json: JsonOption = False,
    home: HomeOption = None,
) -> None:
    """The reference story as a savings waterfall: autoscaling, then spot, then INT8 on CPU.

    Defaults reproduce it: 5 x g4dn.xlarge at $0.526/h, 24 h x 30 days = $1,893.60/month,
    down to $129.60 (93.2 % less). Change any input for your own what-if.
    """
    catalog = current_catalog(home)
    study = resolve_case_study(
        catalog,
        CaseStudy(
            region=region,
            hours_per_day=hours_per_day,
            days=days,
            gpu_type=gpu_type,
            gpu_count=gpu_count,
            autoscaled_gpu_count=autoscaled_count,
            cpu_type=cpu_type,
            cpu_count=cpu_count,
        ),
        given=(gpu_price, gpu_spot_price, cpu_spot_price),
        use_catalog_prices=catalog_prices,
    )
    bars, checks = study.waterfall(), price_checks(study, catalog)
    baseline_usd, final_usd = bars[0].monthly_usd, bars[-1].monthly_usd
    reduction = waterfall_reduction(bars)
    if as_json:
        print_json(
            {
                "basis": ESTIMATED,
                "study": study,
                "waterfall": bars,
                "baseline_usd": baseline_usd,
                "final_usd": final_usd,
                "reduction": reduction,
                "price_checks": checks,
            }
        )
        return
    hours = f"{study.hours_per_day:g} h x {study.days:g} days = {study.hours:g} h/month"
    console.print(
        waterfall_table(
            f"Savings waterfall ({hours})",
            bars,
            caption=f"{COMPUTE_ONLY}. {ESTIMATED}",
            hours_per_month=study.hours,
        )
    )
    console.print(
        f"Total reduction: [bold]{reduction:.1%}[/bold] "
        f"({usd(baseline_usd, 2)} -> {usd(final_usd, 2)} per month)"
    )
    rows = [
        [
            c.instance_type,
            c.pricing,
            usd(c.scenario_usd_per_hour),
            usd(c.catalog_usd_per_hour),
            "differs" if c.differs else "same",
            short_sources(c.source),
        ]
        for c in checks
    ]
    console.print(
        table(
            f"Scenario prices vs the catalog ({study.region})",
            ["instance", "pricing", "scenario $/h", "catalog $/h", "", "catalog source"],
            rows,
            caption="Rerun with --catalog-prices to price every step from the catalog.",
        )
    )


@app.command("monthly")
def monthly(
    instance_type: Annotated[str, typer.Argument(help="Instance type, e.g. g4dn.xlarge.")],
    region: Annotated[str, typer.Option(help="Region.")] = "us-east-1",
    count: Annotated[
        float, typer.Option(min=0.0, help="Number of instances (may be an average).")
    ] = 1,
    hours: HoursPerMonthOption = None,
    as_json: JsonOption = False,
    home: HomeOption = None,
) -> None:
    """Monthly cost of an instance under each pricing model: on-demand, spot, commitments."""
    catalog = current_catalog(home)
    offer = catalog.require_offer(instance_type, region=region)
    billed_hours = hours or HOURS_PER_MONTH
    options = pricing_options(offer, catalog)
    if as_json:
        print_json(
            {
                "basis": ESTIMATED,
                "offer": offer,
                "hours": billed_hours,
                "count": count,
                "options": [
                    {"option": p, "monthly_usd": p.monthly_usd(count=count, hours=billed_hours)}
                    for p in options
                ],
            }
        )
        return
    base = offer.on_demand_usd_per_hour
    rows = [
        [
            p.pricing,
            usd(p.usd_per_hour),
            usd(p.monthly_usd(count=count, hours=billed_hours), 2),
            f"{1 - p.usd_per_hour / base:.1%}",
            p.basis,
        ]
        for p in options
    ]
    console.print(
        table(
            f"{count:g} x {instance_type} in {region}, {billed_hours:g} h/month",
            ["pricing", "$/h", "$/month", "% below on-demand", "basis"],
            rows,
            caption=ESTIMATED,
        )
    )


@app.command("per-1k")
def per_1k(
    throughput_per_s: Annotated[
        float, typer.Option(help="Predictions per second one instance serves at full load.")
    ],
    utilization: Annotated[
        float, typer.Option(help="Share of that capacity your traffic uses, in (0, 1].")
    ] = 1.0,
    usd_per_hour: Annotated[
        float | None, typer.Option(help="Hourly price; or give --instance.")
    ] = None,
    instance: Annotated[
        str | None, typer.Option(help="Instance type to price from the catalog.")
    ] = None,
    region: Annotated[str, typer.Option(help="Region for --instance.")] = "us-east-1",
    spot: Annotated[bool, typer.Option("--spot", help="Use the spot price of --instance.")] = False,
    as_json: JsonOption = False,
    home: HomeOption = None,
) -> None:
    """Cost of 1,000 predictions from a price, a throughput and a utilization."""
    if (usd_per_hour is None) == (instance is None):
        raise UsageError("give exactly one of --usd-per-hour or --instance")
    basis = "given"
    if instance is not None:
        _, usd_per_hour = current_catalog(home).require_price(instance, region=region, is_spot=spot)
        basis = f"catalog {'spot' if spot else 'on-demand'} price of {instance} in {region}"
    assert usd_per_hour is not None
    value = usd_per_1k_predictions(
        usd_per_hour, throughput_per_s=throughput_per_s, utilization=utilization
    )
    if as_json:
        print_json(
            {
                "usd_per_1k_predictions": value,
                "usd_per_hour": usd_per_hour,
                "price_basis": basis,
                "throughput_per_s": throughput_per_s,
                "utilization": utilization,
                "basis": ESTIMATED,
            }
        )
        return
    console.print(
        f"{usd(value, 6)} per 1,000 predictions  (${usd_per_hour:g}/h, {throughput_per_s:g}/s at "
        f"{utilization:.0%} utilization; price: {basis}; {ESTIMATED})"
    )


@app.command("breakeven")
def breakeven(
    instance: Annotated[str, typer.Option(help="Dedicated instance type to compare against.")],
    memory_gb: Annotated[float, typer.Option(help="Serverless memory per call (GB).")],
    duration_ms: Annotated[float, typer.Option(help="Serverless duration per call (ms).")],
    count: Annotated[float, typer.Option(min=0.1, help="Dedicated instances.")] = 1,
    vcpus: Annotated[
        float, typer.Option(min=0.0, help="vCPUs per call (Cloud Run bills them).")
    ] = 1.0,
    region: Annotated[str, typer.Option(help="Region of the instance.")] = "us-east-1",
    spot: Annotated[
        bool, typer.Option("--spot", help="Dedicated on spot instead of on-demand.")
    ] = False,
    hours: HoursPerMonthOption = None,
    as_json: JsonOption = False,
    home: HomeOption = None,
) -> None:
    """Requests per month below which serverless beats a dedicated instance."""
    catalog = current_catalog(home)
    offer, hourly = catalog.require_price(instance, region=region, is_spot=spot)
    dedicated = hourly * count * (hours or HOURS_PER_MONTH)
    call = ServerlessCall(memory_gb=memory_gb, duration_ms=duration_ms, vcpus=vcpus)
    results = [
        (price, serverless_breakeven_requests(price, call, dedicated))
        for price in catalog.prices.serverless
    ]
    if as_json:
        print_json(
            {
                "basis": ESTIMATED,
                "dedicated_monthly_usd": dedicated,
                "offer": offer,
                "call": call,
                "results": [
                    {
                        "service": p.service,
                        "provider": p.provider,
                        "breakeven_requests_per_month": requests,
                        "source": p.source,
                    }
                    for p, requests in results
                ],
            }
        )
        return
    rows = [
        [p.service, f"{requests:,.0f}", f"{requests / (30 * 86400):,.2f}"]
        for p, requests in results
    ]
    console.print(
        table(
            f"Serverless vs {count:g} x {instance} {'spot' if spot else 'on-demand'} "
            f"({usd(dedicated, 2)}/month), {memory_gb:g} GB x {duration_ms:g} ms per call",
            ["service", "break-even requests/month", "= requests/s (30 d)"],
            rows,
            caption=f"Below the break-even, serverless is cheaper. {ESTIMATED}",
        )
    )


@app.command("tco")
def tco(
    compute_usd: Annotated[float, typer.Option(help="Compute cost ($).")],
    storage_usd: Annotated[float, typer.Option(help="Storage cost ($).")] = 0.0,
    transfer_usd: Annotated[float, typer.Option(help="Data transfer cost ($).")] = 0.0,
    other_usd: Annotated[
        float, typer.Option(help="Other costs: support, licences, people ($).")
    ] = 0.0,
    value_usd: Annotated[float | None, typer.Option(help="Value delivered, for ROI ($).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Total cost of ownership (compute + storage + transfer + other) and ROI = (value - cost) / cost."""
    total = TotalCost(compute_usd, storage_usd, transfer_usd, other_usd)
    roi = None if value_usd is None else total.roi(value_usd)
    if as_json:
        print_json({"tco": total, "total_usd": total.total_usd, "value_usd": value_usd, "roi": roi})
        return
    console.print(
        f"TCO {usd(total.total_usd, 2)} = compute {usd(compute_usd, 2)} + storage {usd(storage_usd, 2)} "
        f"+ transfer {usd(transfer_usd, 2)} + other {usd(other_usd, 2)}"
    )
    if roi is not None:
        console.print(
            f"ROI = ({usd(value_usd, 2)} - {usd(total.total_usd, 2)}) / {usd(total.total_usd, 2)} = {roi:.1%}"
        )
