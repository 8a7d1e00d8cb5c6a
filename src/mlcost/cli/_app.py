"""The `mlcost` command: global options, sub-commands per stage, one-line errors."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from typer.exceptions import TyperException

from mlcost import __version__
from mlcost.cli import (
    audit,
    billing,
    cascade,
    catalog,
    compress,
    cost,
    deploy,
    monitor,
    plan,
    profile,
    report,
    serve,
    train,
)
from mlcost.cli._context import HomeOption, console, err_console, workspace
from mlcost.core import MlcostError, UsageError, write_text_atomic
from mlcost.cost import CaseStudy

if TYPE_CHECKING:
    from mlcost.core import Plan
    from mlcost.profile import Verdict

app = typer.Typer(
    name="mlcost",
    help="Cut what it costs to serve and train ML models, and prove every cut with a measurement.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(catalog.app, name="catalog")
app.add_typer(billing.app, name="billing")
app.add_typer(cost.app, name="cost")
app.add_typer(train.app)
app.add_typer(compress.app)
app.add_typer(compress.variants_app, name="variants")
app.add_typer(profile.app, name="profile")
app.add_typer(plan.app)
app.add_typer(serve.app)
app.add_typer(cascade.app, name="cascade")
app.add_typer(deploy.app, name="deploy")
app.add_typer(audit.app)
app.add_typer(monitor.app)
app.add_typer(report.app)

EXIT_ERROR = 2


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mlcost {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    home: HomeOption = None,
    debug: Annotated[
        bool, typer.Option("--debug", envvar="MLCOST_DEBUG", help="Show tracebacks on errors.")
    ] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """mlcost: measured cost cuts for ML serving and training."""
    if home is not None:
        # The sub-command's own --home reads $MLCOST_HOME as its default, so this
        # makes `mlcost --home X catalog list` and `mlcost catalog list --home X` agree.
        os.environ["MLCOST_HOME"] = str(home)


@app.command("demo")
def demo(
    workload: Annotated[
        Path, typer.Option(help="The workload to plan for (the reference one by default).")
    ] = Path("examples/workload.yaml"),
    home: HomeOption = None,
) -> None:
    """Run the main job end to end on the built-in demo: train the teacher (cached), compress, plan."""
    if not workload.is_file():
        raise UsageError(
            f"{workload} not found; run the demo from the repository root or give --workload FILE"
        )
    train.ensure_demo_teacher(workspace(home).artifacts_dir / "teacher", home)
    verdicts = compress.compress(methods=compress.DEMO_METHODS, home=home)
    _demo_cascade(verdicts, workload, home)
    plan_file = workspace(home).home / "plan.json"
    result = plan.plan(workload, out=plan_file, home=home)
    if result is not None:
        console.print("\nrendering the plan's Kubernetes option")
        schemas = _SHARED_CRD_SCHEMAS if _SHARED_CRD_SCHEMAS.is_dir() else None
        deploy.render_command(plan_file, out=workspace(home).home / "k8s", crd_schemas=schemas)
        if result.winner.platform == "serverless" and result.winner.offer.provider == "aws":
            console.print("\nrendering the plan's winner (AWS Lambda) as a SAM template")
            deploy.sam_command(plan_file, out=workspace(home).home / "lambda" / "template.yaml")
        if any(o.platform == "vm-group" and o.offer.provider == "aws" for o in result.platforms):
            console.print("\nrendering the plan's VM-group option as an Auto Scaling group")
            deploy.vm_command(plan_file, out=workspace(home).home / "vm" / "template.yaml")
        _demo_audit(result, workspace(home).home / "k8s", home)
        story = CaseStudy().waterfall()
        baseline_usd, final_usd = story[0].monthly_usd, story[-1].monthly_usd
        winner = result.winner
        gap = winner.monthly_usd / final_usd - 1.0
        side = "below" if gap < 0 else "above"
        console.print(
            f"\nthe reference story: ${baseline_usd:,.2f} -> ${final_usd:,.2f}/month "
            f"(autoscaling, spot, INT8 on CPU: list-price arithmetic on the machines alone); "
            f"mlcost's plan for the same service: ${winner.monthly_usd:,.2f}/month with its whole "
            f"bill (compute ${winner.cost.compute_usd_per_month:,.2f}, platform "
            f"${winner.cost.platform_usd_per_month:,.2f}, storage "
            f"${winner.cost.storage_usd_per_month:,.2f}, transfer "
            f"${winner.cost.transfer_usd_per_month:,.2f}) on {winner.platform_service or winner.platform}, "
            f"{abs(gap):.0%} {side} the story's final figure (simulated; {winner.speed_basis} "
            "speeds, measured accuracy)",
            highlight=False,
        )
        if _SHARED_FOCUS_SAMPLE.is_file():
            console.print(f"\nimporting a real FOCUS billing export ({_SHARED_FOCUS_SAMPLE})")
            billing.import_command([_SHARED_FOCUS_SAMPLE], home=home)
        console.print("\nwriting the report: every view of the plan, the store and the audits")
        report.report_command(
            out=workspace(home).home / "report.html",
            plan_file=plan_file,
            workload=workload,
            home=home,
        )


def _demo_audit(result: Plan, rendered: Path, home: Path | None) -> None:
    """Audit today's manifests and the plan's, then price the move between them: the
    waterfall's saving to the plan's Kubernetes option, from the manifests' side."""
    from mlcost.deploy import kubernetes_option

    console.print(
        f"\nauditing today's manifests ({report.TODAY_MANIFESTS}/) and the plan's ({rendered}/)"
    )
    audit.audit_command([str(report.TODAY_MANIFESTS)], fail_on=audit.FailOn.never, home=home)
    audit.audit_command([str(rendered)], fail_on=audit.FailOn.never, home=home)
    console.print("\nwhat the move costs, from the manifests (mlcost diff):")
    moved = audit.show_diff(report.TODAY_MANIFESTS, rendered, home=home)
    option = kubernetes_option(result)
    today = result.waterfall[0]
    console.print(
        f"the waterfall, from the plan's side: today ${today.monthly_usd:,.2f} - its Kubernetes "
        f"option ${option.monthly_usd:,.2f} = ${today.monthly_usd - option.monthly_usd:,.2f}/month "
        f"saved (the diff above: ${-moved.delta_usd:,.2f}; the traffic lines both leave out are "
        "equal on both sides)",
        highlight=False,
    )


