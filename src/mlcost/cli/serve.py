"""`mlcost serve [serve.yaml]`: the workspace's variants over HTTP, behind the cascade."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mlcost.cli._context import HomeOption, current_catalog, open_store
from mlcost.core import (
    CatalogError,
    Profile,
    ServeError,
    UsageError,
    Variant,
    load_yaml_model,
    yaml_line,
)

if TYPE_CHECKING:
    from mlcost.serve import MachinePrice, ServeConfig, Threshold

app = typer.Typer()

_EXAMPLES = {
    "tiers": "tiers: [{name: student, variant: distilled-int8}]",
    "name": "name: student",
    "url": "url: http://teacher:8000",
}


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
    home: HomeOption = None,
) -> None:
    """Serve variants over HTTP with dynamic batching, a cascade, metrics and a graceful drain."""
    from mlcost.serve import serve, single_variant_config

    if (config_file is None) == (variant is None):
        raise UsageError("give a serve.yaml or --variant NAME (one of them)")
    if config_file is not None:
        config = load_serve_config(config_file)
        changes = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
        config = config.model_copy(update=changes)
    else:
        assert variant is not None
        config = single_variant_config(variant, host or "127.0.0.1", 8000 if port is None else port)
    with open_store(home) as store:
        variants = {v.name: v for v in store.variants()}
        profiles = {
            name: p for name in variants if (p := _latest(store.profiles(name), variants[name]))
        }
    price = _machine_price(config, home)
    code = serve(
        config, variants=variants, profiles=profiles, price=price, threshold_from=read_threshold
    )
    raise typer.Exit(code)


def load_serve_config(path: Path) -> ServeConfig:
    """The validated serve.yaml; a relative threshold_file is taken from the file's folder."""
    from mlcost.serve import ServeConfig

    root, config = load_yaml_model(
        path,
        ServeConfig,
        error=ServeError,
        example_file="examples/serve.yaml",
        examples=_EXAMPLES,
        what="the serve file",
    )
    file = config.cascade.threshold_file
    if file is None:
        return config
    resolved = file if file.is_absolute() else path.parent / file
    if not resolved.is_file():
        line = yaml_line(root, ("cascade", "threshold_file"))
        raise ServeError(
            f"{path}:{line}: cascade.threshold_file: no file at {resolved}; run "
            "mlcost cascade calibrate, or give the threshold as cascade.threshold"
        )
    cascade = config.cascade.model_copy(update={"threshold_file": resolved})
    return config.model_copy(update={"cascade": cascade})


def read_threshold(path: Path) -> Threshold:
    """The threshold a calibration file (mlcost cascade calibrate) chose."""
    from mlcost.serve import Threshold

    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        chosen = record["chosen"]
        return Threshold(
            float(chosen["threshold"]),
            chosen["confidence"],
            float(chosen.get("temperature", 1.0)),
            f"{path.name}: {chosen['method']} on {record['rows']['count']} {record['rows']['split']} rows",
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ServeError(
            f"{path}: not a calibration file ({exc}); write it with mlcost cascade calibrate"
        ) from exc


def _latest(profiles: list[Profile], variant: Variant) -> Profile | None:
    same = [
        p for p in profiles if p.variant_key == variant.recipe.get("key") and p.basis == "measured"
    ]
    return same[-1] if same else None


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
