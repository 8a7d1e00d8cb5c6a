"""`mlcost audit PATH...` and `mlcost diff OLD NEW`: manifests checked for waste, changes priced."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mlcost.cli._context import HomeOption, console, current_catalog, err_console, read_plan
from mlcost.core import UsageError, write_text_atomic

if TYPE_CHECKING:
    from mlcost.audit import Diff, Finding, Setup, Severity
    from mlcost.catalog import Catalog
    from mlcost.core import Workload

app = typer.Typer()

EXIT_FINDINGS = 1
# mlcost.audit's DEFAULT_REGION, kept here so that the CLI starts without importing the stage.
DEFAULT_REGION = "us-east-1"
RegionOption = Annotated[str, typer.Option(help="The region of pools that name none (AWS).")]


class Format(StrEnum):
    table = "table"
    json = "json"
    sarif = "sarif"


class FailOn(StrEnum):
    info = "info"
    warning = "warning"
    error = "error"
    never = "never"


_SEVERITY: dict[FailOn, Severity] = {
    FailOn.info: "info",
    FailOn.warning: "warning",
    FailOn.error: "error",
}


@app.command("audit")
def audit_command(
    paths: Annotated[
        list[str],
        typer.Argument(help="Manifest files or folders (searched recursively); - reads stdin."),
    ],
    output_format: Annotated[
        Format, typer.Option("--format", help="table, json or sarif (SARIF 2.1.0).")
    ] = Format.table,
    out: Annotated[
        Path | None, typer.Option(help="Write the json or sarif output to this file.")
    ] = None,
    fail_on: Annotated[
        FailOn,
        typer.Option(help="Exit 1 when a finding is this severe or worse (never: always 0)."),
    ] = FailOn.error,
    workload: Annotated[
        Path | None,
        typer.Option(
            help="A workload.yaml: its data_location and traffic price cross-region access."
        ),
    ] = None,
    region: RegionOption = DEFAULT_REGION,
    home: HomeOption = None,
) -> int:
    """Check manifests for what wastes money or breaks a drain, each finding with its saving."""
    from mlcost.audit import (
        at_or_above,
        audit_cluster,
        finding_json,
        read_cluster,
        read_manifests,
        saving_upper_bound,
        to_sarif,
    )

    catalog = current_catalog(home)
    user_workload = _read_workload(workload) if workload is not None else None
    cluster = read_cluster(read_manifests(paths), catalog, default_region=region)
    findings = audit_cluster(cluster, catalog, workload=user_workload)
    if output_format is Format.table:
        _print_table(findings, cluster.manifests.files)
        console.print(
            f"these manifests run about ${cluster.monthly_usd:,.2f}/month (estimated from catalog "
            f"prices; traffic-driven lines not in manifests left out); up to "
            f"${saving_upper_bound(findings):,.2f}/month to save (the largest saving per object, "
            "as fixes of the same nodes overlap)",
            highlight=False,
        )
    else:
        body = (
            to_sarif(findings, base=Path.cwd())
            if output_format is Format.sarif
            else {
                "findings": [finding_json(f) for f in findings],
                "files": list(cluster.manifests.files),
                "monthly_usd": round(cluster.monthly_usd, 2),
                "monthly_usd_is": "estimated",
                "saving_upper_bound_usd_per_month": round(saving_upper_bound(findings), 2),
            }
        )
        text = json.dumps(body, indent=2) + "\n"
        if out is None:
            typer.echo(text, nl=False)
        else:
            write_text_atomic(out, text)
            err_console.print(f"{len(findings)} findings written to {out}", highlight=False)
    if fail_on is not FailOn.never and at_or_above(findings, _SEVERITY[fail_on]):
        return EXIT_FINDINGS
    return 0


def _print_table(findings: list[Finding], files: tuple[str, ...]) -> None:
    from rich.table import Table

    grid = Table(show_lines=False)
    for column in ("severity", "rule", "object", "where", "finding and fix", "saving/month"):
        grid.add_column(
            column, overflow="fold", justify="right" if column == "saving/month" else "left"
        )
    for f in findings:
        saving = f"${f.saving_usd_per_month:,.2f}" if f.saving_usd_per_month is not None else "-"
        grid.add_row(
            f.severity,
            f"{f.rule.id} {f.rule.name}",
            f.object or "-",
            f"{f.file}:{f.line}" if f.line else f.file,
            f"{f.message}\nfix: {f.fix}",
            saving,
        )
    console.print(grid)
    console.print(f"{len(findings)} findings in {len(files)} files", highlight=False)


def _read_workload(path: Path) -> Workload:
    from mlcost.plan import load_workload

    return load_workload(path)


@app.command("diff")
def diff_command(
    old: Annotated[Path, typer.Argument(help="plan.json, or a folder or file of manifests.")],
    new: Annotated[Path, typer.Argument(help="plan.json, or a folder or file of manifests.")],
    out: Annotated[
        Path | None, typer.Option(help="Write the markdown (a pull-request comment) here too.")
    ] = None,
    fail_above_usd: Annotated[
        float | None,
        typer.Option(
            help="Exit 1 when the new setup costs more than this many $/month above the old."
        ),
    ] = None,
    region: RegionOption = DEFAULT_REGION,
    home: HomeOption = None,
) -> int:
    """Price two setups (plans or manifest folders) and show what moved, line by line."""
    result = show_diff(old, new, out=out, region=region, home=home)
    if fail_above_usd is not None and result.delta_usd > fail_above_usd:
        err_console.print(
            f"the change adds ${result.delta_usd:,.2f}/month, above --fail-above-usd {fail_above_usd:g}",
            highlight=False,
        )
        return EXIT_FINDINGS
    return 0


def show_diff(
    old: Path,
    new: Path,
    *,
    out: Path | None = None,
    region: str = DEFAULT_REGION,
    home: Path | None,
) -> Diff:
    """Print (and with ``out``, write) the markdown diff of two setups; return the diff."""
    from mlcost.audit import diff, to_markdown

    catalog = current_catalog(home)
    result = diff(_setup(old, catalog, region), _setup(new, catalog, region))
    text = to_markdown(result)
    typer.echo(text, nl=False)
    if out is not None:
        write_text_atomic(out, text)
    return result


def _setup(path: Path, catalog: Catalog, region: str) -> Setup:
    from mlcost.audit import read_cluster, read_manifests, setup_from_cluster, setup_from_plan

    if not path.exists():
        raise UsageError(f"{path} not found; give a plan.json or a folder of manifests")
    if path.is_file() and path.suffix == ".json" and _is_plan(path):
        return setup_from_plan(read_plan(path), str(path))
    manifests = read_manifests([path])
    if not manifests.objects:
        problems = "; ".join(f"{p.file}:{p.line}: {p.message}" for p in manifests.problems[:2])
        raise UsageError(f"{path}: no Kubernetes objects to price ({problems or 'empty'})")
    for problem in manifests.problems:
        err_console.print(
            f"warning: {problem.file}:{problem.line}: {problem.message} (left out of the price)",
            highlight=False,
        )
    return setup_from_cluster(read_cluster(manifests, catalog, default_region=region), str(path))


def _is_plan(path: Path) -> bool:
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        return False
    return isinstance(body, dict) and "winner" in body
