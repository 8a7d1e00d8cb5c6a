"""Billing files into DuckDB: every cell as text first, then typed where the data allows.

Reading every column as text (``all_varchar``) means a dirty cell ("NULL", "$1,200.00 ",
"5/1/25") never stops the read or turns a whole column into text: the ``typed`` view
casts each FOCUS column on its own, and the checks compare the two to report what did
not cast cleanly. DuckDB scans the file where it lies; nothing is loaded into Python.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from mlcost.core import BillingError, require
from mlcost.finops._focus_spec import (
    ALLOWED_VALUES,
    DATETIME_COLUMNS,
    FOCUS_VERSIONS,
    NUMERIC_COLUMNS,
    columns_of,
)

FileFormat = Literal["csv", "parquet"]
_SUFFIXES: dict[str, FileFormat] = {".csv": "csv", ".gz": "csv", ".parquet": "parquet"}
# Every column any FOCUS version defines: the typed view has them all, NULL where absent.
ALL_FOCUS_COLUMNS = tuple(sorted(columns_of(FOCUS_VERSIONS[-1])))
# Where a row names its machine type: the description ("$1.624 per On Demand Linux
# g5.4xlarge Instance Hour"), the SKU's details, or the providers' own columns.
_INSTANCE_TEXT_COLUMNS = (
    "ChargeDescription",
    "SkuMeter",
    "SkuPriceDetails",
    "x_InstanceType",
    "x_UsageType",
    "x_SkuMeterName",
)
# AWS "g5.4xlarge" (also inside "ml.g5.xlarge", "BoxUsage:g5.4xlarge"), Azure
# "Standard_NC4as_T4_v3", Google Cloud "a2-highgpu-1g".
INSTANCE_TYPE_PATTERN = (
    r"\b([a-z][a-z0-9]*[0-9][a-z0-9-]*\.(?:[0-9]*x?large|metal(?:-[0-9]+xl)?|nano|micro|"
    r"small|medium)|Standard_[A-Za-z0-9_]+|[a-z][0-9][a-z]?-(?:standard|highmem|highcpu|"
    r"highgpu|megagpu|ultragpu)-[0-9]+g?)\b"
)
# Date/times that are ISO 8601 in shape (the spec's "2024-09-01T00:00:00Z", and without
# "T" or "Z", or a bare date) cast directly; besides them the US month/day/year of some
# spreadsheet exports is read. Anything else (an offset, a time zone) is not read.
_ISO_SHAPE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([ T][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?)?Z?$"
_OTHER_DATETIME_FORMATS = ("%m/%d/%y", "%m/%d/%Y")
# Thousands separators and a leading "$": read, and reported, rather than dropped.
_FORMATTED_NUMBER = r"^-?\$?[0-9]{1,3}(,[0-9]{3})+(\.[0-9]+)?$|^-?\$[0-9]*\.?[0-9]+$"


@dataclass(frozen=True, slots=True)
class RawTable:
    """A billing file in DuckDB as table ``raw``, every cell text; ``rowid + 1`` numbers rows.

    ``typed_columns`` are those the file itself stores with a type (Parquet numbers and
    timestamps), which need no format checks.
    """

    path: Path
    format: FileFormat
    columns: tuple[str, ...]
    typed_columns: frozenset[str]
    row_count: int


def connect() -> Any:
    """A fresh in-memory DuckDB connection. Raises MissingDependencyError without duckdb."""
    duckdb = require("duckdb", extra="finops", purpose="reading billing exports")
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")  # it would draw on the user's terminal
    return con


def billing_files(paths: Iterable[Path]) -> list[Path]:
    """The billing files named or found (recursively) in folders, in name order.

    Raises BillingError for a path that does not exist or a folder without billing files.
    """
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            inside = sorted(p for p in path.rglob("*") if p.is_file() and _format_of(p))
            if not inside:
                raise BillingError(
                    f"{path}: no billing files inside (*.csv, *.csv.gz, *.parquet); "
                    "point at a FOCUS export or the folder of its monthly files"
                )
            found.extend(inside)
        elif path.is_file():
            found.append(path)
        else:
            raise BillingError(f"{path}: no such file or folder")
    return found


def _format_of(path: Path) -> FileFormat | None:
    return _SUFFIXES.get(path.suffix.lower())


def load_raw(con: Any, path: Path) -> RawTable:
    """Load ``path`` (CSV, gzip CSV or Parquet) into table ``raw``, every cell as text.

    Raises BillingError when DuckDB cannot read the file.
    """
    file_format = _format_of(path) or "csv"
    if file_format == "parquet":
        source = "read_parquet(?)"
    else:
        source = (
            "read_csv(?, all_varchar = true, header = true, delim = ',', quote = '\"', "
            "escape = '\"', null_padding = true)"
        )
    duckdb = require("duckdb", extra="finops", purpose="reading billing exports")
    try:
        described = con.execute(f"DESCRIBE SELECT * FROM {source}", [str(path)]).fetchall()
        types = {str(row[0]): str(row[1]) for row in described}
        texts = ", ".join(_as_text(name, kind) for name, kind in types.items())
        con.execute(f"CREATE OR REPLACE TABLE raw AS SELECT {texts} FROM {source}", [str(path)])
        (count,) = con.execute("SELECT count(*) FROM raw").fetchone()
    except duckdb.Error as exc:
        reason = str(exc).strip().splitlines()[0]
        raise BillingError(
            f"{path}: cannot be read as {file_format.upper()} ({reason}); export it again as "
            "CSV (comma-separated, UTF-8), gzip CSV or Parquet"
        ) from exc
    typed = frozenset(name for name, kind in types.items() if kind != "VARCHAR")
    return RawTable(path, file_format, tuple(types), typed, int(count))


def _as_text(name: str, kind: str) -> str:
    """A column as text; a stored timestamp in the spec's own format, so it reads back."""
    column = ident(name)
    if kind.startswith("TIMESTAMP"):
        utc = f"timezone('UTC', {column})" if "TIME ZONE" in kind else column
        return f"strftime({utc}, '%Y-%m-%dT%H:%M:%SZ') AS {column}"
    return f"CAST({column} AS VARCHAR) AS {column}"


