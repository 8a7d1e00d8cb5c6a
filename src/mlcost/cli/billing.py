"""`mlcost billing`: import FOCUS billing exports, summarize the bill, price predictions, export."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
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
from mlcost.core import SpecFinding, UsageError

if TYPE_CHECKING:
    from mlcost.finops import BillingSummary, Spend, UnitEconomics

app = typer.Typer(
    help="Cloud bills (FOCUS exports): import, summarize, cost per 1,000 predictions, export.",
    no_args_is_help=True,
)

_MEASURED = "measured, from the bill"


def _money(value: float | None, currency: str) -> str:
    """An amount of the bill's currency for a table; "-" when there is none."""
    if value is None:
        return "-"
    return f"${value:,.2f}" if currency == "USD" else f"{value:,.2f} {currency}"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


@app.command("import")
def import_command(
    files: Annotated[
        list[Path], typer.Argument(help="FOCUS exports (CSV, .csv.gz, Parquet) or folders.")
    ],
    focus_version: Annotated[
        str | None,
        typer.Option(help="Check against this FOCUS version (1.0-1.3); default: from the columns."),
    ] = None,
    as_json: JsonOption = False,
    home: HomeOption = None,
) -> None:
    """Import billing exports into the store (once per file: keyed by the hash of its bytes)."""
    from mlcost.finops import import_billing_files

    with open_store(home) as store:
        outcomes = import_billing_files(store, files, focus_version=focus_version)
    if as_json:
        print_json(outcomes)
        return
    for outcome in outcomes:
        record = outcome.record
        if not outcome.is_new:
            console.print(
                f"{outcome.path}: already imported as {record.file_name} on "
                f"{record.imported_at:%Y-%m-%d %H:%M} UTC (sha256 {record.sha256[:12]}); "
                "nothing changed",
                highlight=False,
                soft_wrap=True,
            )
            continue
        console.print(
            f"imported {outcome.path} (FOCUS {record.focus_version}): {record.row_count:,} rows "
            f"-> {record.line_count:,} summary lines, billing periods "
            f"{', '.join(record.billing_periods)}; {len(record.findings)} spec findings",
            highlight=False,
            soft_wrap=True,
        )
        _print_findings(record.findings)


def _print_findings(findings: Sequence[SpecFinding]) -> None:
    """One row per rule (its columns listed), so no kind of finding hides behind another."""
    by_rule: dict[str, list[SpecFinding]] = {}
    for finding in findings:
        by_rule.setdefault(finding.rule, []).append(finding)
    rows = []
    for rule, group in by_rule.items():
        worst = max(group, key=lambda f: f.rows)
        columns = ", ".join(sorted({f.column for f in group}))
        rows.append(
            [worst.level, rule, columns, f"{worst.rows:,}" if worst.rows else "-", worst.message]
        )
    if rows:
        console.print(
            table(
                "FOCUS spec findings, one row per rule (the import went on; --json lists each)",
                ["level", "rule", "columns", "# rows (most)", "e.g."],
                rows,
            )
        )


@app.command("summary")
def summary_command(
    month: Annotated[
        str | None, typer.Option(help="Billing period YYYY-MM; default: the latest.")
    ] = None,
    by: Annotated[
        list[str] | None,
        typer.Option(
            help="Break spend down by provider, service, service-category, region, resource, "
            "sub-account, pricing-category, charge-category, commitment, instance-type, tag "
            "or tag:KEY (repeatable)."
        ),
    ] = None,
    top: Annotated[int, typer.Option(min=1, help="Rows per breakdown; the rest is summed.")] = 10,
    currency: Annotated[
        str | None, typer.Option(help="Billing currency; default: the month's largest.")
    ] = None,
    as_json: JsonOption = False,
    home: HomeOption = None,
) -> None:
    """Spend by provider, service, region, resource and tag; ML spend; pricing, commitments,
    discounts; the trend and the largest movers; the spec findings. All measured."""
    from mlcost.finops import DEFAULT_BREAKDOWNS, summarize_billing

    with open_store(home) as store:
        lines = store.billing_lines()
        imports = store.billing_imports()
    summary = summarize_billing(
        lines,
        imports,
        current_catalog(home),
        month=month,
        breakdowns=tuple(by or DEFAULT_BREAKDOWNS),
        currency=currency,
        top=top,
    )
    if as_json:
        print_json(summary)
        return
    _print_summary(summary)


