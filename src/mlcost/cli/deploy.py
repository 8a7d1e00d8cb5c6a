"""`mlcost deploy render plan.json --out k8s/`: the plan as the manifests that run it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mlcost import __version__
from mlcost.cli._context import console, err_console
from mlcost.core import UsageError

if TYPE_CHECKING:
    from mlcost.core import Plan

app = typer.Typer(help="Render a plan as what runs it (Kubernetes manifests, validated).")

DEFAULT_IMAGE = f"mlcost-serve:{__version__}"


@app.command("render")
def render_command(
    plan_file: Annotated[Path, typer.Argument(help="plan.json, as mlcost plan wrote it.")],
    out: Annotated[Path, typer.Option(help="Folder for the manifests (replaced whole).")] = Path(
        "k8s"
    ),
    image: Annotated[
        str,
        typer.Option(help="The mlcost serve image (docker build -t IMAGE . with the Dockerfile)."),
    ] = DEFAULT_IMAGE,
    crd_schemas: Annotated[
        Path | None,
        typer.Option(
            envvar="MLCOST_CRD_SCHEMAS",
            help="Folder of CRD JSON schemas ({group}/{kind}_{version}.json) to validate the "
            "custom resources against; without it they are written unchecked.",
        ),
    ] = None,
) -> list[Path]:
    """Render the plan's Kubernetes option: Deployment, Service, Ingress, HPA, PDB, node pools."""
    from mlcost.deploy import KUBERNETES_VERSION, render_kubernetes, require_valid, write_manifests

    plan = _read_plan(plan_file)
    if crd_schemas is not None and not crd_schemas.is_dir():
        raise UsageError(f"--crd-schemas {crd_schemas}: not a folder")
    rendered = render_kubernetes(plan, image=image)
    require_valid(rendered.objects, kubernetes_version=KUBERNETES_VERSION, crd_schemas=crd_schemas)
    files = write_manifests(out, rendered.objects, rendered.notes)
    for note in rendered.notes:
        console.print(f"  {note}", highlight=False, markup=False)
    checked = "and its custom resources against their CRD schemas" if crd_schemas else ""
    console.print(
        f"{len(files)} manifests written to {out}/ (valid for Kubernetes {KUBERNETES_VERSION}, "
        f"strict{', ' + checked if checked else ''}); apply with kubectl apply -f {out}/",
        highlight=False,
    )
    if crd_schemas is None:
        err_console.print(
            "note: custom resources (NodePool, EC2NodeClass, ServiceMonitor) were not validated: "
            "give --crd-schemas DIR",
            highlight=False,
        )
    return files


@app.command("sam")
def sam_command(
    plan_file: Annotated[Path, typer.Argument(help="plan.json, as mlcost plan wrote it.")],
    out: Annotated[Path, typer.Option(help="Where to write the SAM template.")] = Path(
        "template.yaml"
    ),
) -> Path:
    """Render the plan's AWS Lambda option as an AWS SAM template, linted with cfn-lint."""
    import yaml

    from mlcost.core import DeployError, write_text_atomic
    from mlcost.deploy import lambda_option, lint_sam, render_sam

    plan = _read_plan(plan_file)
    rendered = render_sam(plan)
    text = yaml.safe_dump(rendered.objects[0], sort_keys=False)
    problems = lint_sam(text, region=lambda_option(plan).offer.region)
    if problems:
        raise DeployError("cfn-lint: " + "; ".join(problems[:3]))
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out, text)
    for note in rendered.notes:
        console.print(f"  {note}", highlight=False, markup=False)
    console.print(
        f"SAM template written to {out} (cfn-lint clean); deploy with sam deploy -t {out} "
        "--parameter-overrides ImageUri=ECR_IMAGE --resolve-image-repos",
        highlight=False,
    )
    return out


def _read_plan(plan_file: Path) -> Plan:
    from mlcost.core import Plan, from_jsonable

    if not plan_file.is_file():
        raise UsageError(f"{plan_file} not found; write one with mlcost plan workload.yaml")
    try:
        plan: Plan = from_jsonable(Plan, json.loads(plan_file.read_text(encoding="utf-8")))
    except (ValueError, UnicodeDecodeError) as exc:
        raise UsageError(
            f"{plan_file}: not a plan mlcost wrote ({exc}); run mlcost plan again"
        ) from exc
    return plan
