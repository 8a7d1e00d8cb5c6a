"""Billing exports into the store: checked against FOCUS, summed to lines, keyed by hash.

A file's identity is the sha256 of its bytes, so importing the same export again changes
nothing, whatever its name. Every file is read, checked and summed before the first is
written, and each is written in one transaction: a bad file leaves the store as it was.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlcost.core import BillingError, BillingImport, BillingLine, SpecFinding, Store
from mlcost.finops._focus_checks import check_file
from mlcost.finops._focus_read import (
    INSTANCE_TYPE_PATTERN,
    billing_files,
    connect,
    create_typed_table,
    load_raw,
)
from mlcost.finops._focus_spec import FOCUS_VERSIONS, REQUIRED_COLUMNS, detect_version

# Without these a row cannot be placed in a month or counted: the file is not a bill.
_SUMMED_COLUMNS = ("BilledCost", "EffectiveCost", "ChargePeriodStart", "BillingPeriodStart")


@dataclass(frozen=True, slots=True)
class FocusReport:
    """What checking one billing file against FOCUS found; nothing is written.

    ``is_version_detected`` is False when the caller named the version.
    """

    path: Path
    sha256: str
    focus_version: str
    is_version_detected: bool
    row_count: int
    findings: tuple[SpecFinding, ...]


@dataclass(frozen=True, slots=True)
class ImportOutcome:
    """One file of an import: ``is_new`` is False when the same bytes were stored already
    (``record`` is then the earlier import, and nothing changed)."""

    path: Path
    record: BillingImport
    is_new: bool


def file_sha256(path: Path) -> str:
    """The sha256 of the file's bytes, read in chunks."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def validate_focus_file(path: Path, *, focus_version: str | None = None) -> FocusReport:
    """Check one billing file against FOCUS ``focus_version`` (detected from its columns
    when None) without importing it.

    Raises BillingError when the file cannot be read, is not a FOCUS export, or
    ``focus_version`` is not one mlcost knows.
    """
    con = connect()
    try:
        report, _ = _read(con, path, file_sha256(path), focus_version, is_summed=False)
    finally:
        con.close()
    return report


def import_billing_files(
    store: Store, paths: Sequence[Path], *, focus_version: str | None = None
) -> list[ImportOutcome]:
    """Import billing files (folders are searched for them) into ``store``, one import each.

    A file whose bytes are stored already is skipped (``is_new`` False). Returns one
    outcome per file, in name order. Raises BillingError, with nothing written, when a
    path is missing or a file is not a FOCUS export; StoreError when the store fails.
    """
    pending: list[tuple[Path, BillingImport, list[BillingLine]]] = []
    outcomes: dict[Path, ImportOutcome] = {}
    seen: dict[str, BillingImport] = {}
    con = connect()
    try:
        for path in billing_files(paths):
            sha256 = file_sha256(path)
            earlier = seen.get(sha256) or store.billing_import(sha256)
            if earlier is not None:
                outcomes[path] = ImportOutcome(path, earlier, is_new=False)
                continue
            report, lines = _read(con, path, sha256, focus_version, is_summed=True)
            record = BillingImport(
                sha256=sha256,
                file_name=str(path),
                focus_version=report.focus_version,
                row_count=report.row_count,
                line_count=len(lines),
                billing_periods=tuple(sorted({line.billing_period for line in lines})),
                findings=report.findings,
                imported_at=datetime.now(UTC),
            )
            seen[sha256] = record
            pending.append((path, record, lines))
    finally:
        con.close()
    for path, record, lines in pending:
        store.record_billing_import(record, lines)
        outcomes[path] = ImportOutcome(path, record, is_new=True)
    return [outcomes[path] for path in sorted(outcomes)]


def _read(
    con: Any, path: Path, sha256: str, focus_version: str | None, *, is_summed: bool
) -> tuple[FocusReport, list[BillingLine]]:
    """Load, check and (when ``is_summed``) sum one file. Raises BillingError when it is
    not a FOCUS export or ``focus_version`` is not one mlcost knows."""
    if focus_version is not None and focus_version not in FOCUS_VERSIONS:
        raise BillingError(
            f"unknown FOCUS version {focus_version!r}; use one of {', '.join(FOCUS_VERSIONS)}"
        )
    raw = load_raw(con, path)
    version = focus_version or detect_version(frozenset(raw.columns))
    missing = [c for c in _SUMMED_COLUMNS if c not in raw.columns]
    if missing:
        required = [c for c in REQUIRED_COLUMNS[version] if c not in raw.columns]
        raise BillingError(
            f"{path}: not a FOCUS {version} billing export: missing required columns "
            f"{', '.join(required)}; export the bill in FOCUS format (CSV or Parquet)"
        )
    create_typed_table(con, raw)
    findings = check_file(con, raw, version)
    lines = _summed_lines(con) if is_summed else []
    report = FocusReport(
        path, sha256, version, focus_version is None, raw.row_count, tuple(findings)
    )
    return report, lines


def _summed_lines(con: Any) -> list[BillingLine]:
    """The ``typed`` rows summed by every dimension a summary breaks spend down by.

    Tags are grouped by their canonical JSON (sorted keys), so the same tags written in
    another order are one tag set; rows without a charge or billing period are left out
    (the checks report them as nulls).
    """
    _create_tag_map(con)
    rows = con.execute(
        f"""
        SELECT
            strftime(coalesce("BillingPeriodStart", "ChargePeriodStart"), '%Y-%m'),
            CAST(coalesce("ChargePeriodStart", "BillingPeriodStart") AS DATE),
            coalesce("BillingCurrency", ''),
            coalesce("ServiceProviderName", "ProviderName"),
            coalesce("SubAccountName", "SubAccountId"),
            "ServiceName",
            "ServiceCategory",
            coalesce("RegionId", "RegionName"),
            "PricingCategory",
            "ChargeCategory",
            "CommitmentDiscountId",
            "CommitmentDiscountStatus",
            "ResourceId",
            nullif(regexp_extract(__instance_text, '{INSTANCE_TYPE_PATTERN}', 1), ''),
            "ConsumedUnit",
            "PricingUnit",
            coalesce(tag_map.canonical, '{{}}'),
            count(*),
            sum(coalesce("BilledCost", 0)),
            sum(coalesce("EffectiveCost", 0)),
            sum("ListCost"),
            sum("ContractedCost"),
            sum("ConsumedQuantity"),
            sum("PricingQuantity")
        FROM typed LEFT JOIN tag_map ON typed."Tags" = tag_map.raw
        WHERE coalesce("ChargePeriodStart", "BillingPeriodStart") IS NOT NULL
        GROUP BY ALL
        ORDER BY ALL
        """
    ).fetchall()
    return [BillingLine(*row) for row in rows]


def _create_tag_map(con: Any) -> None:
    """Table ``tag_map``: each distinct Tags text and its canonical JSON ("{}" when it is
    not a JSON object)."""
    texts = [row[0] for row in con.execute('SELECT DISTINCT "Tags" FROM typed').fetchall()]
    raws = [text for text in texts if text is not None]
    con.execute(
        "CREATE OR REPLACE TEMP TABLE tag_map AS "
        "SELECT unnest(?::VARCHAR[]) AS raw, unnest(?::VARCHAR[]) AS canonical",
        [raws, [_canonical_tags(text) for text in raws]],
    )


def _canonical_tags(text: str) -> str:
    try:
        tags = json.loads(text)
    except json.JSONDecodeError:
        return "{}"
    if not isinstance(tags, dict):
        return "{}"
    return json.dumps(tags, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
