"""`mlcost monitor`: a running workload's live cost and utilization against its plan.

One command group: `mlcost monitor --prometheus URL` reads a workload now;
`mlcost monitor rules` and `mlcost monitor dashboard-json` write the alerting rules and the
Grafana dashboard for the same signals, with the plan's figures as limits and lines.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mlcost.cli._context import (
    HomeOption,
    JsonOption,
    console,
    current_catalog,
    open_store,
    print_json,
    read_plan,
    table,
)
from mlcost.core import UsageError, write_text_atomic

if TYPE_CHECKING:
    from mlcost.core import MonitorReading, Plan
    from mlcost.finops import Calibrated

app = typer.Typer(
    name="monitor",
    invoke_without_command=True,
    help="Read a running workload's cost, utilization and plan-vs-actual from Prometheus.",
)

PlanOption = Annotated[
    Path | None, typer.Option("--plan", help="plan.json: compare with what it predicted.")
]
CascadeOption = Annotated[
    Path | None,
    typer.Option(help="cascade.json (mlcost cascade calibrate): the calibrated escalation rate."),
]
WorkloadOption = Annotated[
    str | None,
    typer.Option(
        help="The workload: its servers' scrape job and Deployment name. Default: the plan's "
        "name, else the one job with mlcost serve metrics."
    ),
]
OutOption = Annotated[Path, typer.Option("--out", help="The file to write.")]


@app.callback()
def monitor_command(
    ctx: typer.Context,
    prometheus: Annotated[
        str | None, typer.Option(help="Prometheus' base URL (http://host:9090).")
    ] = None,
    plan_file: PlanOption = None,
    workload: WorkloadOption = None,
    window: Annotated[
        str, typer.Option(help="How far back to read (a Prometheus duration: 1h, 30m, 1d).")
    ] = "1h",
    cascade: CascadeOption = None,
    json_output: JsonOption = False,
    record: Annotated[
        bool, typer.Option("--record", help="Keep the reading in the store (for the report).")
    ] = False,
    home: HomeOption = None,
) -> None:
    """Read a workload's cost, utilization and plan-vs-actual from Prometheus, every figure
    labelled measured or estimated."""
    if ctx.invoked_subcommand is not None:
        return
    from mlcost.finops import Prometheus, find_workload, read_monitor, window_seconds

    if prometheus is None:
        raise UsageError(
            "give --prometheus URL (http://host:9090), or a sub-command: rules, dashboard-json"
        )
    try:
        window_s = window_seconds(window)
    except ValueError as exc:
        raise UsageError(f"--window: {exc}") from exc
    plan = read_plan(plan_file) if plan_file is not None else None
    calibrated = _calibration(cascade)
    catalog = current_catalog(home)
    with Prometheus(prometheus) as client:
        name = _workload(workload, plan) or find_workload(client)
        reading = read_monitor(
            client, name, window_s=window_s, catalog=catalog, plan=plan, calibrated=calibrated
        )
    if record:
        with open_store(home) as store:
            store.record_monitor_reading(reading)
    if json_output:
        print_json(reading)
    else:
        _show(reading, is_recorded=record)


@app.command("rules")
def rules_command(
    out: OutOption,
    workload: WorkloadOption = None,
    plan_file: PlanOption = None,
    cascade: CascadeOption = None,
) -> None:
    """Write Prometheus alerting rules for the workload's signals (check with promtool)."""
    from mlcost.finops import alerting_rules, rules_yaml

    name, plan, calibrated = _written_for(workload, plan_file, cascade)
    rules = alerting_rules(name, plan=plan, calibrated=calibrated)
    write_text_atomic(out, rules_yaml(rules))
    alerts = [rule["alert"] for group in rules["groups"] for rule in group["rules"]]
    console.print(
        f"{len(alerts)} alerting rules for {name} written to {out} ({', '.join(alerts)}); "
        f"check them with promtool check rules {out}",
        highlight=False,
    )


