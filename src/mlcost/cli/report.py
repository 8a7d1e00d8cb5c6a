"""`mlcost report` and `mlcost dashboard`: the plan, the store and the audits as one page."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mlcost.cli._context import HomeOption, console, open_store, read_plan, workspace
from mlcost.core import write_text_atomic

if TYPE_CHECKING:
    from mlcost.report import Sources

app = typer.Typer()

PlanFileOption = Annotated[
    Path,
    typer.Option(
        "--plan", help="plan.json, as mlcost plan wrote it (missing: its sections say so)."
    ),
]
WorkloadOption = Annotated[
    Path,
    typer.Option(
        help="The workload.yaml the plan was made from (its traffic shape replays a day)."
    ),
]
ManifestsOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--manifests",
        help="A folder of manifests to audit (repeat for more); default: the workspace's k8s/, "
        "./k8s and examples/today-k8s, those present.",
        show_default=False,
    ),
]
# Where the demo keeps the manifests a team runs the reference workload with today.
TODAY_MANIFESTS = Path("examples/today-k8s")


@app.command("report")
def report_command(
    out: Annotated[Path, typer.Option(help="Where to write the HTML report.")] = Path(
        "report.html"
    ),
    plan_file: PlanFileOption = Path("plan.json"),
    workload: WorkloadOption = Path("workload.yaml"),
    manifests: ManifestsOption = None,
    home: HomeOption = None,
) -> Path:
    """Write the report: one self-contained HTML file (offline, charts inline) and print its path."""
    from mlcost.report import build_report, render_html

    report = build_report(report_sources(plan_file, workload, manifests, home))
    write_text_atomic(out, render_html(report))
    console.print(f"report written to {out}", highlight=False)
    return out


@app.command("dashboard")
def dashboard_command(
    port: Annotated[int, typer.Option(help="The local port to serve on.")] = 8050,
    host: Annotated[str, typer.Option(help="The address to listen on.")] = "127.0.0.1",
    plan_file: PlanFileOption = Path("plan.json"),
    workload: WorkloadOption = Path("workload.yaml"),
    manifests: ManifestsOption = None,
    home: HomeOption = None,
) -> None:
    """Serve the report's views live: each page drawn from the store when it is asked for."""
    from mlcost.report import serve_dashboard

    console.print(
        f"dashboard on http://{host}:{port}/ (drawn from the store on each request; "
        "Ctrl-C stops it)",
        highlight=False,
    )
    serve_dashboard(
        lambda: report_sources(plan_file, workload, manifests, home), host=host, port=port
    )


def report_sources(
    plan_file: Path, workload_file: Path, manifests: list[Path] | None, home: Path | None
) -> Sources:
    """The report's inputs as they are now; a plan or workload not written yet is None."""
    from mlcost.catalog import load_catalog
    from mlcost.plan import load_workload
    from mlcost.report import read_sources

    plan = read_plan(plan_file) if plan_file.is_file() else None
    workload = load_workload(workload_file) if workload_file.is_file() else None
    with open_store(home) as store:
        return read_sources(
            store,
            load_catalog(store),
            plan=plan,
            workload=workload,
            manifests=manifests or _default_manifests(home),
        )


def _default_manifests(home: Path | None) -> list[Path]:
    """The folders audited when none is named: the workspace's and ./k8s (where mlcost deploy
    render writes), and today's manifests of the demo, each once."""
    found: dict[Path, Path] = {}
    for folder in (workspace(home).home / "k8s", Path("k8s"), TODAY_MANIFESTS):
        if folder.is_dir():
            found.setdefault(folder.resolve(), folder)
    return list(found.values())
