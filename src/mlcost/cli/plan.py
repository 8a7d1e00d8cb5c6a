"""`mlcost plan FILE`: the cheapest way to serve a workload, or to run a training job."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from mlcost.cli._context import (
    HomeOption,
    JsonOption,
    console,
    current_catalog,
    open_store,
    print_json,
)
from mlcost.core import Plan, to_jsonable, write_text_atomic

app = typer.Typer()


@app.command("plan")
def plan(
    workload_file: Annotated[
        Path, typer.Argument(help="workload.yaml (serving) or training.yaml (a training job).")
    ],
    out: Annotated[
        Path, typer.Option(help="Where to write the plan as JSON (the Plan value).")
    ] = Path("plan.json"),
    baseline: Annotated[
        str, typer.Option(help="The variant the accuracy floor counts from: the current model.")
    ] = "baseline",
    as_json: JsonOption = False,
    home: HomeOption = None,
) -> Plan | None:
    """Simulate a month per minute for every candidate and print the cheapest that meets the SLO."""
    from mlcost.plan import workload_kind

    if workload_kind(workload_file) == "training":
        _plan_training(workload_file, out, as_json=as_json, home=home)
        return None
    from mlcost.cli._plan_report import render_plan
    from mlcost.plan import load_workload, plan_serving

    workload = load_workload(workload_file)
    catalog = current_catalog(home)
    with open_store(home) as store:
        variants, profiles = store.variants(), store.profiles()
    result = plan_serving(
        workload, variants=variants, profiles=profiles, catalog=catalog, baseline=baseline
    )
    _emit(to_jsonable(result), out, as_json=as_json, render=lambda: render_plan(result, console))
    return result


def _plan_training(path: Path, out: Path, *, as_json: bool, home: Path | None) -> None:
    from mlcost.cli._training_report import render_training_plan, training_plan_json
    from mlcost.plan import load_training_workload, plan_training_workload

    workload = load_training_workload(path)
    result = plan_training_workload(workload, current_catalog(home))
    _emit(
        training_plan_json(result),
        out,
        as_json=as_json,
        render=lambda: render_training_plan(result, console),
    )


def _emit(data: Any, out: Path, *, as_json: bool, render: Callable[[], None]) -> None:
    """Write the plan JSON atomically, then print it as JSON or as the report."""
    write_text_atomic(out, json.dumps(data, indent=2, sort_keys=True) + "\n")
    if as_json:
        print_json(data)
        return
    render()
    console.print(f"plan written to {out}", highlight=False)
