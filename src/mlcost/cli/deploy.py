"""`mlcost deploy render plan.json --out k8s/`: the plan as the manifests that run it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from mlcost import __version__
from mlcost.cli._context import HomeOption, console, current_catalog, err_console, read_plan
from mlcost.cli.compress import DEMO_DATA, DEMO_MODEL
from mlcost.core import UsageError

if TYPE_CHECKING:
    from collections.abc import Sequence


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
    autoscaler: Annotated[
        Literal["hpa", "keda"],
        typer.Option(
            help="hpa: an HPA with its Prometheus Adapter rule; keda: a KEDA ScaledObject on "
            "the same rate (to zero where the plan went there)."
        ),
    ] = "hpa",
    nodes: Annotated[
        Literal["karpenter", "node-groups"],
        typer.Option(
            help="karpenter: its NodePools and EC2NodeClass; node-groups: none, the pods select "
            "the serving group of mlcost deploy node-groups."
        ),
    ] = "karpenter",
    prometheus_url: Annotated[
        str | None,
        typer.Option(
            help="The Prometheus KEDA asks (with --autoscaler keda); default: "
            "kube-prometheus-stack's, in the monitoring namespace."
        ),
    ] = None,
) -> list[Path]:
    """Render the plan's Kubernetes option: Deployment, Service, Ingress, HPA, PDB, node pools."""
    from mlcost.deploy import (
        KUBERNETES_VERSION,
        PROMETHEUS_URL,
        render_kubernetes,
        require_valid,
        write_manifests,
    )

    plan = read_plan(plan_file)
    if crd_schemas is not None and not crd_schemas.is_dir():
        raise UsageError(f"--crd-schemas {crd_schemas}: not a folder")
    rendered = render_kubernetes(
        plan,
        image=image,
        autoscaler=autoscaler,
        nodes=nodes,
        prometheus_url=prometheus_url or PROMETHEUS_URL,
    )
    require_valid(rendered.objects, kubernetes_version=KUBERNETES_VERSION, crd_schemas=crd_schemas)
    files = write_manifests(out, rendered.objects, rendered.notes)
    _print_notes(rendered.notes)
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
    from mlcost.deploy import cloudformation_text, lambda_option, render_sam

    plan = read_plan(plan_file)
    rendered = render_sam(plan)
    text = cloudformation_text(rendered.objects[0], region=lambda_option(plan).offer.region)
    _write_file(out, text, rendered.notes)
    console.print(
        f"SAM template written to {out} (cfn-lint clean); deploy with sam deploy -t {out} "
        "--parameter-overrides ImageUri=ECR_IMAGE --resolve-image-repos",
        highlight=False,
    )
    return out


@app.command("node-groups")
def node_groups_command(
    plan_file: Annotated[Path, typer.Argument(help="plan.json, as mlcost plan wrote it.")],
    out: Annotated[Path, typer.Option(help="Folder for the node groups (replaced whole).")] = Path(
        "node-groups"
    ),
    crd_schemas: Annotated[
        Path | None,
        typer.Option(
            envvar="MLCOST_CRD_SCHEMAS",
            help="Folder of CRD JSON schemas to validate the GKE ComputeClass against; without "
            "it, it is written unchecked.",
        ),
    ] = None,
    home: HomeOption = None,
) -> list[Path]:
    """Render the Kubernetes option's pools without Karpenter: EKS managed node groups, GKE pools."""
    from mlcost.deploy import node_group_files, render_node_groups, write_node_groups

    plan = read_plan(plan_file)
    if crd_schemas is not None and not crd_schemas.is_dir():
        raise UsageError(f"--crd-schemas {crd_schemas}: not a folder")
    groups = render_node_groups(plan, current_catalog(home))
    files = write_node_groups(out, node_group_files(groups, crd_schemas=crd_schemas), groups.notes)
    _print_notes(groups.notes)
    checks = ["the EKS template cfn-lint clean"] if groups.eks is not None else []
    if groups.compute_class is not None:
        checks.append(
            "the ComputeClass valid against its CRD schema"
            if crd_schemas
            else "the ComputeClass unchecked: give --crd-schemas DIR"
        )
    console.print(
        f"{', '.join(path.name for path in files)} written to {out}/ ({'; '.join(checks)}); "
        "render the pods for them with mlcost deploy render --nodes node-groups",
        highlight=False,
    )
    return files


