"""`mlcost cascade calibrate`: the cascade's threshold, chosen on held-out rows, with its price."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mlcost.cli._context import (
    HomeOption,
    JsonOption,
    console,
    current_catalog,
    open_store,
    print_json,
    table,
    workspace,
)
from mlcost.cli.compress import DEMO_DATA, DEMO_MODEL, resolve_inputs
from mlcost.core import CatalogError, UsageError, write_text_atomic

if TYPE_CHECKING:
    from mlcost.compress import Inputs
    from mlcost.core import Store, Variant
    from mlcost.serve import Calibration

app = typer.Typer(
    help="The cascade: calibrate the threshold tier 1 escalates below.", no_args_is_help=True
)

METHODS = ("guarantee", "conformal", "accuracy", "escalation", "fixed")


@app.command("calibrate")
def calibrate_command(
    tier1: Annotated[str, typer.Option(help="The cheap variant that answers first.")],
    tier2: Annotated[str, typer.Option(help="The variant it escalates to.")],
    model: Annotated[
        str, typer.Option(help=f"The model whose split gives the rows, or {DEMO_MODEL}.")
    ] = DEMO_MODEL,
    data: Annotated[str, typer.Option(help=f"Its labelled data, or {DEMO_DATA}.")] = DEMO_DATA,
    alpha_pt: Annotated[
        float,
        typer.Option(
            min=0.01, max=50, help="Accuracy (points) the cascade may lose vs tier 2 alone."
        ),
    ] = 0.5,
    delta: Annotated[
        float,
        typer.Option(min=0.001, max=0.5, help="The guarantee fails with at most this probability."),
    ] = 0.1,
    escalation: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="The escalation-rate method's target share.")
    ] = 0.3,
    accuracy: Annotated[
        float | None,
        typer.Option(
            min=0, max=100, help="The accuracy method's target, %% (default: tier 2's less alpha)."
        ),
    ] = None,
    confidence: Annotated[str, typer.Option(help="max_probability or margin.")] = "max_probability",
    raw: Annotated[
        bool,
        typer.Option(
            "--raw", help="Use tier 1's probabilities as they are (no temperature scaling)."
        ),
    ] = False,
    p_value: Annotated[
        str, typer.Option(help="binomial or hoeffding_bentkus (the guarantee's test).")
    ] = "binomial",
    choose: Annotated[
        str, typer.Option(help=f"The method whose threshold is written: {', '.join(METHODS)}.")
    ] = "guarantee",
    instance_type: Annotated[
        str, typer.Option(help="The machine both tiers' cost is priced on.")
    ] = "c7i.large",
    region: Annotated[str, typer.Option(help="Its region.")] = "us-east-1",
    spot: Annotated[bool, typer.Option(help="Price it at spot.")] = False,
    out: Annotated[
        Path | None, typer.Option(help="Where to write the threshold (default HOME/cascade.json).")
    ] = None,
    text_column: Annotated[str, typer.Option(help="Column with the text.")] = "text",
    label_column: Annotated[str, typer.Option(help="Column with the label.")] = "label",
    threads: Annotated[int | None, typer.Option(min=1, help="Threads per model.")] = None,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Both tiers predict the validation rows; each method picks a threshold; the test rows score it."""
    from mlcost.serve import Targets

    if choose not in METHODS:
        raise UsageError(f"--choose {choose!r}: use one of {', '.join(METHODS)}")
    if confidence not in ("max_probability", "margin"):
        raise UsageError(f"--confidence {confidence!r}: use max_probability or margin")
    if p_value not in ("binomial", "hoeffding_bentkus"):
        raise UsageError(f"--p-value {p_value!r}: use binomial or hoeffding_bentkus")
    targets = Targets(
        escalation_rate=escalation,
        accuracy=None if accuracy is None else accuracy / 100,
        alpha=alpha_pt / 100,
        delta=delta,
        p_value=p_value,  # type: ignore[arg-type]
    )
    inputs = resolve_inputs(model, data, text_column, label_column, "utf-8", home, as_json)
    result, record = run_calibration(
        inputs,
        (tier1, tier2),
        targets=targets,
        kind=confidence,
        is_raw=raw,
        method=choose,
        machine=(instance_type, region, spot),
        threads=threads,
        home=home,
    )
    path = out or workspace(home).home / "cascade.json"
    write_text_atomic(path, json.dumps(record, indent=2) + "\n")
    if as_json:
        print_json({**record, "file": str(path)})
        return
    show_calibration(result, record, path)


