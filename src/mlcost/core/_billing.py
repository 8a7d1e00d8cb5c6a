"""What a cloud bill says: billing exports summed at the grain every breakdown needs.

Amounts are in the bill's own currency (``currency``, FOCUS's BillingCurrency) and keep
FOCUS's names (billed, effective, list, contracted cost): they are measured, read from
the bill, never estimated. A line sums the rows of one import that share every
dimension a summary can break spend down by, so a month of a large account is a few
thousand lines in the store instead of millions of rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

# MUST and SHOULD are the spec's keywords; "mlcost" marks a check of our own that no
# FOCUS requirement states (a day of the billing period without rows, a quoted number).
FindingLevel = Literal["MUST", "SHOULD", "mlcost"]


@dataclass(frozen=True, slots=True)
class SpecFinding:
    """One way a billing file breaks the FOCUS spec, reported without stopping the import.

    ``rows`` counts the data rows affected (0 when the finding is about the file or a
    column as a whole); ``example_rows`` are the first of them, numbered from 1 for the
    first data row. ``spec_url`` points at the requirement.
    """

    rule: str
    column: str
    level: FindingLevel
    rows: int
    example_rows: tuple[int, ...]
    message: str
    spec_url: str


@dataclass(frozen=True, slots=True)
class BillingLine:
    """The rows of one billing file that share every dimension below, summed.

    ``billing_period`` is the month BillingPeriodStart falls in ("2024-09");
    ``charge_date`` the day ChargePeriodStart falls in. ``instance_type`` is the machine
    type read from the row's description or provider columns ("g5.4xlarge"), None when
    it names none. Quantities are summed per unit (``consumed_unit``, ``pricing_unit``).
    ``tags`` is the row's Tags as canonical JSON (sorted keys), "{}" for none. An amount
    or quantity is None when the file lacks its column.
    """

    billing_period: str
    charge_date: date
    currency: str
    provider: str | None
    sub_account: str | None
    service_name: str | None
    service_category: str | None
    region: str | None
    pricing_category: str | None
    charge_category: str | None
    commitment_discount_id: str | None
    commitment_discount_status: str | None
    resource_id: str | None
    instance_type: str | None
    consumed_unit: str | None
    pricing_unit: str | None
    tags: str
    row_count: int
    billed_cost: float
    effective_cost: float
    list_cost: float | None
    contracted_cost: float | None
    consumed_quantity: float | None
    pricing_quantity: float | None


@dataclass(frozen=True, slots=True)
class BillingImport:
    """One billing file in the store, keyed by the sha256 of its bytes.

    ``focus_version`` is the version its columns were checked against (detected from
    them unless the user named one); ``billing_periods`` the months its lines cover;
    ``findings`` what it breaks of that version; ``imported_at`` is timezone-aware UTC.
    """

    sha256: str
    file_name: str
    focus_version: str
    row_count: int
    line_count: int
    billing_periods: tuple[str, ...]
    findings: tuple[SpecFinding, ...]
    imported_at: datetime


@dataclass(frozen=True, slots=True)
class RequestCount:
    """How many predictions one workload served on one day, and where that count came from.

    ``source`` names the origin ("counts.csv:14", a PromQL query), so a cost per 1,000
    predictions can say what its denominator rests on.
    """

    workload: str
    day: date
    requests: int
    source: str