def _money_table(
    title: str,
    columns: Sequence[str],
    rows: Sequence[tuple[str, Sequence[float | None]]],
    currency: str,
) -> None:
    """A table of amounts from the bill: each row a label and its amounts."""
    cells = [[label, *(_money(value, currency) for value in values)] for label, values in rows]
    console.print(table(f"{title} ({_MEASURED})", columns, cells))


def _spend_table(title: str, rows: Sequence[Spend], currency: str) -> None:
    console.print(
        table(
            f"{title} ({_MEASURED})",
            ["key", "$ effective", "$ billed", "% of month", "# rows"],
            [
                [
                    s.key,
                    _money(s.effective_cost, currency),
                    _money(s.billed_cost, currency),
                    _share(s.share),
                    f"{s.row_count:,}",
                ]
                for s in rows
            ],
        )
    )


def _print_summary(s: BillingSummary) -> None:
    cur = s.currency
    console.print(
        f"[bold]Billing period {s.billing_period}[/bold] ({cur}, {s.basis}): "
        f"{s.row_count:,} billing rows from {', '.join(s.files)}",
        highlight=False,
        soft_wrap=True,
    )
    _money_table(
        "What the month cost",
        ["figure", "$ amount"],
        [
            ("list cost (public prices)", (s.list_cost,)),
            ("contracted cost (your rates)", (s.contracted_cost,)),
            ("effective cost (amortized: what the usage cost)", (s.effective_cost,)),
            ("billed cost (invoiced)", (s.billed_cost,)),
            ("saved by negotiated rates (list - contracted)", (s.negotiated_saving,)),
            ("saved by commitments and discounts (contracted - effective)", (s.commitment_saving,)),
        ],
        cur,
    )
    for name, rows in s.breakdowns.items():
        _spend_table(f"Spend by {name}", rows, cur)
    ml = s.ml
    console.print(
        f"\n[bold]ML spend[/bold]: {_money(ml.effective_cost, cur)} effective "
        f"({_share(ml.share)} of the month; billed {_money(ml.billed_cost, cur)}), {_MEASURED}",
        highlight=False,
        soft_wrap=True,
    )
    if ml.by_reason:
        _spend_table("ML spend by why it counts", ml.by_reason, cur)
    _spend_table("Spend by pricing category", s.pricing, cur)
    c = s.commitment
    console.print(
        f"commitments ({c.commitment_count}): utilization {_share(c.utilization)} "
        f"(used {_money(c.used_cost, cur)}, unused {_money(c.unused_cost, cur)}); "
        f"coverage {_share(c.coverage)} of {_money(c.eligible_cost, cur)} eligible usage at list "
        f"price; {_MEASURED}",
        highlight=False,
        soft_wrap=True,
    )
    _money_table(
        "Month over month",
        ["billing period", "$ effective", "$ billed", "$ change"],
        [(m.billing_period, (m.effective_cost, m.billed_cost, m.change)) for m in s.trend],
        cur,
    )
    if s.movers:
        _money_table(
            f"Largest movers by {s.movers_by} since the month before",
            ["key", "$ before", "$ now", "$ change"],
            [(m.key, (m.previous_effective_cost, m.effective_cost, m.change)) for m in s.movers],
            cur,
        )
    if s.other_currencies:
        console.print(
            f"also billed in {', '.join(s.other_currencies)}: see --currency",
            highlight=False,
            soft_wrap=True,
        )
    _print_findings(s.findings)


