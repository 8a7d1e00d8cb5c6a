"""`mlcost catalog`: list, show, import and override machine prices."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlcost.catalog import KNOWN_ACCELERATORS, Catalog, OfferQuery, canonical_accelerator
from mlcost.cli._context import (
    HomeOption,
    JsonOption,
    console,
    current_catalog,
    err_console,
    open_store,
    print_json,
    short_sources,
    table,
    usd,
)
from mlcost.core import ARCHES, PROVIDERS, Offer, PriceOverride, UsageError
from mlcost.cost import pricing_options

app = typer.Typer(
    help="Machine prices: list, show, import from authoritative files, override.",
    no_args_is_help=True,
)
override_app = typer.Typer(
    help="Your own prices (negotiated discounts) that take precedence.", no_args_is_help=True
)
app.add_typer(override_app, name="override")


def _check_choice(value: str | None, flag: str, choices: tuple[str, ...]) -> str | None:
    if value is not None and value.lower() not in choices:
        raise UsageError(f"unknown {flag} {value!r}; use one of {', '.join(choices)}")
    return value.lower() if value is not None else None


def _check_accelerator(value: str | None) -> str | None:
    if value is None:
        return None
    families = {spec.family.lower() for spec in KNOWN_ACCELERATORS.values()}
    if value.lower() not in families and canonical_accelerator(value) is None:
        raise UsageError(
            f"unknown accelerator {value!r}; use one of {', '.join(KNOWN_ACCELERATORS)}"
        )
    return value


def _accelerator_text(offer: Offer) -> str:
    if not offer.has_accelerator:
        return "-"
    return f"{offer.accelerator_count}x {offer.accelerator_name}"


@app.command("list")
def list_offers(
    provider: Annotated[str | None, typer.Option(help="aws, gcp or azure.")] = None,
    region: Annotated[str | None, typer.Option(help="Region, e.g. us-east-1.")] = None,
    accelerator: Annotated[
        str | None, typer.Option(help="Accelerator or family, e.g. T4, A100.")
    ] = None,
    min_vcpus: Annotated[int | None, typer.Option(min=1, help="At least this many vCPUs.")] = None,
    min_memory_gib: Annotated[
        float | None, typer.Option(min=0, help="At least this much memory (GiB).")
    ] = None,
    arch: Annotated[str | None, typer.Option(help="x86_64 or arm64.")] = None,
    max_usd_per_hour: Annotated[
        float | None, typer.Option(min=0, help="At most this $/hour.")
    ] = None,
    spot: Annotated[
        bool, typer.Option("--spot", help="Only offers with a spot price; sort by it.")
    ] = False,
    gpu: Annotated[
        bool | None, typer.Option("--gpu/--cpu-only", help="Only accelerated / only CPU machines.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="Show at most this many rows.")] = 50,
    as_json: JsonOption = False,
    home: HomeOption = None,
) -> None:
    """List offers that match the filters, cheapest first."""
    query = OfferQuery(
        provider=_check_choice(provider, "provider", PROVIDERS),
        region=region,
        accelerator=_check_accelerator(accelerator),
        min_vcpus=min_vcpus,
        min_memory_gib=min_memory_gib,
        arch=_check_choice(arch, "arch", ARCHES),
        max_usd_per_hour=max_usd_per_hour,
        is_spot=spot,
        has_accelerator=gpu,
    )
    offers = current_catalog(home).select(query)[:limit]
    if as_json:
        print_json(offers)
        return
    if not offers:
        err_console.print(
            "no offer matches these filters; loosen one (see mlcost catalog list --help)"
        )
        raise typer.Exit(1)
    rows = [
        [
            o.provider,
            o.region,
            o.instance_type,
            str(o.vcpus),
            f"{o.memory_gib:g}",
            _accelerator_text(o),
            o.arch,
            usd(o.on_demand_usd_per_hour),
            usd(o.spot_usd_per_hour),
            o.interruption_bucket or "-",
            str(o.as_of or "-"),
            o.origin,
            short_sources(o.source),
        ]
        for o in offers
    ]
    columns = [
        "provider",
        "region",
        "instance",
        "vCPU",
        "GiB",
        "accelerator",
        "arch",
        "on-demand $/h",
        "spot $/h",
        "interrupt",
        "as of",
        "origin",
        "source",
    ]
    console.print(
        table(
            "Offers (list prices, cheapest first)",
            columns,
            rows,
            caption="Prices are catalog list prices (not measured); origin says which layer set them.",
        )
    )


@app.command("show")
def show_offer(
    instance_type: Annotated[str, typer.Argument(help="Instance type, e.g. g4dn.xlarge.")],
    region: Annotated[str | None, typer.Option(help="Only this region.")] = None,
    provider: Annotated[str | None, typer.Option(help="Only this provider.")] = None,
    as_json: JsonOption = False,
    home: HomeOption = None,
) -> None:
    """Show one instance type in every region: specs, prices by pricing model, sources."""
    catalog = current_catalog(home)
    offers = catalog.find(
        instance_type, region=region, provider=_check_choice(provider, "provider", PROVIDERS)
    )
    if not offers:
        raise UsageError(
            f"{instance_type} is not in the catalog{f' for {region}' if region else ''}; "
            "see mlcost catalog list, or import a price file with mlcost catalog import"
        )
    if as_json:
        print_json([{"offer": o, "pricing": pricing_options(o, catalog)} for o in offers])
        return
    for offer in offers:
        _print_offer(offer, catalog)


def _bound(is_upper_bound: bool) -> str:
    # An "up to N % off" figure gives the lowest price possible, not this machine's rate.
    return ">= " if is_upper_bound else ""


def _print_offer(offer: Offer, catalog: Catalog) -> None:
    console.print(
        f"[bold]{offer.instance_type}[/bold]  {offer.provider} {offer.region}  "
        f"{offer.vcpus} vCPU, {offer.memory_gib:g} GiB, {offer.arch}, accelerator {_accelerator_text(offer)}"
        + (f" ({offer.accelerator_memory_gib:g} GiB each)" if offer.accelerator_memory_gib else "")
    )
    rows = [
        [
            p.pricing,
            _bound(p.is_upper_bound) + usd(p.usd_per_hour),
            _bound(p.is_upper_bound) + usd(p.monthly_usd(), 2),
            p.basis,
        ]
        for p in pricing_options(offer, catalog)
    ]
    console.print(table("", ["pricing", "$/h", "$/month (730 h)", "basis"], rows))
    console.print(
        f"  origin: {offer.origin}   as of: {offer.as_of or 'date not exposed by source'}"
    )
    for source in offer.source.split(" | "):
        console.print(f"  source: {source}", soft_wrap=True)
    if offer.note:
        console.print(f"  note: {offer.note}", soft_wrap=True)
    console.print()


@app.command("prices")
def show_price_book(as_json: JsonOption = False, home: HomeOption = None) -> None:
    """Show the other prices a bill needs: commitments, serverless, platform, transfer, storage."""
    book = current_catalog(home).prices
    if as_json:
        print_json(book)
        return
    console.print(
        table(
            "Commitments (savings plans, committed use)",
            ["provider", "name", "term", "% off", "families", "source"],
            [
                [
                    c.provider,
                    c.name,
                    f"{c.term_years}y",
                    ("up to " if c.is_upper_bound else "") + f"{c.discount_fraction:.1%}",
                    ",".join(c.families) or "all",
                    c.source,
                ]
                for c in book.commitments
            ],
        )
    )
    console.print(
        table(
            "Serverless",
            ["provider", "service", "$/1M requests", "$/GB-s", "$/vCPU-s", "source"],
            [
                [
                    s.provider,
                    s.service,
                    usd(s.usd_per_million_requests, 2),
                    f"{s.usd_per_gb_second:.10f}",
                    f"{s.usd_per_vcpu_second:.6f}",
                    s.source,
                ]
                for s in book.serverless
            ],
        )
    )
    console.print(
        table(
            "Platform (control planes, load balancers, addresses, NAT, front doors)",
            ["provider", "item", "name", "$ per unit", "free/month", "as of", "source"],
            [
                [
                    p.provider,
                    p.item,
                    p.name,
                    f"{p.usd:g} per {p.unit}",
                    f"{p.free_units_per_month:g}" if p.free_units_per_month else "",
                    str(p.as_of or "undated"),
                    p.source,
                ]
                for p in book.platform
            ],
        )
    )
    console.print(
        table(
            "Data transfer",
            ["provider", "kind", "$/GB", "free GB/month", "note", "source"],
            [
                [
                    t.provider,
                    t.kind,
                    usd(t.usd_per_gb, 3),
                    f"{t.free_gb_per_month:g}",
                    t.note,
                    t.source,
                ]
                for t in book.transfer
            ],
        )
    )
    console.print(
        table(
            "Storage",
            ["provider", "kind", "name", "$/GB-month", "source"],
            [
                [s.provider, s.kind, s.name, usd(s.usd_per_gb_month, 3), s.source]
                for s in book.storage
            ],
        )
    )


@app.command("import")
def import_prices(
    file: Annotated[
        Path, typer.Argument(help="A SkyPilot vms.csv or an AWS Price List offer file (JSON).")
    ],
    format: Annotated[
        str | None, typer.Option(help="skypilot-vms or aws-price-list (default: detect).")
    ] = None,
    provider: Annotated[
        str | None, typer.Option(help="Provider, when the file does not say.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Validate only; write nothing.")
    ] = False,
    as_json: JsonOption = False,
    home: HomeOption = None,
) -> None:
    """Import prices from an authoritative file; imported prices replace shipped ones.

    The whole file is validated first; on any error nothing is written.
    """
    from mlcost.catalog import import_price_file, read_price_file

    checked_provider = _check_choice(provider, "provider", PROVIDERS)
    if dry_run:
        result = read_price_file(file, format=format, provider=checked_provider)
        record = None
    else:
        with open_store(home) as store:
            record, result = import_price_file(
                store, file, format=format, provider=checked_provider
            )
    warnings = [str(issue) for issue in result.issues]
    if as_json:
        print_json(
            {
                "import": record,
                "format": result.format,
                "offers": len(result.offers),
                "warnings": warnings,
            }
        )
        return
    for warning in warnings:
        err_console.print(warning, soft_wrap=True, highlight=False)
    verb = "would import" if dry_run else "imported"
    console.print(
        f"{verb} {len(result.offers)} offers from {file.name} ({result.format}); {len(warnings)} warnings"
    )


@override_app.command("set")
def set_override(
    instance_type: Annotated[str, typer.Argument(help="Instance type, e.g. g4dn.xlarge.")],
    region: Annotated[str, typer.Option(help="Region of the offer.")],
    provider: Annotated[
        str | None, typer.Option(help="Provider (default: the one that sells this type).")
    ] = None,
    on_demand: Annotated[
        float | None, typer.Option(min=0.000001, help="Your on-demand $/hour.")
    ] = None,
    spot: Annotated[float | None, typer.Option(min=0.000001, help="Your spot $/hour.")] = None,
    discount_pct: Annotated[
        float | None, typer.Option(min=0.0, max=99.9, help="% off on-demand (e.g. EDP).")
    ] = None,
    note: Annotated[str, typer.Option(help="Why (shown with the price).")] = "",
    home: HomeOption = None,
) -> None:
    """Set your own price for one offer; it takes precedence and is shown as an override."""
    if on_demand is None and spot is None and discount_pct is None:
        raise UsageError("give at least one of --on-demand, --spot or --discount-pct")
    if on_demand is not None and discount_pct is not None:
        raise UsageError("give --on-demand or --discount-pct, not both")
    with open_store(home) as store:
        from mlcost.catalog import load_catalog

        offer = load_catalog(store).require_offer(instance_type, region=region, provider=provider)
        effective_od = on_demand or offer.on_demand_usd_per_hour * (1 - (discount_pct or 0) / 100)
        if spot is not None and spot >= effective_od:
            raise UsageError(
                f"spot ${spot:g}/h is not below on-demand ${effective_od:g}/h; check --spot"
            )
        store.set_override(
            PriceOverride(
                offer.provider,
                region,
                instance_type,
                on_demand,
                spot,
                None if discount_pct is None else discount_pct / 100,
                note,
            )
        )
    console.print(f"override set for {offer.provider}/{region}/{instance_type}")


@override_app.command("list")
def list_overrides(as_json: JsonOption = False, home: HomeOption = None) -> None:
    """List your overrides."""
    with open_store(home) as store:
        overrides = store.overrides()
    if as_json:
        print_json(overrides)
        return
    rows = [
        [
            o.provider,
            o.region,
            o.instance_type,
            usd(o.on_demand_usd_per_hour),
            usd(o.spot_usd_per_hour),
            "-" if o.discount_fraction is None else f"{o.discount_fraction:.1%}",
            o.note,
        ]
        for o in overrides
    ]
    console.print(
        table(
            "Price overrides",
            ["provider", "region", "instance", "on-demand $/h", "spot $/h", "% off", "note"],
            rows,
        )
    )


@override_app.command("remove")
def remove_override(
    instance_type: Annotated[str, typer.Argument(help="Instance type.")],
    region: Annotated[str, typer.Option(help="Region of the override.")],
    provider: Annotated[str, typer.Option(help="Provider.")] = "aws",
    home: HomeOption = None,
) -> None:
    """Remove one override; the catalog price applies again."""
    with open_store(home) as store:
        if not store.remove_override(provider, region, instance_type):
            raise UsageError(
                f"no override for {provider}/{region}/{instance_type}; see mlcost catalog override list"
            )
    console.print(f"override removed for {provider}/{region}/{instance_type}")
