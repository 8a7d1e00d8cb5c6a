"""What a billing file breaks of its FOCUS version, found with SQL over the loaded file.

Every check counts the rows it affects and names the first few (data rows, numbered from
1), so one bad column in a million rows is one finding, not a million. Nothing here stops
an import: a value mlcost can still read (a case variant, "$1,200.00", a date without
"T") is read and reported; one it cannot read counts as null.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from mlcost.core import FindingLevel, SpecFinding
from mlcost.finops._focus_read import RawTable, datetime_sql, ident, number_sql, text_sql
from mlcost.finops._focus_spec import (
    ALLOWED_VALUES,
    COST_COLUMNS,
    DATETIME_COLUMNS,
    JSON_COLUMNS,
    NON_NEGATIVE_COLUMNS,
    NOT_NULL_COLUMNS,
    NULL_RULES,
    NUMERIC_COLUMNS,
    REQUIRED_COLUMNS,
    SPEC_URLS,
    columns_of,
    version_introducing,
)

_Key = TypeVar("_Key", bound=Hashable)
_EXAMPLES = 5
_FIRST_LINES = 10_000
# The spec's numeric format: an integer, a decimal or E notation; no "+", "$" or ",".
_PLAIN_NUMBER = r"^-?([0-9]+\.?[0-9]*|\.[0-9]+)([eE]-?[0-9]+)?$"
_SPEC_DATETIME = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$"
# One CSV field: quoted (quotes doubled inside) or bare.
_CSV_FIELD = r'(?:"(?:[^"]|"")*"|[^,"]*)'
_QUOTED_NUMBER = r'"-?[0-9]*\.?[0-9]+(?:[eE]-?[0-9]+)?"(?:,|$)'


def check_file(con: Any, raw: RawTable, version: str) -> list[SpecFinding]:
    """Every finding for the file loaded as ``raw`` (and its ``typed`` view) against
    FOCUS ``version``, in the order the checks run."""
    checks = _Checks(con, raw, version)
    return [
        *checks.columns(),
        *checks.null_text(),
        *checks.nullability(),
        *checks.allowed_values(),
        *checks.value_formats(),
        *checks.numbers_as_text(),
        *checks.negatives(),
        *checks.json_objects(),
        *checks.charges_outside_their_period(),
        *checks.charge_period_gaps(),
    ]


@dataclass(frozen=True, slots=True)
class _Format:
    """A FOCUS value format, the columns held to it, and how mlcost reads values that
    miss it (``read_sql``: NULL where it cannot)."""

    name: str
    columns: tuple[str, ...]
    pattern: str
    read_sql: Callable[[str], str]
    rule_read: str
    how_read: str
    rule_unread: str


_FORMATS = (
    _Format(
        "the spec's numeric format",
        NUMERIC_COLUMNS,
        _PLAIN_NUMBER,
        number_sql,
        "number-format",
        "read after dropping the currency symbol and thousands separators",
        "not-a-number",
    ),
    _Format(
        "YYYY-MM-DDTHH:mm:ssZ",
        DATETIME_COLUMNS,
        _SPEC_DATETIME,
        datetime_sql,
        "datetime-format",
        "read as UTC",
        "not-a-datetime",
    ),
)


class _Checks:
    """The checks for one loaded file; each method yields its findings."""

    def __init__(self, con: Any, raw: RawTable, version: str) -> None:
        self._con = con
        self._raw = raw
        self._version = version
        self._url = SPEC_URLS[version]
        self._present = set(raw.columns)

    def _finding(
        self,
        rule: str,
        column: str,
        level: FindingLevel,
        count: int,
        rows: tuple[int, ...],
        message: str,
    ) -> SpecFinding:
        return SpecFinding(rule, column, level, count, rows, message, self._url)

    def _rows(self, where: str, table: str = "typed") -> tuple[int, tuple[int, ...]]:
        """How many rows of ``table`` match ``where``, and the first few row numbers."""
        return self._rows_each({"": where}, table).get("", (0, ()))

    def columns(self) -> Iterator[SpecFinding]:
        """Required columns missing; custom columns without the x_ prefix (ColumnHandling)."""
        for column in REQUIRED_COLUMNS[self._version]:
            if column not in self._present:
                yield self._finding(
                    "missing-column",
                    column,
                    "MUST",
                    0,
                    (),
                    f"{column} MUST be present in a FOCUS {self._version} dataset",
                )
        known = columns_of(self._version)
        by_lower = {c.lower(): c for c in columns_of("1.3")}
        for column in self._raw.columns:
            if column in known or column.startswith("x_"):
                continue
            introduced = version_introducing(column)
            if introduced is not None:
                hint = f"it was introduced in FOCUS {introduced}; check the file as {introduced}"
            elif column.lower() in by_lower:
                hint = f"FOCUS spells it {by_lower[column.lower()]}"
            else:
                hint = f"custom columns MUST be prefixed x_ (x_{column})"
            yield self._finding(
                "unknown-column",
                column,
                "MUST",
                0,
                (),
                f"{column} is not a FOCUS {self._version} column; {hint}",
            )

    def _rows_each(
        self, wheres: dict[_Key, str], table: str
    ) -> dict[_Key, tuple[int, tuple[int, ...]]]:
        """For each condition that rows of ``table`` match: how many (one scan for all), and
        the first few row numbers (``__row`` in ``typed``, ``rowid + 1`` elsewhere)."""
        if not wheres:
            return {}
        counts = self._con.execute(
            "SELECT "
            + ", ".join(f"count(*) FILTER (WHERE {where})" for where in wheres.values())
            + f" FROM {table}"
        ).fetchone()
        row = "__row" if table == "typed" else "rowid + 1"
        found: dict[_Key, tuple[int, tuple[int, ...]]] = {}
        for (key, where), count in zip(wheres.items(), counts, strict=True):
            if count:
                first = self._con.execute(
                    f"SELECT {row} AS n FROM {table} WHERE {where} ORDER BY n LIMIT {_EXAMPLES}"
                ).fetchall()
                found[key] = (int(count), tuple(int(r[0]) for r in first))
        return found

    def null_text(self) -> Iterator[SpecFinding]:
        """Cells holding the text NULL: a placeholder, where the spec wants an empty value."""
        wheres = {c: f"{ident(c)} ILIKE 'null'" for c in self._raw.columns}
        for column, (count, rows) in self._rows_each(wheres, "raw").items():
            yield self._finding(
                "null-as-text",
                column,
                "MUST",
                count,
                rows,
                f"{_cells(count)} of {column} hold the text NULL; columns MUST use null "
                "(an empty cell), not a placeholder; read as null",
            )

    def nullability(self) -> Iterator[SpecFinding]:
        """Nulls where a column MUST NOT be null, and values where it MUST be null."""
        for column in NOT_NULL_COLUMNS[self._version]:
            if column in self._present:
                count, rows = self._rows(f"{ident(column)} IS NULL")
                if count:
                    yield self._finding(
                        "not-null",
                        column,
                        "MUST",
                        count,
                        rows,
                        f"{column} is null in {_rows_text(count)}; it MUST NOT be null",
                    )
        for rule in NULL_RULES:
            if rule.column not in self._present:
                continue
            test = "IS NOT NULL" if rule.must_be_null else "IS NULL"
            count, rows = self._rows(f"({rule.when_sql}) AND {ident(rule.column)} {test}")
            if count:
                must = "MUST be null" if rule.must_be_null else "MUST NOT be null"
                found = "set" if rule.must_be_null else "null"
                yield self._finding(
                    "must-be-null" if rule.must_be_null else "not-null",
                    rule.column,
                    "MUST",
                    count,
                    rows,
                    f"{rule.column} is {found} in {_rows_text(count)} where it {must} ({rule.when})",
                )

    def allowed_values(self) -> Iterator[SpecFinding]:
        """Values outside a column's allowed list; case variants are read as the value."""
        for column, allowed in ALLOWED_VALUES.items():
            if column not in self._present:
                continue
            listed = ", ".join(f"'{value}'" for value in allowed)
            by_lower = {value.lower(): value for value in allowed}
            text = text_sql(column)
            found = self._con.execute(
                f"SELECT {text} AS v, count(*), min(rowid + 1, {_EXAMPLES}) FROM raw "
                f"WHERE {text} IS NOT NULL AND {text} NOT IN ({listed}) GROUP BY v ORDER BY v"
            ).fetchall()
            for value, count, rows in found:
                meant = by_lower.get(str(value).lower())
                if meant is not None:
                    rule = "case-variant"
                    message = f"{column} '{value}' in {_rows_text(count)} is '{meant}' spelled in another case; values MUST match the allowed value exactly; read as '{meant}'"
                else:
                    rule = "not-allowed-value"
                    message = f"{column} '{value}' in {_rows_text(count)} is not an allowed value ({', '.join(allowed)})"
                yield self._finding(rule, column, "MUST", count, tuple(sorted(rows)), message)

    def value_formats(self) -> Iterator[SpecFinding]:
        """Numbers and date/times in another format than the spec's (NumericFormat,
        DateTimeFormat): those mlcost still reads, and those it cannot. One scan."""
        wheres: dict[tuple[str, bool], str] = {}
        formats: dict[str, _Format] = {}
        for value_format in _FORMATS:
            for column in value_format.columns:
                if column not in self._present or column in self._raw.typed_columns:
                    continue
                text = text_sql(column)
                odd = f"{text} IS NOT NULL AND NOT regexp_matches({text}, '{value_format.pattern}')"
                for is_read in (True, False):
                    read = "IS NOT NULL" if is_read else "IS NULL"
                    wheres[column, is_read] = f"{odd} AND {value_format.read_sql(column)} {read}"
                formats[column] = value_format
        for (column, is_read), (count, rows) in self._rows_each(wheres, "raw").items():
            value_format = formats[column]
            (example,) = self._con.execute(
                f"SELECT {ident(column)} FROM raw WHERE rowid = {rows[0] - 1}"
            ).fetchone()
            yield self._finding(
                value_format.rule_read if is_read else value_format.rule_unread,
                column,
                "MUST",
                count,
                rows,
                f"{column} is not in {value_format.name} in {_rows_text(count)} "
                f"(e.g. {example!r}): {value_format.how_read if is_read else 'read as null'}",
            )

    def numbers_as_text(self) -> Iterator[SpecFinding]:
        """Numbers written as strings: quoted in a CSV, string-typed in a Parquet file."""
        return self._quoted_numbers() if self._raw.format == "csv" else self._text_numbers()

    def _quoted_numbers(self) -> Iterator[SpecFinding]:
        """Numbers in quotes in a CSV: a writer that typed them as text. A writer quotes a
        column throughout or not at all, so the first lines tell; they are read as lines,
        so a row is its line less the header (off where a quoted cell spans lines)."""
        wheres = {  # the header's quoted names are not numbers, so it never matches
            column: f"regexp_matches(line, '^(?:{_CSV_FIELD},){{{index}}}{_QUOTED_NUMBER}')"
            for index, column in enumerate(self._raw.columns)
            if column in NUMERIC_COLUMNS
        }
        self._con.execute(
            "CREATE OR REPLACE TEMP TABLE lines AS SELECT line FROM read_csv(?, "
            "columns = {'line': 'VARCHAR'}, header = false, delim = '\x01', quote = '', "
            f"escape = '', auto_detect = false) LIMIT {_FIRST_LINES + 1}",
            [str(self._raw.path)],
        )
        try:
            quoted = self._rows_each(wheres, "lines")
        finally:
            self._con.execute("DROP TABLE lines")
        scope = f" of the first {_FIRST_LINES:,}" if self._raw.row_count > _FIRST_LINES else ""
        for column, (count, rows) in quoted.items():
            yield self._finding(
                "quoted-number",
                column,
                "mlcost",
                count,
                tuple(row - 1 for row in rows),  # line 1 is the header
                f"{column} is written in quotes in {_rows_text(count)}{scope}: a number typed "
                "as text, which readers that infer types take for a string; read as a number",
            )

    def _text_numbers(self) -> Iterator[SpecFinding]:
        """Numeric columns a Parquet file stores as strings."""
        for column in NUMERIC_COLUMNS:
            if column in self._present and column not in self._raw.typed_columns:
                yield self._finding(
                    "quoted-number",
                    column,
                    "mlcost",
                    0,
                    (),
                    f"{column} is stored as strings; FOCUS types it Decimal; read as a number",
                )

    def negatives(self) -> Iterator[SpecFinding]:
        """Negative unit prices (MUST NOT), and negative costs on usage or purchase rows
        that are not corrections (credits and refunds belong in Credit or Adjustment rows)."""
        for column in NON_NEGATIVE_COLUMNS:
            if column in self._present:
                count, rows = self._rows(f"{ident(column)} < 0")
                if count:
                    yield self._finding(
                        "negative-price",
                        column,
                        "MUST",
                        count,
                        rows,
                        f"{column} is negative in {_rows_text(count)}; it MUST be a non-negative decimal",
                    )
        billable = "\"ChargeCategory\" IN ('Usage', 'Purchase') AND \"ChargeClass\" IS NULL"
        for column in COST_COLUMNS:
            if column in self._present:
                count, rows = self._rows(f"{billable} AND {ident(column)} < 0")
                if count:
                    yield self._finding(
                        "negative-cost",
                        column,
                        "mlcost",
                        count,
                        rows,
                        f"{column} is negative in {_rows_text(count)} of usage or purchase that are not "
                        "corrections; a credit or refund is a Credit or Adjustment row",
                    )

    def json_objects(self) -> Iterator[SpecFinding]:
        """Key-value columns (Tags, SkuPriceDetails, ...) that are not a JSON object."""
        for column in JSON_COLUMNS:
            if column not in self._present:
                continue
            text = text_sql(column)
            bad = (
                f"{text} IS NOT NULL AND (NOT json_valid({text}) OR json_type({text}) <> 'OBJECT')"
            )
            count, rows = self._rows(bad, "raw")
            if count:
                yield self._finding(
                    "invalid-json",
                    column,
                    "MUST",
                    count,
                    rows,
                    f"{column} is not a JSON object in {_rows_text(count)} (Key-Value Format); "
                    "read as no tags",
                )

    def charges_outside_their_period(self) -> Iterator[SpecFinding]:
        """Rows whose charge period lies wholly outside their billing period (a late charge
        filed under the next month): they are counted in that period, but cover none of it."""
        count, rows = self._rows(
            '"ChargePeriodEnd" <= "BillingPeriodStart" OR "ChargePeriodStart" >= "BillingPeriodEnd"'
        )
        if count:
            yield self._finding(
                "charge-outside-billing-period",
                "ChargePeriodStart",
                "mlcost",
                count,
                rows,
                f"the charge period of {_rows_text(count)} lies outside its billing period; "
                "billed in the period it is filed under",
            )

    def charge_period_gaps(self) -> Iterator[SpecFinding]:
        """Days of a billing period that no row's charge period touches: an export cut
        short, or a day the provider did not bill. Periods holding only charges from
        outside them are left to ``charges_outside_their_period``."""
        spans = self._con.execute(
            'SELECT DISTINCT "BillingPeriodStart", "BillingPeriodEnd", '
            'date_trunc(\'day\', "ChargePeriodStart"), "ChargePeriodEnd" FROM typed '
            'WHERE "BillingPeriodStart" < "BillingPeriodEnd" '
            'AND "ChargePeriodStart" < "ChargePeriodEnd" '
            'AND "ChargePeriodEnd" > "BillingPeriodStart" '
            'AND "ChargePeriodStart" < "BillingPeriodEnd"'
        ).fetchall()
        covered: dict[tuple[datetime, datetime], set[date]] = {}
        for period_start, period_end, charge_start, charge_end in spans:
            days = covered.setdefault((period_start, period_end), set())
            first = max(charge_start, period_start).date()
            last = (min(charge_end, period_end) - timedelta(microseconds=1)).date()
            days.update(first + timedelta(days=n) for n in range((last - first).days + 1))
        for (period_start, period_end), days in sorted(covered.items()):
            wanted = _days(period_start.date(), period_end.date())
            missing = sorted(set(wanted) - days)
            if missing:
                yield self._finding(
                    "charge-period-gap",
                    "ChargePeriodStart",
                    "mlcost",
                    0,
                    (),
                    f"billing period {period_start:%Y-%m-%d} to {period_end:%Y-%m-%d}: "
                    f"{len(missing)} of {len(wanted)} days have no rows ({_ranges(missing)})",
                )


def _days(first: date, end: date) -> list[date]:
    """The days from ``first`` up to, not including, ``end``."""
    return [first + timedelta(days=n) for n in range((end - first).days)]


def _ranges(days: list[date]) -> str:
    """Sorted days as runs: "2024-09-03, 2024-09-10 to 2024-09-12"."""
    runs: list[list[date]] = []
    for day in days:
        if runs and day - runs[-1][-1] == timedelta(days=1):
            runs[-1].append(day)
        else:
            runs.append([day])
    return ", ".join(str(run[0]) if len(run) == 1 else f"{run[0]} to {run[-1]}" for run in runs)


def _rows_text(count: int) -> str:
    return f"{count:,} row" if count == 1 else f"{count:,} rows"


def _cells(count: int) -> str:
    return f"{count:,} cell" if count == 1 else f"{count:,} cells"
