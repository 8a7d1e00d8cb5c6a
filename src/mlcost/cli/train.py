"""`mlcost train`: fine-tune a text classifier on spot-safe checkpoints."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from mlcost.cli._context import (
    HomeOption,
    JsonOption,
    console,
    current_catalog,
    err_console,
    open_store,
    print_json,
    table,
    usd,
)
from mlcost.core import INTERRUPTION_BUCKETS, UsageError
from mlcost.cost import interruptions_per_hour
from mlcost.train import BUILTIN_DATA, BUILTIN_MODEL, EXIT_PREEMPTED

if TYPE_CHECKING:
    from mlcost.core import Store
    from mlcost.train import Step, TrainConfig
    from mlcost.train._run import Attempt

app = typer.Typer(help="Spot-safe training.")


@app.command("train")
def train(
    out: Annotated[
        Path,
        typer.Option(help="Folder for the model, metrics, split and (by default) checkpoints."),
    ],
    model: Annotated[
        str, typer.Option(help=f"Hugging Face model folder, or {BUILTIN_MODEL}.")
    ] = BUILTIN_MODEL,
    data: Annotated[
        str, typer.Option(help=f"Labelled CSV / JSONL / Parquet, or {BUILTIN_DATA}.")
    ] = BUILTIN_DATA,
    checkpoint_url: Annotated[
        str | None, typer.Option(help="Where checkpoints go: a folder or s3://bucket/prefix.")
    ] = None,
    text_column: Annotated[str, typer.Option(help="Column with the text.")] = "text",
    label_column: Annotated[str, typer.Option(help="Column with the label.")] = "label",
    encoding: Annotated[str, typer.Option(help="Text encoding of CSV / JSONL files.")] = "utf-8",
    epochs: Annotated[int, typer.Option(min=1, help="Passes over the training split.")] = 1,
    batch_size: Annotated[int, typer.Option(min=1, help="Samples per step.")] = 32,
    lr: Annotated[
        float, typer.Option(min=0.0, help="Peak learning rate (AdamW, linear warm-up and decay).")
    ] = 5e-5,
    max_length: Annotated[
        int | None,
        typer.Option(min=8, help="Token limit (default: fits 99% of the training texts)."),
    ] = None,
    max_train_samples: Annotated[
        int | None, typer.Option(min=1, help="Train on at most this many samples.")
    ] = None,
    freeze_layers: Annotated[
        int, typer.Option(min=0, help="Freeze the embeddings and this many encoder layers.")
    ] = 0,
    seed: Annotated[
        int, typer.Option(help="Seed of the split, the data order and the head's initial weights.")
    ] = 42,
    checkpoint_every: Annotated[
        str, typer.Option(help="N (steps), 90s / 10m / 1h, or auto (Young/Daly).")
    ] = "auto",
    interruption_bucket: Annotated[
        str | None,
        typer.Option(help=f"Spot interruption bucket for auto: {', '.join(INTERRUPTION_BUCKETS)}."),
    ] = None,
    preemption_notice: Annotated[
        str | None,
        typer.Option(help="Poll this cloud's metadata for a spot notice: aws, gcp or azure."),
    ] = None,
    metadata_url: Annotated[
        str | None, typer.Option(help="Metadata endpoint (default: the cloud's).")
    ] = None,
    instance_type: Annotated[
        str | None, typer.Option(help="Machine this runs on, to price the run.")
    ] = None,
    region: Annotated[
        str | None, typer.Option(help="Region of --instance-type (and of the power grid).")
    ] = None,
    spot: Annotated[bool, typer.Option("--spot", help="The machine is a spot instance.")] = False,
    country: Annotated[
        str | None,
        typer.Option(help="ISO country of the power grid for CO2 (default: from --region)."),
    ] = None,
    as_json: JsonOption = False,
    home: HomeOption = None,
) -> None:
    """Fine-tune a sequence classifier; re-run the same command after a kill to resume.

    On a spot notice (SIGTERM, or the cloud's metadata with --preemption-notice) it
    finishes the step, writes a final checkpoint and exits with code 75. Under
    torchrun (mlcost torchrun ... -m mlcost train ...) every rank trains its shard
    and rank 0 reports and records the run.
    """
    from mlcost.train import TrainConfig, country_for_region, launched_rank, machine_price

    machine = None
    bucket = interruption_bucket
    if instance_type is not None:
        if region is None:
            raise UsageError("--instance-type needs --region to find its price")
        catalog = current_catalog(home)
        machine = machine_price(catalog, instance_type, region, is_spot=spot)
        if bucket is None and spot:
            bucket = catalog.require_offer(instance_type, region=region).interruption_bucket
    rate = interruptions_per_hour(bucket) if bucket else 0.0
    config = TrainConfig(
        out_dir=out,
        model=model,
        data=data,
        checkpoint_url=checkpoint_url,
        text_column=text_column,
        label_column=label_column,
        encoding=encoding,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=lr,
        max_length=max_length,
        max_train_samples=max_train_samples,
        freeze_layers=freeze_layers,
        seed=seed,
        checkpoint_every=checkpoint_every,
        interruptions_per_hour=rate,
    )
    is_reporter = launched_rank() == 0
    with open_store(home) as store:
        attempt = run_with_progress(
            config,
            store if is_reporter else None,
            machine=machine,
            country=country or (region and country_for_region(region)),
            cloud_notice=preemption_notice,
            metadata_url=metadata_url,
            quiet=as_json or not is_reporter,
        )
    if is_reporter and as_json:
        print_json(
            {
                "result": attempt.result,
                "attempt": attempt.run,
                "footprint": attempt.footprint,
                "total_cost_usd": attempt.total_cost_usd,
                "total_wall_s": attempt.total_wall_s,
            }
        )
    elif is_reporter:
        print_attempt(attempt)
    if attempt.preempted is not None:
        raise typer.Exit(EXIT_PREEMPTED)


@app.command(
    "torchrun",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def torchrun(ctx: typer.Context) -> None:
    """Run torchrun (its own arguments follow) and exit 75 when the training was preempted.

    torchrun itself exits 1 when a worker stops preempted, so an orchestrator
    restarting on 75 (a Kubernetes podFailurePolicy) needs this: e.g.
    mlcost torchrun --nnodes 2 --nproc-per-node 1 ... -m mlcost train --out run ...
    """
    from mlcost.train import run_torchrun

    raise typer.Exit(run_torchrun(ctx.args))


def run_with_progress(
    config: TrainConfig, store: Store | None, *, quiet: bool = False, **kwargs: Any
) -> Attempt:
    """train_and_record with a progress bar on the terminal."""
    from mlcost.train._run import train_and_record

    progress = Progress(
        TextColumn("[bold]training"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]}"),
        TimeRemainingColumn(),
        console=console,
        disable=quiet,
        transient=True,
    )
    task = progress.add_task("train", total=None, loss="-")

    def on_step(step: Step, loss: float, total_steps: int) -> None:
        progress.update(task, completed=step.global_step, total=total_steps, loss=f"{loss:.3f}")

    with progress:
        return train_and_record(config, store, on_step=on_step, **kwargs)


def print_attempt(attempt: Attempt) -> None:
    """The run's outcome: accuracy (measured), time, checkpoint overhead, cost and CO2 (estimated)."""
    run, result = attempt.run, attempt.result
    if attempt.preempted is not None:
        notice = attempt.preempted.notice
        console.print(
            f"[bold yellow]preempted[/] ({notice.source}: {notice.detail}); final checkpoint at step "
            f"{run.final_step}. Run the same command again to resume (exit code {EXIT_PREEMPTED})."
        )
    rows: list[list[str]] = []
    if result is not None:
        rows += [
            [
                "test accuracy",
                f"{result.accuracy_test:.2%}",
                f"measured on {result.test_samples} held-out samples",
            ],
            ["validation accuracy", f"{result.accuracy_validation:.2%}", "measured"],
            [
                "steps",
                f"{result.steps}",
                f"resumed from step {result.resumed_from_step}"
                if result.resumed_from_step
                else "from scratch",
            ],
            [
                "training samples / max tokens",
                f"{result.train_samples} / {result.max_length}",
                "max tokens fitted to 99% of texts unless given",
            ],
            ["step time", f"{result.step_s_mean:.3f} s", "measured, mean"],
            [
                "checkpoints",
                f"{result.checkpoints_written} x {result.checkpoint_write_s_mean:.2f} s",
                "measured write time",
            ],
            ["model", str(result.model_dir), ""],
        ]
    rows += [
        [
            "wall time (this attempt / all)",
            f"{run.wall_s:.1f} s / {attempt.total_wall_s:.1f} s",
            "measured",
        ],
        [
            "cost (this attempt / all)",
            f"{usd(run.cost_usd, 4)} / {usd(attempt.total_cost_usd, 4)}",
            f"estimated: wall time x {run.pricing} ${run.usd_per_hour:g}/h of {run.instance_type}"
            if run.usd_per_hour
            else "unknown: pass --instance-type and --region",
        ],
        [
            "energy / CO2",
            "-"
            if run.energy_kwh is None
            else f"{run.energy_kwh * 1000:.2f} Wh / {(run.co2_kg or 0) * 1000:.2f} g",
            attempt.footprint.basis,
        ],
    ]
    console.print(table("Training run", ["", "value", "basis"], rows))


def ensure_demo_teacher(out_dir: Path, home: Path | None, *, to_stderr: bool = False) -> None:
    """Train the demo teacher once per workspace; later runs reuse it."""
    metrics = out_dir / "metrics.json"
    if (out_dir / "model" / "config.json").is_file() and metrics.is_file():
        accuracy = json.loads(metrics.read_text())["accuracy_test"]
        (err_console if to_stderr else console).print(
            f"demo teacher: cached at {out_dir / 'model'} (test accuracy {accuracy:.2%}, measured when trained)"
        )
        return
    from mlcost.train import TrainConfig

    console.print(
        "training the demo teacher (first run only; a few minutes on 2 cores; resumes if interrupted)"
    )
    with open_store(home) as store:
        attempt = run_with_progress(TrainConfig.demo(out_dir), store)
    print_attempt(attempt)
    if attempt.preempted is not None:
        raise typer.Exit(EXIT_PREEMPTED)