def run_calibration(
    inputs: Inputs,
    tiers: tuple[str, str],
    *,
    targets: Any,
    kind: str,
    is_raw: bool,
    method: str,
    machine: tuple[str, str, bool],
    threads: int | None,
    home: Path | None,
) -> tuple[Calibration, dict[str, Any]]:
    """The calibration and the record to write (library calls; the command only shows them)."""
    import numpy as np

    from mlcost.runtime import threads_allowed
    from mlcost.serve import (
        Predictions,
        calibrate,
        fit_temperature,
        threshold_record,
        usd_per_prediction,
        variant_probabilities,
    )

    with open_store(home) as store:
        variants = [_variant(store, name) for name in tiers]
        speeds = [_throughput(store, v) for v in variants]
    n = threads or threads_allowed()
    split = inputs.split
    texts = inputs.data.texts
    labels = np.array(inputs.labels)
    rows: dict[str, list[int]] = {"validation": list(split.validation), "test": list(split.test)}

    def probabilities(variant: Variant, index: list[int]) -> np.ndarray:
        chosen = [texts[i] for i in index]
        length = int(variant.recipe.get("max_length", 512))
        return variant_probabilities(variant, chosen, threads=n, max_length=length)

    predicted = {
        part: Predictions(
            probabilities(variants[0], index), probabilities(variants[1], index), labels[index]
        )
        for part, index in rows.items()
    }
    temperature = (
        1.0
        if is_raw
        else fit_temperature(predicted["validation"].tier1, predicted["validation"].labels)
    )
    instance_type, region, is_spot = machine
    try:
        offer, usd_per_hour = current_catalog(home).require_price(
            instance_type, region=region, is_spot=is_spot
        )
    except CatalogError as exc:
        raise UsageError(f"--instance-type/--region: {exc}") from exc
    cost = (
        usd_per_prediction(usd_per_hour, speeds[0]),
        usd_per_prediction(usd_per_hour, speeds[1]),
    )
    result = calibrate(
        predicted["validation"],
        predicted["test"],
        kind=kind,  # type: ignore[arg-type]
        temperature=temperature,
        targets=targets,
        usd_per_prediction=cost,
    )
    record = threshold_record(
        result,
        method,  # type: ignore[arg-type]
        rows={
            "split": "validation",
            "count": len(rows["validation"]),
            "source": inputs.data.source,
            "split_origin": inputs.split_origin,
            "test_count": len(rows["test"]),
        },
        tiers=tiers,
    )
    record["machine"] = {
        "instance_type": instance_type,
        "region": region,
        "pricing": "spot" if is_spot else "on_demand",
        "usd_per_hour": usd_per_hour,
        "source": offer.source,
        "as_of": str((offer.spot_seen_on if is_spot else None) or offer.as_of or "undated"),
    }
    record["throughput_per_s"] = {"tier1": speeds[0], "tier2": speeds[1], "basis": "measured"}
    return result, record


def _variant(store: Store, name: str) -> Variant:
    for variant in store.variants():
        if variant.name == name:
            return variant
    known = ", ".join(v.name for v in store.variants()) or "none (run mlcost compress)"
    raise UsageError(f"no variant {name!r} in the workspace; known: {known}")


def _throughput(store: Store, variant: Variant) -> float:
    from mlcost.profile import latest_measured

    measured = latest_measured(store, variant)
    if measured is None:
        raise UsageError(
            f"{variant.name} has no measured profile; run mlcost profile measure {variant.name}"
        )
    return measured.throughput_per_s


def show_calibration(result: Calibration, record: dict[str, Any], path: Path) -> None:
    machine = record["machine"]
    tiers = record["tiers"]
    rows = []
    for choice in result.choices:
        low, high = choice.accuracy_ci
        cost = "-" if choice.usd_per_1000 is None else f"${choice.usd_per_1000:.6f}"
        share = ""
        if choice.usd_per_1000 is not None and result.tier2_usd_per_1000:
            share = f" ({choice.usd_per_1000 / result.tier2_usd_per_1000:.0%})"
        marker = "* " if choice.method == record["chosen"]["method"] else "  "
        rows.append(
            [
                marker + choice.method,
                choice.rule,
                f"{choice.threshold:.4f}",
                f"{choice.accuracy:.2%} [{low:.1%}, {high:.1%}]",
                f"{-choice.drop_pt:+.2f}",
                f"{choice.escalation_rate:.1%}",
                cost + share,
                choice.promise,
            ]
        )
    tier2_cost = result.tier2_usd_per_1000
    rows.append(
        [
            "  tier 2 alone",
            f"everything to {tiers[1]}",
            "-",
            f"{result.tier2_accuracy:.2%}",
            "+0.00",
            "100%",
            "-" if tier2_cost is None else f"${tier2_cost:.6f} (100%)",
            "-",
        ]
    )
    console.print(
        table(
            f"Cascade {tiers[0]} -> {tiers[1]}: thresholds chosen on {result.calibration_rows:,} validation rows, scored on {result.test_rows:,} test rows",
            [
                "method",
                "rule",
                "#threshold",
                "#test accuracy [95% CI]",
                "#Δ pt vs tier 2",
                "#escalated",
                "#$ / 1,000 (vs tier 2)",
                "promise",
            ],
            rows,
            caption=(
                f"confidence: {result.confidence}, "
                + (
                    "raw"
                    if result.temperature == 1.0
                    else f"calibrated (temperature {result.temperature:.2f}, fitted on the validation rows)"
                )
                + f"; cost: measured throughput ({record['throughput_per_s']['tier1']:.0f}/s and "
                f"{record['throughput_per_s']['tier2']:.0f}/s) on {machine['instance_type']} {machine['region']} "
                f"{machine['pricing']} at ${machine['usd_per_hour']:.4f}/h (catalog, {machine['as_of']}), both tiers busy; "
                "accuracy and escalation measured on the test rows"
            ),
        )
    )
    chosen = record["chosen"]
    console.print(
        f"threshold {chosen['threshold']:.4f} ({chosen['method']}) written to {path}; "
        "serve.yaml reads it as cascade.threshold_file",
        highlight=False,
    )
