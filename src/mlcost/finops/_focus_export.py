"""mlcost's own cost rows as a FOCUS 1.2 file, for the FinOps tools a team already runs.

The rows are the plan's winner's bill lines, one set per month (estimated: the
simulated month, priced from the catalog), and the training runs in the store (their
wall time x the price the user named). FOCUS has no column for an estimate, so every row
says so in ``x_MlcostBasis``; workload and variant ride in Tags and in x_ columns, so a
bill tagged the same way lines up with them (``mlcost billing unit-cost``).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mlcost.core import BillingError, BillLine, Plan, TrainRun, write_text_atomic
from mlcost.finops._focus_spec import REQUIRED_COLUMNS
from mlcost.finops._unit_cost import DEFAULT_TAG_KEY

EXPORT_FOCUS_VERSION = "1.2"
_OPTIONAL_COLUMNS = (
    "ChargeFrequency",
    "ConsumedQuantity",
    "ConsumedUnit",
    "ContractedUnitPrice",
    "ListUnitPrice",
    "PricingCategory",
    "RegionId",
    "RegionName",
    "Tags",
)
_MLCOST_COLUMNS = (
    "x_MlcostBasis",
    "x_MlcostSource",
    "x_MlcostWorkload",
    "x_MlcostVariant",
    "x_MlcostOption",
    "x_MlcostBillCategory",
    "x_MlcostPriceSource",
)
EXPORT_COLUMNS = (*REQUIRED_COLUMNS[EXPORT_FOCUS_VERSION], *_OPTIONAL_COLUMNS, *_MLCOST_COLUMNS)
_PROVIDER_NAMES = {"aws": "AWS", "gcp": "Google Cloud", "azure": "Microsoft"}
_SERVICE_CATEGORIES = {
    "compute": "Compute",
    "platform": "Compute",
    "storage": "Storage",
    "transfer": "Networking",
}
_PRICING_CATEGORIES = {"spot": "Dynamic", "commitment": "Committed"}
_ACCOUNT = {"BillingAccountId": "mlcost", "BillingCurrency": "USD", "ChargeCategory": "Usage"}

Row = dict[str, str]


def month_start(month: str) -> datetime:
    """The first instant of ``month`` ("2026-11"), UTC. Raises BillingError if malformed."""
    try:
        return datetime.strptime(month, "%Y-%m").replace(tzinfo=UTC)
    except ValueError as exc:
        raise BillingError(f"month {month!r} is not YYYY-MM") from exc


def months_from(first: str, count: int) -> list[str]:
    """``count`` months from ``first`` ("2026-11"), as YYYY-MM. Raises BillingError if
    ``first`` is malformed."""
    start = month_start(first)
    index = start.year * 12 + start.month - 1
    return [f"{(index + n) // 12}-{(index + n) % 12 + 1:02d}" for n in range(count)]


def _next_month(start: datetime) -> datetime:
    return (start + timedelta(days=32)).replace(day=1)


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _number(value: float) -> str:
    """A number in the spec's format: plain decimal, no exponent, no "+"."""
    return f"{value:.10f}".rstrip("0").rstrip(".") or "0"


def plan_rows(plan: Plan, months: Sequence[str]) -> list[Row]:
    """The winner's charged bill lines as FOCUS rows, one set per month in ``months``."""
    winner = plan.winner
    provider = _PROVIDER_NAMES.get(winner.offer.provider, winner.offer.provider)
    rows: list[Row] = []
    for month in months:
        start = month_start(month)
        period = {
            "BillingPeriodStart": _when(start),
            "BillingPeriodEnd": _when(_next_month(start)),
            "ChargePeriodStart": _when(start),
            "ChargePeriodEnd": _when(_next_month(start)),
        }
        for line in winner.cost.lines:
            if not line.is_charged:
                continue
            rows.append(
                {
                    **_ACCOUNT,
                    **period,
                    **_provider_columns(provider),
                    "BillingAccountName": f"mlcost plan: {plan.workload}",
                    "ChargeDescription": line.item,
                    "ChargeFrequency": "Usage-Based",
                    "ServiceCategory": _SERVICE_CATEGORIES[line.category],
                    "ServiceName": winner.platform_service or winner.platform,
                    "PricingCategory": _PRICING_CATEGORIES.get(line.pricing, "Standard"),
                    "RegionId": winner.offer.region,
                    "RegionName": winner.offer.region,
                    **_amounts(line.quantity, line.unit, _list_unit_price(plan, line), line),
                    "Tags": _tags(plan.workload, winner.variant),
                    "x_MlcostBasis": f"estimated: simulated month of the plan ({winner.speed_basis} speeds)",
                    "x_MlcostSource": "plan",
                    "x_MlcostWorkload": plan.workload,
                    "x_MlcostVariant": winner.variant,
                    "x_MlcostOption": winner.label,
                    "x_MlcostBillCategory": line.category,
                    "x_MlcostPriceSource": line.source,
                }
            )
    return rows