# A FinOps Foundation FOCUS sample (anonymized, CC BY 4.0) beside the repository.
_SHARED_FOCUS_SAMPLE = Path("../shared/data/focus/focus-1.0-sample.csv")
# The CRD schemas the project validates custom resources against (beside the repository).
_SHARED_CRD_SCHEMAS = Path("../shared/data/k8s-crd-schemas")
_DEMO_STUDENT = "distilled-int8"
_DEMO_MACHINE = {
    "provider": "aws",
    "region": "us-east-1",
    "instance_type": "c7i.large",
    "pricing": "spot",
}


def _demo_cascade(verdicts: list[Verdict], workload: Path, home: Path | None) -> None:
    """Calibrate the demo's cascade (the INT8 student, then the teacher's fastest variant shown
    within the budget) and write the serve.yaml that serves it, batching as the workload's
    serving section says (what the plan's latency model assumed)."""
    import yaml

    from mlcost.cli._context import open_store
    from mlcost.plan import load_workload

    serving = load_workload(workload).serving
    batching = {
        "max_batch_size": serving.max_batch_size,
        "max_queue_delay_ms": serving.max_queue_delay_ms,
    }

    teacher_line = [
        v.variant
        for v in verdicts
        if v.is_within_budget and not v.variant.startswith(("distilled", "pruned"))
    ]
    with open_store(home) as store:
        p50 = {name: store.profiles(name)[-1].latency_ms_p50 for name in teacher_line}
    tier2 = min(teacher_line, key=lambda name: p50[name])
    folder = workspace(home).home
    console.print(
        f"\ncalibrating the cascade: {_DEMO_STUDENT} first, {tier2} for what it is unsure of"
    )
    cascade.calibrate_command(
        tier1=_DEMO_STUDENT, tier2=tier2, out=folder / "cascade.json", spot=True, home=home
    )
    config = {
        "tiers": [
            {"name": "student", "variant": _DEMO_STUDENT, "batching": batching},
            {"name": "teacher", "variant": tier2, "batching": batching},
        ],
        "cascade": {"threshold_file": "cascade.json"},
        "machine": _DEMO_MACHINE,
    }
    serve_file = folder / "serve.yaml"
    write_text_atomic(serve_file, yaml.safe_dump(config, sort_keys=False))
    console.print(
        f"serve it: mlcost --home {home or folder} serve {serve_file} (then curl -d "
        '\'{"text": "what a great day"}\' localhost:8000/v1/predict)',
        highlight=False,
        markup=False,
    )


def _is_debug(argv: list[str]) -> bool:
    return "--debug" in argv or os.environ.get("MLCOST_DEBUG", "") not in ("", "0", "false")


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI; an MlcostError becomes one line on stderr and exit code 2."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        result = app(args=args, prog_name="mlcost", standalone_mode=False)
    except MlcostError as exc:
        if _is_debug(args):
            raise
        err_console.print(f"error: {exc}", soft_wrap=True, highlight=False, markup=False)
        return EXIT_ERROR
    except typer.Abort:
        err_console.print("aborted", highlight=False)
        return 130
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except TyperException as exc:  # bad flags and arguments: click prints usage + one line
        show = getattr(exc, "show", None)
        if show is not None:
            show()
        else:
            err_console.print(f"error: {exc}", highlight=False, markup=False)
        return EXIT_ERROR
    return int(result) if isinstance(result, int) else 0


__all__ = ["app", "main"]
