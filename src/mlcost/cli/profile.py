"""`mlcost profile measure`, `mlcost profile import`: profiles measured here, or brought in."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from typer.core import TyperGroup

from mlcost.cli._context import HomeOption, JsonOption, console, err_console, open_store
from mlcost.cli.compress import DEMO_DATA, DEMO_MODEL, resolve_inputs, show_comparison
from mlcost.core import UsageError
from mlcost.profile import INSTANCE_TYPE_ENV


class _OldSpelling(TyperGroup):
    """Reads `mlcost profile VARIANT...` (the spelling before `measure`) as `profile measure`.

    Kept for one release; it says so on stderr.
    """

    # ``ctx`` is Typer's own (vendored) click Context, which Typer does not export.
    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            err_console.print(
                "note: `mlcost profile VARIANT` is now `mlcost profile measure VARIANT`; "
                "the old spelling goes in the next release",
                highlight=False,
                markup=False,
                soft_wrap=True,
            )
            args = ["measure", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_OldSpelling,
    help="Profiles: measure variants on this machine, or import profiles measured elsewhere.",
    no_args_is_help=True,
)


@app.command("measure")
def measure(
    names: Annotated[
        list[str] | None,
        typer.Argument(help="Variant names to measure again (default: all); the baseline always."),
    ] = None,
    model: Annotated[
        str, typer.Option(help="The model whose split gives the test rows.")
    ] = DEMO_MODEL,
    data: Annotated[str, typer.Option(help="The data the variants were built from.")] = DEMO_DATA,
    text_column: Annotated[str, typer.Option(help="Column with the text.")] = "text",
    label_column: Annotated[str, typer.Option(help="Column with the label.")] = "label",
    encoding: Annotated[str, typer.Option(help="Text encoding of CSV / JSONL files.")] = "utf-8",
    accuracy_budget_pt: Annotated[float, typer.Option(min=0.0)] = 0.5,
    latency_requests: Annotated[int, typer.Option(min=10)] = 200,
    threads: Annotated[int | None, typer.Option(min=1)] = None,
    device: Annotated[
        Literal["cpu", "cuda"],
        typer.Option(help="Run the variants on the CPU, or on the first CUDA GPU."),
    ] = "cpu",
    instance_type: Annotated[
        str | None,
        typer.Option(
            envvar=INSTANCE_TYPE_ENV,
            help="The cloud machine type this is (c7i.large): mlcost plan then takes these "
            "profiles as measured on it.",
        ),
    ] = None,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Measure variants again on this machine and compare them with the baseline."""
    from mlcost.compress import CompressResult
    from mlcost.profile import measure_variants, test_rows

    wanted = list(names or [])
    with open_store(home) as store:
        stored = store.variants()
        unknown = [n for n in wanted if n not in {v.name for v in stored}]
        if unknown:
            raise UsageError(
                f"no variant named {unknown[0]!r}; see mlcost variants list, or build them with mlcost compress"
            )
        chosen = [v for v in stored if v.parent is None or not wanted or v.name in wanted]
        if not chosen:
            raise UsageError("no variants stored yet; build them with mlcost compress")
        inputs = resolve_inputs(model, data, text_column, label_column, encoding, home, as_json)
        say = (err_console if as_json else console).print
        profiles = measure_variants(
            store,
            chosen,
            test_rows(inputs),
            threads=threads,
            latency_requests=latency_requests,
            device=device,
            instance_type=instance_type,
            remeasure=True,
            say=say,
        )
    show_comparison(CompressResult(tuple(chosen), ()), profiles, accuracy_budget_pt, as_json)


@app.command("import")
def import_(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="JSON files of profiles measured on other machines (one profile, a list, or a "
            "mlcost compress --json report)."
        ),
    ],
    home: HomeOption = None,
) -> None:
    """Add profiles measured elsewhere; every file is validated first, a bad one imports nothing."""
    from mlcost.profile import import_profiles

    with open_store(home) as store:
        imported = import_profiles(store, files)
    for p in imported:
        console.print(f"imported {p.basis} profile of {p.variant} on {p.hardware.label}")