def _list_unit_price(plan: Plan, line: BillLine) -> float:
    """A spot node-hour at the on-demand price (what FOCUS's list price means); every
    other line at the price it is charged."""
    if line.pricing == "spot" and line.unit == "node-hour":
        return plan.winner.offer.on_demand_usd_per_hour
    return line.usd_per_unit


def _amounts(quantity: float, unit: str, list_unit: float, line: BillLine) -> Row:
    return {
        "PricingQuantity": _number(quantity),
        "PricingUnit": unit,
        "ConsumedQuantity": _number(quantity),
        "ConsumedUnit": unit,
        "ListUnitPrice": _number(list_unit),
        "ContractedUnitPrice": _number(line.usd_per_unit),
        "ListCost": _number(quantity * list_unit),
        "ContractedCost": _number(line.usd_per_month),
        "BilledCost": _number(line.usd_per_month),
        "EffectiveCost": _number(line.usd_per_month),
    }


def _provider_columns(provider: str) -> Row:
    return {"ProviderName": provider, "PublisherName": provider, "InvoiceIssuerName": provider}


def _tags(workload: str, variant: str) -> str:
    return json.dumps({DEFAULT_TAG_KEY: workload, "mlcost-variant": variant}, sort_keys=True)


def train_run_rows(runs: Sequence[TrainRun], months: Sequence[str]) -> list[Row]:
    """Training attempts that started in ``months`` and have a cost, as FOCUS rows."""
    rows: list[Row] = []
    for run in runs:
        if run.cost_usd is None or run.usd_per_hour is None or run.instance_type is None:
            continue
        if run.started_at.astimezone(UTC).strftime("%Y-%m") not in months:
            continue
        start = month_start(run.started_at.astimezone(UTC).strftime("%Y-%m"))
        hours = run.wall_s / 3600.0
        line = BillLine(
            "compute",
            f"training run {run.run_dir} on {run.instance_type} ({run.pricing or 'on-demand'})",
            hours,
            "Hours",
            run.usd_per_hour,
            run.cost_usd,
            "the price the run was started with (mlcost train)",
        )
        provider = _provider_of(run.instance_type)
        rows.append(
            {
                **_ACCOUNT,
                **_provider_columns(provider),
                "BillingAccountName": "mlcost training runs",
                "BillingPeriodStart": _when(start),
                "BillingPeriodEnd": _when(_next_month(start)),
                "ChargePeriodStart": _when(run.started_at),
                "ChargePeriodEnd": _when(run.started_at + timedelta(seconds=run.wall_s)),
                "ChargeDescription": line.item,
                "ChargeFrequency": "Usage-Based",
                "ServiceCategory": "AI and Machine Learning",
                "ServiceName": "mlcost train",
                "PricingCategory": "Dynamic" if run.pricing == "spot" else "Standard",
                "RegionId": run.region or "",
                "RegionName": run.region or "",
                **_amounts(hours, "Hours", run.usd_per_hour, line),
                "Tags": _tags(Path(run.run_dir).name, ""),
                "x_MlcostBasis": "measured wall time x the named hourly price",
                "x_MlcostSource": "train-run",
                "x_MlcostWorkload": Path(run.run_dir).name,
                "x_MlcostVariant": "",
                "x_MlcostOption": run.status,
                "x_MlcostBillCategory": "compute",
                "x_MlcostPriceSource": line.source,
            }
        )
    return rows


def _provider_of(instance_type: str) -> str:
    """The provider's FOCUS name from how its machine types are spelled."""
    if instance_type.startswith("Standard_"):
        return _PROVIDER_NAMES["azure"]
    return _PROVIDER_NAMES["aws" if "." in instance_type else "gcp"]


def write_focus_export(path: Path, rows: Sequence[Row]) -> None:
    """Write ``rows`` as a FOCUS CSV (EXPORT_COLUMNS; an empty cell is null), atomically.

    Raises BillingError when there are no rows to write.
    """
    if not rows:
        raise BillingError(
            "nothing to export: the plan has no charged bill line and the store no priced "
            "training run in these months"
        )
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=EXPORT_COLUMNS, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(path, out.getvalue())