@app.command("unit-cost")
def unit_cost_command(
    requests: Annotated[
        Path | None,
        typer.Option("--requests", help="CSV of request counts: workload,date,requests."),
    ] = None,
    prometheus: Annotated[
        str | None,
        typer.Option(
            help="Count predictions per day from mlcost serve's counter in this Prometheus "
            "(http://host:9090) over the imported billing periods, instead of --requests."
        ),
    ] = None,
    workload_label: Annotated[
        str, typer.Option(help="With --prometheus: the series label naming the workload.")
    ] = "job",
    tag_key: Annotated[
        str, typer.Option(help="The Tags key naming a resource's workload.")
    ] = "mlcost-workload",
    as_json: JsonOption = False,
    home: HomeOption = None,
) -> None:
    """Cost per 1,000 predictions per workload and day: tagged spend over counted requests."""
    from mlcost.finops import Prometheus, prometheus_request_counts, read_request_counts, unit_costs

    if (requests is None) == (prometheus is None):
        raise UsageError("give the request counts with one of --requests FILE or --prometheus URL")
    with open_store(home) as store:
        lines = store.billing_lines()
    if requests is not None:
        counts = read_request_counts(requests)
    else:
        days = [line.charge_date for line in lines]
        if not days:
            raise UsageError("no billing export imported yet; run mlcost billing import FILE first")
        with Prometheus(str(prometheus)) as server:
            counts = prometheus_request_counts(
                server, first=min(days), last=max(days), label=workload_label
            )
    economics = unit_costs(lines, counts, tag_key=tag_key)
    if as_json:
        print_json(economics)
        return
    _print_unit_costs(economics)


def _print_unit_costs(e: UnitEconomics) -> None:
    if not e.days:
        raise UsageError(
            f"no day has both spend tagged {e.tag_key}=WORKLOAD and a request count; check "
            "--tag-key and that the counts' dates fall in an imported billing period"
        )
    columns = ["workload", "day", "$ effective", "# requests", "$ per 1,000", "counts from"]
    for title, rows in (("per day", e.days), ("over the period", e.workloads)):
        console.print(
            table(
                f"Cost per 1,000 predictions {title} (spend {_MEASURED}; tag {e.tag_key})",
                columns,
                [
                    [
                        u.workload,
                        str(u.day or "all priced days"),
                        _money(u.effective_cost, u.currency),
                        f"{u.requests:,}",
                        _money(u.per_1k_predictions, u.currency)
                        if u.per_1k_predictions is not None
                        else "-",
                        u.requests_source,
                    ]
                    for u in rows
                ],
            )
        )
    for label, pairs in (("spend but no count", e.uncounted), ("a count but no spend", e.unbilled)):
        if pairs:
            listed = ", ".join(f"{w} {d}" for w, d in pairs[:8])
            more = f" and {len(pairs) - 8} more" if len(pairs) > 8 else ""
            console.print(f"not priced, {label}: {listed}{more}", highlight=False)


@app.command("export")
def export_command(
    out: Annotated[Path, typer.Option("--out", help="The FOCUS CSV to write.")],
    plan_file: Annotated[
        Path, typer.Option("--plan", help="plan.json, as mlcost plan wrote it.")
    ] = Path("plan.json"),
    month: Annotated[
        str | None, typer.Option(help="First month YYYY-MM; default: this month (UTC).")
    ] = None,
    months: Annotated[int, typer.Option(min=1, max=36, help="How many months from it.")] = 1,
    home: HomeOption = None,
) -> None:
    """Write mlcost's own cost rows (the plan's winner, the training runs) as a FOCUS 1.2 file."""
    from mlcost.finops import (
        EXPORT_FOCUS_VERSION,
        months_from,
        plan_rows,
        train_run_rows,
        write_focus_export,
    )

    plan = read_plan(plan_file)
    periods = months_from(month or datetime.now(UTC).strftime("%Y-%m"), months)
    with open_store(home) as store:
        runs = store.train_runs()
    rows = plan_rows(plan, periods) + train_run_rows(runs, periods)
    write_focus_export(out, rows)
    console.print(
        f"wrote {len(rows)} FOCUS {EXPORT_FOCUS_VERSION} rows to {out} ({', '.join(periods)}; "
        "estimated: the plan's simulated month and the runs' named prices, as x_MlcostBasis says)",
        highlight=False,
        soft_wrap=True,
    )
