"""`mlcost serve [serve.yaml]`: the workspace's variants over HTTP, behind the cascade."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mlcost.cli._context import HomeOption, current_catalog, open_store
from mlcost.core import CatalogError, ServeError, UsageError

if TYPE_CHECKING:
    from mlcost.serve import MachinePrice, ServeConfig

app = typer.Typer()


@app.command("serve")
def serve_command(
    config_file: Annotated[
        Path | None,
        typer.Argument(help="serve.yaml (see examples/serve.yaml).", show_default=False),
    ] = None,
    variant: Annotated[
        str | None, typer.Option(help="Serve this one variant with every default, without a file.")
    ] = None,
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port (0: any free one; the log says which).")
    ] = None,
    max_batch_size: Annotated[
        int | None,
        typer.Option(min=1, max=1024, help="With --variant: the batch cap (1: no batching delay)."),
    ] = None,
    home: HomeOption = None,
) -> None:
    """Serve variants over HTTP with dynamic batching, a cascade, metrics and a graceful drain."""
    from mlcost.profile import latest_measured
    from mlcost.serve import load_serve_config, serve, single_variant_config

    if (config_file is None) == (variant is None):
        raise UsageError("give a serve.yaml or --variant NAME (one of them)")
    if config_file is not None and max_batch_size is not None:
        raise UsageError(
            "--max-batch-size goes with --variant; in a serve.yaml set tiers[].batching"
        )
    if config_file is not None:
        config = load_serve_config(config_file)
        changes = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
        config = config.model_copy(update=changes)
    else:
        assert variant is not None
        config = single_variant_config(
            variant,
            host or "127.0.0.1",
            8000 if port is None else port,
            max_batch_size=max_batch_size,
        )
    with open_store(home) as store:
        variants = {v.name: v for v in store.variants()}
        profiles = {n: p for n, v in variants.items() if (p := latest_measured(store, v))}
    price = _machine_price(config, home)
    code = serve(config, variants=variants, profiles=profiles, price=price)
    raise typer.Exit(code)


def _machine_price(config: ServeConfig, home: Path | None) -> MachinePrice | None:
    from mlcost.serve import MachinePrice

    machine = config.machine
    if machine is None:
        return None
    if machine.price_usd_per_hour is not None:
        return MachinePrice(machine.price_usd_per_hour, "serve.yaml machine.price_usd_per_hour")
    assert machine.instance_type and machine.region
    try:
        offer, usd = current_catalog(home).require_price(
            machine.instance_type, region=machine.region, is_spot=machine.pricing == "spot"
        )
    except CatalogError as exc:
        raise ServeError(f"serve.yaml machine: {exc}") from exc
    as_of = (offer.spot_seen_on if machine.pricing == "spot" else None) or offer.as_of
    source = (
        f"{offer.provider} {offer.instance_type} {offer.region} {machine.pricing}: {offer.source}"
    )
    return MachinePrice(usd, source + (f" ({as_of})" if as_of else ""))
