"""`mlcost compress`, `mlcost variants list`: cheaper variants, measured here."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mlcost.cli._context import (
    HomeOption,
    JsonOption,
    console,
    err_console,
    open_store,
    print_json,
    table,
    workspace,
)
from mlcost.core import Profile, UsageError, Variant

if TYPE_CHECKING:
    from mlcost.compress import CompressResult, Inputs
    from mlcost.profile import Verdict

app = typer.Typer(help="Variants: build cheaper models and measure them.")
variants_app = typer.Typer(help="Variants stored in the workspace.", no_args_is_help=True)

DEMO_MODEL = "builtin:demo-teacher"
DEMO_DATA = "builtin:sentiment"
ALL_METHODS = "onnx,int8-dynamic,int8-static,fp16,pruned,distilled"
# What `mlcost demo` builds: each step of its story once (ONNX, INT8, a smaller model made INT8;
# fp16 costs nothing on a CPU, where it says why it is skipped). int8-static and the pruned chain
# tell the same story again at ~6 minutes on 2 cores; `mlcost compress` still builds them all.
DEMO_METHODS = "onnx,int8-dynamic,fp16,distilled"


@app.command("compress")
def compress(
    model: Annotated[
        str,
        typer.Option(help=f"A fine-tuned Hugging Face classifier folder, or {DEMO_MODEL}."),
    ] = DEMO_MODEL,
    data: Annotated[
        str,
        typer.Option(
            help=f"Labelled CSV / JSONL / Parquet the model was trained on, or {DEMO_DATA}."
        ),
    ] = DEMO_DATA,
    methods: Annotated[str, typer.Option(help="Comma-separated methods to build.")] = ALL_METHODS,
    accuracy_budget_pt: Annotated[
        float, typer.Option(min=0.0, help="Accuracy (points) a variant may lose vs the baseline.")
    ] = 0.5,
    text_column: Annotated[str, typer.Option(help="Column with the text.")] = "text",
    label_column: Annotated[str, typer.Option(help="Column with the label.")] = "label",
    encoding: Annotated[str, typer.Option(help="Text encoding of CSV / JSONL files.")] = "utf-8",
    calibration: Annotated[
        str, typer.Option(help="Static INT8 calibration: percentile or entropy.")
    ] = "percentile",
    student_layers: Annotated[
        int | None,
        typer.Option(
            min=1, help="Encoder layers of the distilled student (default: half the teacher's)."
        ),
    ] = None,
    distill_samples: Annotated[
        int, typer.Option(min=1, help="Training rows for the distillation fine-tunes.")
    ] = 4000,
    latency_requests: Annotated[
        int, typer.Option(min=10, help="Single requests timed per round.")
    ] = 200,
    threads: Annotated[
        int | None, typer.Option(min=1, help="Threads per model (default: the cgroup's CPU quota).")
    ] = None,
    remeasure: Annotated[
        bool, typer.Option(help="Measure again even if a profile is stored.")
    ] = False,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> list[Any]:
    """Build, check, measure and compare every variant; recommend the fastest within the budget."""
    # Returns the verdicts (mlcost.profile.Verdict) for `mlcost demo`; Typer evaluates this
    # command's annotations at run time, so the return type names no type-checking-only class.
    from mlcost.compress import CompressConfig, DistillSettings, build_variants
    from mlcost.profile import measure_variants, test_rows

    if calibration not in ("percentile", "entropy"):
        raise UsageError(f"--calibration {calibration!r}: use percentile or entropy")
    config = CompressConfig(
        out_dir=workspace(home).artifacts_dir / "variants",
        methods=tuple(m.strip() for m in methods.split(",") if m.strip()),
        accuracy_budget_pt=accuracy_budget_pt,
        calibration=calibration,  # type: ignore[arg-type]
        distill=DistillSettings(student_layers=student_layers, train_samples=distill_samples),
        prune_train_samples=distill_samples,
    )
    config.validate()
    say = (err_console if as_json else console).print
    inputs = resolve_inputs(model, data, text_column, label_column, encoding, home, as_json)
    say(
        f"compressing {inputs.model_dir} on {inputs.data.source}: {len(inputs.split.test)} test rows "
        f"from {inputs.split_origin}"
    )
    result = build_variants(inputs, config, log=lambda line: say(f"  {line}"))
    with open_store(home) as store:
        for variant in result.variants:
            store.save_variant(variant)
        profiles = measure_variants(
            store,
            result.variants,
            test_rows(inputs),
            threads=threads,
            latency_requests=latency_requests,
            remeasure=remeasure,
            say=say,
        )
    return show_comparison(result, profiles, accuracy_budget_pt, as_json)


def resolve_inputs(
    model: str,
    data: str,
    text_column: str,
    label_column: str,
    encoding: str,
    home: Path | None,
    as_json: bool = False,
) -> Inputs:
    """Model folder and data checked against each other; the demo teacher is trained if missing."""
    from mlcost.cli.train import ensure_demo_teacher
    from mlcost.compress import check_inputs

    if model == DEMO_MODEL:
        teacher = workspace(home).artifacts_dir / "teacher"
        ensure_demo_teacher(teacher, home, to_stderr=as_json)
        model_dir = teacher / "model"
    elif model.startswith("builtin:"):
        raise UsageError(f"unknown built-in model {model!r}; use {DEMO_MODEL} or a model folder")
    else:
        model_dir = Path(model)
    return check_inputs(
        model_dir, data, text_column=text_column, label_column=label_column, encoding=encoding
    )


def show_comparison(
    result: CompressResult, profiles: Sequence[Profile], budget_pt: float, as_json: bool
) -> list[Verdict]:
    """Print the comparison table (or JSON) and the recommendation; returns the verdicts."""
    from mlcost.core import to_jsonable
    from mlcost.profile import recommend, resolution_note

    verdicts = recommend(profiles, baseline="baseline", budget_pt=budget_pt)
    if as_json:
        print_json(
            {
                "variants": [to_jsonable(v) for v in result.variants],
                "profiles": [to_jsonable(p) for p in profiles],
                "verdicts": [to_jsonable(v) for v in verdicts],
                "skipped": [to_jsonable(s) for s in result.skipped],
            }
        )
        return verdicts
    console.print(comparison_table(result.variants, profiles, verdicts, budget_pt))
    for skipped in result.skipped:
        console.print(f"[yellow]{skipped.method}: skipped[/] - {skipped.reason}")
    best = next(v for v in verdicts if v.is_recommended)
    note = resolution_note(verdicts, profiles, budget_pt)
    if note:
        console.print(f"[yellow]note[/]: {note}", highlight=False)
    console.print(f"[bold green]recommended: {best.variant}[/] - {best.reason}")
    return verdicts


def method_label(variant: Variant) -> str:
    """The variant's method, and for an INT8 the recipe and runtime its search chose."""
    chosen = variant.recipe.get("int8")
    if not isinstance(chosen, dict):
        return variant.method
    return f"{variant.method}: {chosen.get('name', '?')}"