@app.command("dashboard-json")
def dashboard_command(
    out: OutOption,
    workload: WorkloadOption = None,
    plan_file: PlanOption = None,
    cascade: CascadeOption = None,
) -> None:
    """Write a Grafana dashboard (JSON model) of the workload's signals beside the plan's."""
    from mlcost.finops import dashboard, dashboard_json

    name, plan, calibrated = _written_for(workload, plan_file, cascade)
    model = dashboard(name, plan=plan, calibrated=calibrated)
    write_text_atomic(out, dashboard_json(model))
    console.print(
        f"Grafana dashboard for {name} ({len(model['panels'])} panels) written to {out}; "
        "import it in Grafana (Dashboards > New > Import) and pick the Prometheus data source",
        highlight=False,
    )


def _calibration(cascade: Path | None) -> Calibrated | None:
    from mlcost.finops import read_calibration

    if cascade is None:
        return None
    if not cascade.is_file():
        raise UsageError(f"--cascade: {cascade} not found; write it with mlcost cascade calibrate")
    return read_calibration(cascade)


def _workload(workload: str | None, plan: Plan | None) -> str | None:
    """The --workload given (checked), else the plan's name where it is a Kubernetes name."""
    from mlcost.finops import WORKLOAD_NAME

    if workload is not None:
        if not WORKLOAD_NAME.fullmatch(workload):
            raise UsageError(
                f"--workload {workload!r}: give its scrape job and Deployment name, a "
                "Kubernetes name (lower-case letters, digits and '-')"
            )
        return workload
    if plan is not None and WORKLOAD_NAME.fullmatch(plan.workload):
        return plan.workload
    return None


def _written_for(
    workload: str | None, plan_file: Path | None, cascade: Path | None
) -> tuple[str, Plan | None, Calibrated | None]:
    """What the rules and the dashboard are written for: the workload, its plan, its calibration."""
    plan = read_plan(plan_file) if plan_file is not None else None
    name = _workload(workload, plan)
    if name is None:
        raise UsageError("give --workload NAME (the servers' scrape job), or a --plan named so")
    return name, plan, _calibration(cascade)


def _show(reading: MonitorReading, *, is_recorded: bool) -> None:
    """The reading as tables: figures, plan vs actual, then flags and notes."""
    console.print(
        f"{reading.workload}: {_duration(reading.covered_s)} of the "
        f"{_duration(reading.window_s)} window, to {reading.taken_at:%Y-%m-%d %H:%M:%S} UTC "
        f"(last scrape), from {reading.source}",
        highlight=False,
    )
    rows = [
        [
            f.name,
            _format(f.name, f.value),
            f.basis,
            f.note or ("" if f.value is not None else "absent"),
        ]
        for f in reading.figures
    ]
    console.print(table("Figures", ["figure", "value", "basis", "note"], rows))
    if reading.plan_gaps:
        gaps = [
            [
                gap.name,
                _format(gap.name, gap.actual),
                _format(gap.name, gap.planned),
                f"{gap.gap_fraction:+.1%}" if gap.gap_fraction is not None else "-",
            ]
            for gap in reading.plan_gaps
        ]
        console.print(
            table(
                "Plan vs actual",
                ["figure", "actual (measured)", "plan (estimated)", "% gap"],
                gaps,
                caption=f"plan option: {reading.plan_option}; cost is compute only",
            )
        )
    for flag in reading.flags:
        console.print(f"[bold red]flag:[/] {flag}", highlight=False)
    for note in reading.notes:
        console.print(f"note: {note}", highlight=False, markup=False)
    if is_recorded:
        console.print("reading recorded in the store", highlight=False)


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.3g} h"
    if seconds >= 60:
        return f"{seconds / 60:.3g} min"
    return f"{seconds:.3g} s"


def _format(name: str, value: float | None) -> str:
    """A figure's value in its unit, read off its name."""
    if value is None:
        return "-"
    if "usd" in name:
        return f"${value:,.2f}" if value >= 1 else f"${value:.6f}"
    if any(part in name for part in ("rate", "utilization", "active", "per_node_month")):
        return f"{value:.1%}"
    if name.startswith("latency_ms"):
        return f"{value:,.1f} ms"
    if name.endswith("_per_s"):
        return f"{value:,.2f}/s"
    return f"{value:,.2f}" if value % 1 else f"{value:,.0f}"