@app.command("cloud-run")
def cloud_run_command(
    plan_file: Annotated[Path, typer.Argument(help="plan.json, as mlcost plan wrote it.")],
    image: Annotated[
        str,
        typer.Option(
            help="The mlcost serve image where Cloud Run pulls it "
            "(REGION-docker.pkg.dev/PROJECT/REPO/mlcost-serve:TAG)."
        ),
    ],
    out: Annotated[Path, typer.Option(help="Where to write the service YAML.")] = Path(
        "service.yaml"
    ),
) -> Path:
    """Render the plan's Cloud Run option as the service YAML gcloud run services replace takes."""
    import yaml

    from mlcost.deploy import cloud_run_option, render_cloud_run, require_cloud_run

    plan = read_plan(plan_file)
    rendered = render_cloud_run(plan, image=image)
    require_cloud_run(rendered.objects[0])
    _write_file(out, yaml.safe_dump(rendered.objects[0], sort_keys=False), rendered.notes)
    console.print(
        f"Cloud Run service written to {out} (checked against Cloud Run's documented fields); "
        f"deploy with gcloud run services replace {out} "
        f"--region {cloud_run_option(plan).offer.region}",
        highlight=False,
    )
    return out


@app.command("vm")
def vm_command(
    plan_file: Annotated[Path, typer.Argument(help="plan.json, as mlcost plan wrote it.")],
    out: Annotated[Path, typer.Option(help="Where to write the CloudFormation template.")] = Path(
        "vm-template.yaml"
    ),
) -> Path:
    """Render the plan's vm-group option as an Auto Scaling group behind its ALB (CloudFormation)."""
    from mlcost.deploy import cloudformation_text, render_vm, vm_option

    plan = read_plan(plan_file)
    rendered = render_vm(plan)
    text = cloudformation_text(rendered.objects[0], region=vm_option(plan).offer.region)
    _write_file(out, text, rendered.notes)
    console.print(
        f"CloudFormation template written to {out} (cfn-lint clean); deploy with aws "
        f"cloudformation deploy --template-file {out} --stack-name NAME --capabilities "
        "CAPABILITY_IAM --parameter-overrides ImageUri=ECR_IMAGE VpcId=VPC Subnets=SUBNET,SUBNET",
        highlight=False,
    )
    return out


def _write_file(out: Path, text: str, notes: Sequence[str]) -> None:
    """Write one rendered file atomically and print the notes it rests on."""
    from mlcost.core import write_text_atomic

    out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out, text)
    _print_notes(notes)


def _print_notes(notes: Sequence[str]) -> None:
    for note in notes:
        console.print(f"  {note}", highlight=False, markup=False)