def _drop(verdict: Verdict) -> str:
    """The accuracy change (minus the drop) with its interval, worst end first when resolved."""
    if verdict.test == "baseline":
        return "-"
    if verdict.test == "point estimate":
        return f"{-verdict.drop_pt:+.2f} (no CI)"
    return (
        f"{-verdict.drop_pt:+.2f} [{-verdict.drop_ci_high_pt:+.2f}, {-verdict.drop_ci_low_pt:+.2f}]"
    )


def comparison_table(
    variants: Sequence[Variant],
    profiles: Sequence[Profile],
    verdicts: Sequence[Verdict],
    budget_pt: float,
) -> object:
    by_name = {v.name: v for v in variants}
    base = profiles[0]
    rows = []
    for profile, verdict in zip(profiles, verdicts, strict=True):
        variant = by_name[profile.variant]
        rows.append(
            [
                ("* " if verdict.is_recommended else "") + profile.variant,
                method_label(variant),
                f"{profile.size_bytes / 1e6:.1f}",
                f"{profile.latency_ms_p50:.2f} / {profile.latency_ms_p95:.2f} / "
                f"{profile.latency_ms_p99:.2f} (±{profile.latency_spread / 2:.0%})",
                f"{base.latency_ms_p50 / profile.latency_ms_p50:.1f}x",
                f"{profile.throughput_per_s:,.0f} @{profile.batch_size}",
                f"{profile.peak_memory_mib:,.0f}",
                f"{(profile.accuracy or 0):.2%} [{(profile.accuracy_ci_low or 0):.1%}, {(profile.accuracy_ci_high or 0):.1%}]",
                _drop(verdict),
                f"{profile.mcnemar_p:.2g}" if profile.mcnemar_p is not None else "-",
                verdict.reason,
            ]
        )
    return table(
        f"Variants, measured on {base.hardware.label}",
        [
            "variant",
            "method",
            "#MB",
            "#p50/p95/p99 ms (batch 1)",
            "#speed-up",
            "#rows/s @batch",
            "#peak MiB",
            "#test accuracy [95% CI]",
            "#Δ pt [95% CI]",
            "#McNemar p",
            "verdict",
        ],
        rows,
        caption=(
            f"All figures measured here ({base.threads} threads, {base.test_samples} held-out rows, "
            f"mean {base.tokens_mean:.0f} tokens); ± is half the p50 range over repeated rounds; "
            f"Δ pt: accuracy change vs the baseline on the same rows, with its paired 95 % "
            f"interval (Tango's score interval); a variant is within the {budget_pt:g}-pt budget "
            "when the interval's worst end is; peak MiB is the whole serving process."
        ),
    )


def _listed_figures(profile: Profile | None) -> dict[str, object] | None:
    """The latest profile's figures that `variants list` shows; None when never measured."""
    if profile is None:
        return None
    return {
        "latency_ms_p50": profile.latency_ms_p50,
        "accuracy": profile.accuracy,
        "basis": profile.basis,
        "measured_at": profile.measured_at.isoformat(),
        "hardware": profile.hardware.label,
    }


@variants_app.command("list")
def variants_list(home: HomeOption = None, as_json: JsonOption = False) -> None:
    """Every variant built in this workspace, with its parent, recipe and latest profile."""
    from mlcost.core import to_jsonable

    with open_store(home) as store:
        variants = store.variants()
        latest = {v.name: next(reversed(store.profiles(v.name)), None) for v in variants}
    if as_json:
        print_json(
            [
                {**to_jsonable(v), "latest_profile": _listed_figures(latest[v.name])}
                for v in variants
            ]
        )
        return
    rows = [
        [
            v.name,
            v.parent or "-",
            method_label(v),
            f"{v.format}/{v.precision}",
            f"{v.size_bytes / 1e6:.1f}",
            f"{v.parameter_count / 1e6:.1f}",
            f"{p.latency_ms_p50:.2f}" if (p := latest[v.name]) else "-",
            f"{p.accuracy:.2%}" if p and p.accuracy is not None else "-",
            v.path,
        ]
        for v in variants
    ]
    console.print(
        table(
            "Variants",
            [
                "variant",
                "parent",
                "method",
                "format",
                "#MB",
                "#M params",
                "#p50 ms",
                "#accuracy",
                "path",
            ],
            rows,
            caption="p50 and accuracy: the latest profile (measured) of each variant.",
        )
    )