def ident(name: str) -> str:
    """``name`` as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def text_sql(column: str) -> str:
    """A raw cell as text, NULL for an empty cell or a literal NULL / null."""
    value = ident(column)
    return f"nullif(CASE WHEN {value} ILIKE 'null' THEN NULL ELSE trim({value}) END, '')"


def number_sql(column: str) -> str:
    """A raw cell as DOUBLE: plain or E notation, or "$1,200.00"; NULL when it is neither."""
    text = text_sql(column)
    cleaned = (
        f"CASE WHEN regexp_matches({text}, '{_FORMATTED_NUMBER}') "
        f"THEN replace(replace({text}, '$', ''), ',', '') ELSE {text} END"
    )
    return f"TRY_CAST({cleaned} AS DOUBLE)"


def datetime_sql(column: str) -> str:
    """A raw cell as TIMESTAMP (UTC): ISO 8601 shapes cast, US dates parsed, else NULL."""
    text = text_sql(column)
    formats = ", ".join(f"'{f}'" for f in _OTHER_DATETIME_FORMATS)
    return (
        f"CASE WHEN regexp_matches({text}, '{_ISO_SHAPE}') THEN TRY_CAST({text} AS TIMESTAMP) "
        f"ELSE try_strptime({text}, [{formats}]) END"
    )


def _enum_sql(column: str, allowed: Sequence[str]) -> str:
    """A raw cell with each allowed value's case variants read as that value."""
    text = text_sql(column)
    cases = " ".join(f"WHEN '{value.lower()}' THEN '{value}'" for value in allowed)
    return f"CASE lower({text}) {cases} ELSE {text} END"


def create_typed_table(con: Any, raw: RawTable) -> None:
    """Table ``typed``: every FOCUS column typed (NULL where the file lacks it), plus
    ``__row`` (the data row's number) and ``__instance_text`` (text that may name a
    machine type)."""
    present = set(raw.columns)
    selects = ["rowid + 1 AS __row"]
    for column in ALL_FOCUS_COLUMNS:
        if column not in present:
            selects.append(f"CAST(NULL AS {_sql_type(column)}) AS {ident(column)}")
        elif column in NUMERIC_COLUMNS:
            selects.append(f"{number_sql(column)} AS {ident(column)}")
        elif column in DATETIME_COLUMNS:
            selects.append(f"{datetime_sql(column)} AS {ident(column)}")
        elif column in ALLOWED_VALUES:
            selects.append(f"{_enum_sql(column, ALLOWED_VALUES[column])} AS {ident(column)}")
        else:
            selects.append(f"{text_sql(column)} AS {ident(column)}")
    sources = [text_sql(c) for c in _INSTANCE_TEXT_COLUMNS if c in present]
    instance_text = f"concat_ws(' ', {', '.join(sources)})" if sources else "''"
    selects.append(f"{instance_text} AS __instance_text")
    con.execute(f"CREATE OR REPLACE TABLE typed AS SELECT {', '.join(selects)} FROM raw")


def _sql_type(column: str) -> str:
    if column in NUMERIC_COLUMNS:
        return "DOUBLE"
    return "TIMESTAMP" if column in DATETIME_COLUMNS else "VARCHAR"
