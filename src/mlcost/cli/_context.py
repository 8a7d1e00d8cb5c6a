"""What every command shares: the workspace, output mode, and how values become tables or JSON."""

from __future__ import annotations

import dataclasses
import json
import re
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from mlcost.catalog import Catalog, load_catalog
from mlcost.core import Plan, Store, UsageError, Workspace, from_jsonable

HomeOption = Annotated[
    Path | None,
    typer.Option(
        "--home",
        envvar="MLCOST_HOME",
        help="Workspace folder (store and artifacts). Default: $MLCOST_HOME or ~/.mlcost.",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]

# Piped output (files, CI logs) has no terminal width to fit; keep table rows on one line.
console = Console(width=None if sys.stdout.isatty() else 200)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 200)


def workspace(home: Path | None) -> Workspace:
    """The workspace from a command's --home, else the global --home or $MLCOST_HOME."""
    return Workspace.resolve(home).ensure()


@contextmanager
def open_store(home: Path | None) -> Iterator[Store]:
    """The workspace store, closed when the command ends."""
    where = workspace(home)
    store = Store.open(where.db_url, home=where.home)
    try:
        yield store
    finally:
        store.close()


def current_catalog(home: Path | None) -> Catalog:
    """Shipped catalog + the workspace's imports and overrides."""
    with open_store(home) as store:
        return load_catalog(store)


def to_jsonable(value: Any) -> Any:
    """Dataclasses, dates and tuples as plain JSON values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [to_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, Path):
        return str(value)
    return value


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(to_jsonable(value), indent=2) + "\n")


def table(
    title: str, columns: Sequence[str], rows: Sequence[Sequence[str]], caption: str = ""
) -> Table:
    """A Rich table; numeric-looking columns are right-aligned by the caller's "$" or "%"."""
    result = Table(title=title, caption=caption or None, caption_justify="left")
    for column in columns:
        justify = (
            "right"
            if column.startswith(("$", "%", "#")) or column.endswith(("$/h", "GiB", "vCPU"))
            else "left"
        )
        result.add_column(column, justify=justify)  # type: ignore[arg-type]
    for row in rows:
        result.add_row(*row)
    return result


def short_sources(source: str) -> str:
    """ "owner/repo" for GitHub URLs, else the host: enough to tell sources apart in a table."""
    names: list[str] = []
    for part in source.split(" | "):
        match = re.search(r"https?://(?:www\.)?([^/\s]+)(?:/([^/\s]+)/([^/\s]+))?", part)
        if match is None:
            name = part.strip()[:40]
        elif match.group(1) == "github.com" and match.group(3):
            name = f"{match.group(2)}/{match.group(3)}"
        else:
            name = match.group(1)
        if name not in names:
            names.append(name)
    return ", ".join(names)


def usd(value: float | None, digits: int = 4) -> str:
    """A dollar figure for a table; "-" when there is none."""
    if value is None:
        return "-"
    return f"${value:,.{digits}f}"


def read_plan(plan_file: Path) -> Plan:
    """The plan in ``plan_file`` (as mlcost plan wrote it); UsageError with one line if not."""
    if not plan_file.is_file():
        raise UsageError(f"{plan_file} not found; write one with mlcost plan workload.yaml")
    try:
        plan: Plan = from_jsonable(Plan, json.loads(plan_file.read_text(encoding="utf-8")))
    except (ValueError, UnicodeDecodeError) as exc:
        raise UsageError(
            f"{plan_file}: not a plan mlcost wrote ({exc}); run mlcost plan again"
        ) from exc
    return plan