@app.command("train-job")
def train_job_command(
    workload_file: Annotated[
        Path, typer.Argument(help="training.yaml: the training job, as mlcost plan priced it.")
    ],
    checkpoint_url: Annotated[
        str, typer.Option(help="Where the checkpoints go: object storage, s3://bucket/prefix.")
    ],
    train_args: Annotated[
        list[str] | None,
        typer.Argument(help="Options for mlcost train, after --: -- --model M --data D --epochs 3"),
    ] = None,
    out: Annotated[Path, typer.Option(help="Folder for the manifests (replaced whole).")] = Path(
        "k8s-train"
    ),
    image: Annotated[
        str, typer.Option(help="The mlcost image (with a CUDA build of torch for GPU nodes).")
    ] = DEFAULT_IMAGE,
    step_s: Annotated[
        float | None,
        typer.Option(
            help="The longest training step in seconds: a notice waits for it before the final "
            "checkpoint (the notes print the allowance used)."
        ),
    ] = None,
    home: HomeOption = None,
) -> list[Path]:
    """Render a training job as a spot Indexed Job: torchrun on every node, resumed on preemption."""
    from mlcost.deploy import (
        KUBERNETES_VERSION,
        render_training_job,
        require_valid,
        write_manifests,
    )
    from mlcost.plan import load_training_workload

    args = list(train_args or [])
    _check_train_args(args, checkpoint_url)
    workload = load_training_workload(workload_file)
    spec = workload.training
    offer = current_catalog(home).require_offer(
        spec.instance_type, region=spec.region, provider=spec.provider
    )
    rendered = render_training_job(
        workload, offer, image=image, checkpoint_url=checkpoint_url, train_args=args, step_s=step_s
    )
    require_valid(rendered.objects, kubernetes_version=KUBERNETES_VERSION, crd_schemas=None)
    files = write_manifests(out, rendered.objects, rendered.notes)
    _print_notes(rendered.notes)
    console.print(
        f"{len(files)} manifests written to {out}/ (valid for Kubernetes {KUBERNETES_VERSION}, "
        f"strict); apply with kubectl apply -f {out}/",
        highlight=False,
    )
    return files


@app.command("profile-jobs")
def profile_jobs_command(
    plan_file: Annotated[Path, typer.Argument(help="plan.json, as mlcost plan wrote it.")],
    out: Annotated[Path, typer.Option(help="Folder for the manifests (replaced whole).")] = Path(
        "k8s-profile"
    ),
    image: Annotated[str, typer.Option(help="The mlcost image the Jobs measure with.")] = (
        DEFAULT_IMAGE
    ),
    model: Annotated[
        str, typer.Option(help="The model whose split gives the test rows, as the image sees it.")
    ] = DEMO_MODEL,
    data: Annotated[
        str, typer.Option(help="The data the variants were built from, as the image sees it.")
    ] = DEMO_DATA,
    crd_schemas: Annotated[
        Path | None,
        typer.Option(
            envvar="MLCOST_CRD_SCHEMAS",
            help="Folder of CRD JSON schemas to validate the NodePool against; without it, "
            "it is written unchecked.",
        ),
    ] = None,
) -> list[Path]:
    """Render a Job per machine type the plan estimated: it measures there, into the store."""
    from mlcost.deploy import (
        KUBERNETES_VERSION,
        render_profile_jobs,
        require_valid,
        write_manifests,
    )

    plan = read_plan(plan_file)
    if crd_schemas is not None and not crd_schemas.is_dir():
        raise UsageError(f"--crd-schemas {crd_schemas}: not a folder")
    rendered = render_profile_jobs(plan, image=image, model=model, data=data)
    require_valid(rendered.objects, kubernetes_version=KUBERNETES_VERSION, crd_schemas=crd_schemas)
    files = write_manifests(out, rendered.objects, rendered.notes)
    _print_notes(rendered.notes)
    unchecked = "" if crd_schemas else "; the NodePool unchecked: give --crd-schemas DIR"
    console.print(
        f"{len(files)} manifests written to {out}/ (valid for Kubernetes {KUBERNETES_VERSION}, "
        f"strict{unchecked}); apply with kubectl apply -f {out}/, then plan again",
        highlight=False,
    )
    return files


def _check_train_args(args: list[str], checkpoint_url: str) -> None:
    """Parse ``args`` as mlcost train will in the pods: a typo fails here, not on the cluster."""
    from typer.core import TyperGroup
    from typer.exceptions import TyperException

    from mlcost.cli.train import app as train_app

    group = typer.main.get_command(train_app)
    assert isinstance(group, TyperGroup)  # train and torchrun
    try:
        group.commands["train"].make_context(
            "mlcost train", ["--out", "run", "--checkpoint-url", checkpoint_url, *args]
        )
    except TyperException as exc:  # what click reports for a bad option or value
        raise UsageError(f"mlcost train {' '.join(args)}: {exc.format_message()}") from exc
