"""The workspace store: imported price catalogs and price overrides, in SQLite or PostgreSQL.

One code path, SQLAlchemy Core, for both databases. Every write runs in one
transaction, so a failure leaves the store as it was.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect

from mlcost.core import _migrations
from mlcost.core._billing import BillingImport, BillingLine, SpecFinding
from mlcost.core._codec import from_jsonable, to_jsonable
from mlcost.core._errors import StoreError
from mlcost.core._lazy import require
from mlcost.core._monitor_values import MonitorReading
from mlcost.core._values import Hardware, Offer, PriceOverride, Profile, TrainRun, Variant
from mlcost.core._workspace import DB_URL_ENV

_URL_HINT = f"set {DB_URL_ENV} to sqlite:///path/mlcost.db or postgresql://user@host/db"
_PG_CONNECT_TIMEOUT_S = 3
_SQLITE_BUSY_TIMEOUT_S = 30.0
# Offers are written in batches so a 50k-row import does not build one huge statement.
_WRITE_BATCH_ROWS = 500
# Execution option marking a connection whose transactions take SQLite's write lock up front.
_WRITE_OPTION = "mlcost_write"

_metadata = sa.MetaData()
_imports = sa.Table(
    "catalog_import",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("file_name", sa.Text),
    sa.Column("sha256", sa.Text),
    sa.Column("format", sa.Text),
    sa.Column("imported_at", sa.Text),
    sa.Column("offer_count", sa.Integer),
)
_OFFER_KEY = ("provider", "region", "instance_type")
# Offer fields that must be None or a finite number >= 0.
_OFFER_NUMBERS = (
    "vcpus",
    "memory_gib",
    "on_demand_usd_per_hour",
    "spot_usd_per_hour",
    "accelerator_count",
    "accelerator_memory_gib",
)
_offers = sa.Table(
    "catalog_offer",
    _metadata,
    sa.Column("import_id", sa.Integer),
    *(sa.Column(name, sa.Text, primary_key=True) for name in _OFFER_KEY),
    sa.Column("vcpus", sa.Integer),
    sa.Column("memory_gib", sa.Double),
    sa.Column("arch", sa.Text),
    sa.Column("on_demand_usd_per_hour", sa.Double),
    sa.Column("spot_usd_per_hour", sa.Double),
    sa.Column("accelerator_name", sa.Text),
    sa.Column("accelerator_count", sa.Integer),
    sa.Column("accelerator_memory_gib", sa.Double),
    sa.Column("spot_seen_on", sa.Text),
    sa.Column("interruption_bucket", sa.Text),
    sa.Column("as_of", sa.Text),
    sa.Column("source", sa.Text),
    sa.Column("note", sa.Text),
)
_OVERRIDE_FLOATS = ("on_demand_usd_per_hour", "spot_usd_per_hour", "discount_fraction")
_overrides = sa.Table(
    "price_override",
    _metadata,
    *(sa.Column(name, sa.Text, primary_key=True) for name in _OFFER_KEY),
    *(sa.Column(name, sa.Double) for name in _OVERRIDE_FLOATS),
    sa.Column("note", sa.Text),
    sa.Column("created_at", sa.Text),
)
_TRAIN_RUN_FIELDS = tuple(TrainRun.__dataclass_fields__)
_train_runs = sa.Table(
    "train_run",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    *(
        sa.Column(
            name,
            sa.Double
            if name
            in ("wall_s", "usd_per_hour", "cost_usd", "energy_kwh", "co2_kg", "accuracy_test")
            else sa.Integer
            if name.endswith("_step")
            else sa.Text,
        )
        for name in _TRAIN_RUN_FIELDS
    ),
)
_variants = sa.Table(
    "variant",
    _metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("parent", sa.Text),
    sa.Column("method", sa.Text),
    sa.Column("created_at", sa.Text),
    sa.Column("data", sa.Text),
)
_profiles = sa.Table(
    "profile",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("variant", sa.Text),
    sa.Column("hardware_key", sa.Text),
    sa.Column("basis", sa.Text),
    sa.Column("measured_at", sa.Text),
    sa.Column("data", sa.Text),
)
_monitor_readings = sa.Table(
    "monitor_reading",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("workload", sa.Text),
    sa.Column("taken_at", sa.Text),
    sa.Column("data", sa.Text),
)
_billing_imports = sa.Table(
    "billing_import",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    *(sa.Column(name, sa.Text) for name in ("sha256", "file_name", "focus_version")),
    *(sa.Column(name, sa.Integer) for name in ("row_count", "line_count")),
    *(sa.Column(name, sa.Text) for name in ("billing_periods", "findings", "imported_at")),
)
_BILLING_LINE_FIELDS = tuple(BillingLine.__dataclass_fields__)
_BILLING_LINE_AMOUNTS = (
    "billed_cost",
    "effective_cost",
    "list_cost",
    "contracted_cost",
    "consumed_quantity",
    "pricing_quantity",
)
_billing_lines = sa.Table(
    "billing_line",
    _metadata,
    sa.Column("import_id", sa.Integer),
    *(
        sa.Column(
            name,
            sa.Double
            if name in _BILLING_LINE_AMOUNTS
            else sa.Integer
            if name == "row_count"
            else sa.Text,
        )
        for name in _BILLING_LINE_FIELDS
    ),
)


@dataclass(frozen=True, slots=True)
class ImportRecord:
    """One price file imported into the store; ``imported_at`` is timezone-aware UTC."""

    id: int
    file_name: str
    sha256: str
    format: str
    imported_at: datetime
    offer_count: int


class Store:
    """The workspace database. Open with ``Store.open(url)``; use as a context manager."""

    def __init__(self, engine: sa.Engine, where: str, home: Path | None = None) -> None:
        """Wrap an engine whose schema is already migrated; use ``Store.open`` instead."""
        self._engine = engine
        self._where = where
        self._home = home.resolve() if home is not None else None
        self._closed = False

    @classmethod
    def open(cls, url: str, *, home: Path | None = None) -> Store:
        """Connect to the store at ``url`` and migrate it to the latest schema.

        With ``home`` (the workspace folder), a variant saved from under it is stored with
        its path relative to it and read back against the ``home`` of whoever opens the
        store: a workspace copied elsewhere (into an image, onto a pod's volume) or a
        shared PostgreSQL store read from another machine finds its artifacts.

        Returns the open Store. Raises StoreError when the URL is malformed, the
        database cannot be reached or was written by a newer mlcost, and
        MissingDependencyError for a PostgreSQL URL without psycopg installed.
        """
        where = redact_url(url)
        engine = _create_engine(url, where)
        try:
            with _store_errors("open", where):
                if engine.url.query.get("mode") == "ro":
                    _require_latest(engine, where)
                _migrations.migrate(engine, lambda: _write_transaction(engine), where)
        except BaseException:
            engine.dispose()
            raise
        return cls(engine, where, home)

    @property
    def schema_version(self) -> int:
        """The schema version the store is at. Raises StoreError when it cannot be read."""
        with self._read() as conn:
            return _migrations.read_version(conn)

    def close(self) -> None:
        """Release every connection; later calls raise StoreError."""
        self._closed = True
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def record_import(
        self, *, file_name: str, sha256: str, format: str, offers: Sequence[Offer]
    ) -> int:
        """Record an imported price file and upsert its offers by (provider, region, type).

        Returns the new import's id. Raises StoreError, with nothing written,
        when an offer is invalid, a key appears twice, or the database fails.
        """
        row = {
            "file_name": file_name,
            "sha256": sha256,
            "format": format,
            "imported_at": datetime.now(UTC).isoformat(),
            "offer_count": len(offers),
        }
        with self._write() as conn:
            key = conn.execute(sa.insert(_imports).values(row)).inserted_primary_key
            import_id = int(key[0]) if key is not None else 0
            seen: set[tuple[str, str, str]] = set()
            for start in range(0, len(offers), _WRITE_BATCH_ROWS):
                batch = offers[start : start + _WRITE_BATCH_ROWS]
                rows = [_offer_row(offer, import_id, seen) for offer in batch]
                _upsert(conn, _offers, rows)
        return import_id

    def imported_offers(self) -> list[Offer]:
        """Every imported offer, origin "imported", sorted by key. Raises StoreError."""
        query = sa.select(_offers).order_by(*(_offers.c[name] for name in _OFFER_KEY))
        with self._read() as conn:
            return [_offer_from_row(row) for row in conn.execute(query).mappings()]

    def imports(self) -> list[ImportRecord]:
        """Every recorded import, oldest first. Raises StoreError."""
        with self._read() as conn:
            rows = conn.execute(sa.select(_imports).order_by(_imports.c.id)).mappings()
            return [_import_from_row(row) for row in rows]

    def set_override(self, o: PriceOverride) -> None:
        """Set or replace the override for ``o``'s key. Raises StoreError when invalid."""
        row = _override_row(o)
        with self._write() as conn:
            # created_at stays the first time the key was overridden.
            _upsert(conn, _overrides, [row], keep=("created_at",))

    def overrides(self) -> list[PriceOverride]:
        """Every price override, sorted by key. Raises StoreError."""
        query = sa.select(_overrides).order_by(*(_overrides.c[name] for name in _OFFER_KEY))
        with self._read() as conn:
            return [_override_from_row(row) for row in conn.execute(query).mappings()]

    def remove_override(self, provider: str, region: str, instance_type: str) -> bool:
        """Delete the override for the key; returns whether there was one. Raises StoreError."""
        key = dict(zip(_OFFER_KEY, (provider, region, instance_type), strict=True))
        where = sa.and_(*(_overrides.c[name] == value for name, value in key.items()))
        with self._write() as conn:
            deleted: int = conn.execute(sa.delete(_overrides).where(where)).rowcount
        return deleted > 0

    def record_train_run(self, run: TrainRun) -> int:
        """Store one training attempt; returns its id. Raises StoreError."""
        row = {name: getattr(run, name) for name in _TRAIN_RUN_FIELDS}
        row["started_at"] = run.started_at.isoformat()
        with self._write() as conn:
            key = conn.execute(sa.insert(_train_runs).values(row)).inserted_primary_key
        return int(key[0]) if key is not None else 0

    def train_runs(self, run_dir: str | None = None) -> list[TrainRun]:
        """Training attempts, oldest first; only those of ``run_dir`` when given. Raises StoreError."""
        query = sa.select(*(_train_runs.c[name] for name in _TRAIN_RUN_FIELDS)).order_by(
            _train_runs.c.id
        )
        if run_dir is not None:
            query = query.where(_train_runs.c.run_dir == run_dir)
        with self._read() as conn:
            rows = list(conn.execute(query).mappings())
        return [
            TrainRun(**{**row, "started_at": datetime.fromisoformat(row["started_at"])})
            for row in rows
        ]

    def save_variant(self, variant: Variant) -> None:
        """Store ``variant``, replacing one of the same name. Raises StoreError."""
        path = Path(variant.path)
        if self._home is not None and path.is_absolute() and path.is_relative_to(self._home):
            variant = replace(variant, path=path.relative_to(self._home).as_posix())
        row = {
            "name": variant.name,
            "parent": variant.parent,
            "method": variant.method,
            "created_at": datetime.now(UTC).isoformat(),
            "data": json.dumps(to_jsonable(variant), sort_keys=True),
        }
        with self._write() as conn:
            _upsert(conn, _variants, [row])

    def variants(self) -> list[Variant]:
        """Every stored variant, in the order they were first made. Raises StoreError."""
        query = sa.select(_variants.c.data).order_by(_variants.c.created_at, _variants.c.name)
        with self._read() as conn:
            found = [_decode(Variant, data) for data in conn.execute(query).scalars()]
        return [self._located(variant) for variant in found]

    def _located(self, variant: Variant) -> Variant:
        """A variant stored with a path relative to its workspace, found under this one's."""
        if self._home is None or Path(variant.path).is_absolute():
            return variant
        return replace(variant, path=str(self._home / variant.path))

    def record_profile(self, profile: Profile) -> int:
        """Store one profile (profiles are kept, never replaced); returns its id. Raises StoreError."""
        row = {
            "variant": profile.variant,
            "hardware_key": hardware_key(profile.hardware),
            "basis": profile.basis,
            "measured_at": profile.measured_at.isoformat(),
            "data": json.dumps(to_jsonable(profile), sort_keys=True),
        }
        with self._write() as conn:
            key = conn.execute(sa.insert(_profiles).values(row)).inserted_primary_key
        return int(key[0]) if key is not None else 0

    def profiles(self, variant: str | None = None) -> list[Profile]:
        """Profiles, oldest first; only those of ``variant`` when given. Raises StoreError."""
        query = sa.select(_profiles.c.data).order_by(_profiles.c.id)
        if variant is not None:
            query = query.where(_profiles.c.variant == variant)
        with self._read() as conn:
            return [_decode(Profile, data) for data in conn.execute(query).scalars()]

    def record_monitor_reading(self, reading: MonitorReading) -> int:
        """Store one monitor reading (readings are kept, never replaced); returns its id.
        Raises StoreError."""
        row = {
            "workload": reading.workload,
            "taken_at": reading.taken_at.isoformat(),
            "data": json.dumps(to_jsonable(reading), sort_keys=True),
        }
        with self._write() as conn:
            key = conn.execute(sa.insert(_monitor_readings).values(row)).inserted_primary_key
        return int(key[0]) if key is not None else 0

    def monitor_readings(self, workload: str | None = None) -> list[MonitorReading]:
        """Monitor readings, oldest first; only those of ``workload`` when given. Raises
        StoreError."""
        table = _monitor_readings
        query = sa.select(table.c.data).order_by(table.c.taken_at, table.c.id)
        if workload is not None:
            query = query.where(table.c.workload == workload)
        with self._read() as conn:
            return [_decode(MonitorReading, data) for data in conn.execute(query).scalars()]

    def record_billing_import(self, record: BillingImport, lines: Sequence[BillingLine]) -> int:
        """Store one billing file's summary lines under the sha256 of its bytes; returns its id.

        Raises StoreError, with nothing written, when a file with that sha256 is stored
        already or the database fails.
        """
        row = {
            "sha256": record.sha256,
            "file_name": record.file_name,
            "focus_version": record.focus_version,
            "row_count": record.row_count,
            "line_count": record.line_count,
            "billing_periods": json.dumps(list(record.billing_periods)),
            "findings": json.dumps(to_jsonable(record.findings)),
            "imported_at": record.imported_at.isoformat(),
        }
        with self._write() as conn:
            stored = sa.select(_billing_imports.c.file_name).where(
                _billing_imports.c.sha256 == record.sha256
            )
            earlier = conn.execute(stored).scalar()
            if earlier is not None:
                raise StoreError(
                    f"cannot record {record.file_name}: the same bytes were imported as {earlier}"
                )
            key = conn.execute(sa.insert(_billing_imports).values(row)).inserted_primary_key
            import_id = int(key[0]) if key is not None else 0
            for start in range(0, len(lines), _WRITE_BATCH_ROWS):
                batch = lines[start : start + _WRITE_BATCH_ROWS]
                rows = [_billing_line_row(line, import_id) for line in batch]
                conn.execute(sa.insert(_billing_lines), rows)
        return import_id

    def billing_import(self, sha256: str) -> BillingImport | None:
        """The billing file stored under ``sha256``, or None. Raises StoreError."""
        query = sa.select(_billing_imports).where(_billing_imports.c.sha256 == sha256)
        with self._read() as conn:
            row = conn.execute(query).mappings().first()
        return None if row is None else _billing_import_from_row(row)

    def billing_imports(self) -> list[BillingImport]:
        """Every stored billing file, oldest first. Raises StoreError."""
        query = sa.select(_billing_imports).order_by(_billing_imports.c.id)
        with self._read() as conn:
            return [_billing_import_from_row(row) for row in conn.execute(query).mappings()]

    def billing_lines(self, billing_periods: Sequence[str] | None = None) -> list[BillingLine]:
        """Stored billing lines, in import order; only those of ``billing_periods`` ("2024-09")
        when given. Raises StoreError."""
        columns = [_billing_lines.c[name] for name in _BILLING_LINE_FIELDS]
        query = sa.select(*columns)
        if billing_periods is not None:
            query = query.where(_billing_lines.c.billing_period.in_(list(billing_periods)))
        with self._read() as conn:
            rows = conn.execute(query.order_by(_billing_lines.c.import_id)).mappings()
            return [_billing_line_from_row(row) for row in rows]

    @contextmanager
    def _read(self) -> Iterator[sa.Connection]:
        """A connection for reading; StoreError on database failures."""
        self._check_open()
        with _store_errors("read", self._where), self._engine.connect() as conn:
            yield conn

    @contextmanager
    def _write(self) -> Iterator[sa.Connection]:
        """One write transaction, committed on success and rolled back on any error."""
        self._check_open()
        with _store_errors("write to", self._where), _write_transaction(self._engine) as conn:
            yield conn

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"the store at {self._where} is closed; open it again")


def hardware_key(hardware: Hardware) -> str:
    """A short, stable id of a machine kind: the same CPU, cores, threads and GPU give the same key."""
    parts = (
        hardware.cpu_model,
        hardware.machine,
        str(hardware.physical_cores),
        str(hardware.threads_allowed),
        str(hardware.gpu),
    )
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:12]


def _decode(cls: type[Any], data: str) -> Any:
    """A stored value from its JSON. Raises StoreError when the row does not validate."""
    try:
        return from_jsonable(cls, json.loads(data))
    except ValueError as exc:
        raise StoreError(
            f"a stored {cls.__name__} does not read back ({exc}); was it edited by hand?"
        ) from exc


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***``, safe to show in messages."""
    scheme, sep, rest = url.partition("://")
    if sep:
        authority_end = len(rest)
        for stop in "/?#":
            index = rest.find(stop)
            if index != -1:
                authority_end = min(authority_end, index)
        # The last "@" in the authority ends the userinfo; a password may contain "@".
        at = rest.rfind("@", 0, authority_end)
        if at != -1 and ":" in rest[:at]:
            user = rest[: rest.index(":")]
            rest = f"{user}:***{rest[at:]}"
        url = f"{scheme}{sep}{rest}"
    return re.sub(r"(?i)(password=)[^&]*", r"\1***", url)


def _create_engine(url: str, where: str) -> sa.Engine:
    """An engine for a sqlite or postgresql URL. Raises StoreError for anything else."""
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise StoreError(
            f"cannot open the store at {where}: not a database URL; {_URL_HINT}"
        ) from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(parsed, where)
    if backend in ("postgresql", "postgres"):
        return _postgres_engine(parsed)
    raise StoreError(
        f"cannot open the store at {where}: unsupported database {backend!r}; {_URL_HINT}"
    )


def _sqlite_engine(url: sa.URL, where: str) -> sa.Engine:
    """A SQLite engine in WAL mode with foreign keys on; creates the file's folder."""
    if url.database and url.database != ":memory:" and not url.database.startswith("file:"):
        folder = Path(url.database).expanduser().parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot open the store at {where}: cannot create {folder} ({exc.strerror}); "
                f"pick a writable folder or {_URL_HINT}"
            ) from exc
    read_only = _on_read_only_filesystem(url.database)
    if read_only:
        # A workspace baked into a read-only image (Lambda): no journal, no WAL files; the
        # schema must already be the latest, and any write fails as a StoreError.
        path = Path(str(url.database)).resolve()
        url = sa.make_url(f"sqlite:///file:{path}?mode=ro&immutable=1&uri=true")
    engine = sa.create_engine(url, connect_args={"timeout": _SQLITE_BUSY_TIMEOUT_S})

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take BEGIN out of the driver's hands so _on_begin can choose IMMEDIATE.
        dbapi_conn.isolation_level = None
        if not read_only:
            _enable_wal(dbapi_conn)
        dbapi_conn.execute("PRAGMA foreign_keys=ON")

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        # Writers take the write lock up front: a deferred transaction that later
        # upgrades can fail with "database is locked" instead of waiting its turn.
        mode = "IMMEDIATE" if conn.get_execution_options().get(_WRITE_OPTION) else "DEFERRED"
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def _require_latest(engine: sa.Engine, where: str) -> None:
    """A read-only store cannot be migrated: it must be at this mlcost's schema already."""
    with engine.connect() as conn:
        version = _migrations.read_version(conn)
    if version < _migrations.LATEST_VERSION:
        raise StoreError(
            f"the store at {where} is read-only and at schema {version}; this mlcost needs "
            f"{_migrations.LATEST_VERSION}: run any mlcost command on a writable copy once "
            "(it migrates on open), then bake that copy"
        )


def _on_read_only_filesystem(database: str | None) -> bool:
    """Whether an existing SQLite file lies in a folder nothing may write to."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return False
    path = Path(database).expanduser()
    return path.is_file() and not os.access(path.parent, os.W_OK)


def _enable_wal(dbapi_conn: sqlite3.Connection) -> None:
    """Switch the database to WAL (readers never block the writer); it persists in the file.

    The switch needs an exclusive lock and SQLite answers "database is locked"
    at once, without its busy timeout, while another connection of a
    concurrent first open holds one; so retry until the busy timeout.
    """
    deadline_s = time.monotonic() + _SQLITE_BUSY_TIMEOUT_S
    while True:
        try:
            dbapi_conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline_s:
                raise
            time.sleep(0.02)


def _postgres_engine(url: sa.URL) -> sa.Engine:
    """A PostgreSQL engine through psycopg 3. Raises MissingDependencyError without it."""
    require("psycopg", extra="postgres", purpose="a PostgreSQL store")
    query = dict(url.query)
    # Fail fast on an unreachable server unless the URL says otherwise.
    query.setdefault("connect_timeout", str(_PG_CONNECT_TIMEOUT_S))
    url = url.set(drivername="postgresql+psycopg", query=query)
    return sa.create_engine(url, pool_pre_ping=True)


@contextmanager
def _write_transaction(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A transaction holding the write lock; commits on success, rolls back on error."""
    with engine.connect() as conn:
        conn.execution_options(**{_WRITE_OPTION: True})
        with conn.begin():
            yield conn


@contextmanager
def _store_errors(action: str, where: str) -> Iterator[None]:
    """Turn database errors into a one-line StoreError naming the store and what to check."""
    try:
        yield
    except sa.exc.SQLAlchemyError as exc:
        reason = _one_line_reason(exc)
        hint = f"check {DB_URL_ENV}" if action == "open" else "check the database server"
        raise StoreError(f"cannot {action} the store at {where}: {reason}; {hint}") from exc


def _one_line_reason(exc: sa.exc.SQLAlchemyError) -> str:
    """The driver's first message line, without noise or secrets ("connection refused")."""
    original = exc.orig if isinstance(exc, sa.exc.DBAPIError) else exc
    lines = [line.strip() for line in str(original).splitlines() if line.strip()]
    reason = " ".join(lines[0].split()) if lines else type(original).__name__
    # psycopg prefixes 'connection failed: connection to server at "h", port p failed: '
    # onto the cause, and the server adds a severity; the URL in the message says the rest.
    reason = reason.rsplit(" failed: ", 1)[-1]
    reason = re.sub(r"^(FATAL|ERROR): ", "", reason)
    if reason[:1].isupper() and not reason[1:2].isupper():
        reason = reason[0].lower() + reason[1:]
    return redact_url(reason)


def _upsert(
    conn: sa.Connection,
    table: sa.Table,
    rows: list[dict[str, Any]],
    keep: tuple[str, ...] = (),
) -> None:
    """Insert ``rows``, replacing rows with the same primary key except the ``keep`` columns."""
    if not rows:
        return
    # Both dialects spell INSERT ... ON CONFLICT alike; SQLAlchemy needs the right builder.
    insert = pg_dialect.insert if conn.dialect.name == "postgresql" else sqlite_dialect.insert
    statement = insert(table)
    key = [column.name for column in table.primary_key]
    updates = {
        column.name: statement.excluded[column.name]
        for column in table.columns
        if column.name not in key and column.name not in keep
    }
    conn.execute(statement.on_conflict_do_update(index_elements=key, set_=updates), rows)


def _offer_row(offer: Offer, import_id: int, seen: set[tuple[str, str, str]]) -> dict[str, Any]:
    """The catalog_offer row for ``offer``. Raises StoreError when it is invalid or repeated."""
    label = "/".join(offer.key)
    if not all(isinstance(part, str) and part for part in offer.key):
        raise StoreError(f"cannot record offer {label!r}: provider, region and type must be set")
    if offer.key in seen:
        raise StoreError(f"cannot record the import: offer {label} appears twice")
    seen.add(offer.key)
    for name in _OFFER_NUMBERS:
        _check_non_negative(label, name, getattr(offer, name))
    row = {
        column.name: getattr(offer, column.name)
        for column in _offers.columns
        if column.name != "import_id"
    }
    row["import_id"] = import_id
    for name in ("spot_seen_on", "as_of"):
        row[name] = _date_text(row[name])
    return row


def _check_non_negative(label: str, name: str, value: float | None) -> None:
    """Raise StoreError unless ``value`` is None or a finite number >= 0."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise StoreError(f"cannot record {label}: {name} must be a number, not {value!r}")
    if not math.isfinite(value) or value < 0:
        raise StoreError(f"cannot record {label}: {name} must be finite and >= 0, not {value!r}")


def _offer_from_row(row: sa.RowMapping) -> Offer:
    fields = {name: value for name, value in row.items() if name != "import_id"}
    for name in ("spot_seen_on", "as_of"):
        fields[name] = _date_from_text(fields[name])
    return Offer(**fields, origin="imported")


def _import_from_row(row: sa.RowMapping) -> ImportRecord:
    fields = dict(row)
    fields["imported_at"] = datetime.fromisoformat(fields["imported_at"])
    return ImportRecord(**fields)


def _billing_line_row(line: BillingLine, import_id: int) -> dict[str, Any]:
    row: dict[str, Any] = {name: getattr(line, name) for name in _BILLING_LINE_FIELDS}
    row["charge_date"] = line.charge_date.isoformat()
    row["import_id"] = import_id
    return row


def _billing_line_from_row(row: sa.RowMapping) -> BillingLine:
    fields = dict(row)
    fields["charge_date"] = date.fromisoformat(fields["charge_date"])
    return BillingLine(**fields)


def _billing_import_from_row(row: sa.RowMapping) -> BillingImport:
    findings = _decode(tuple[SpecFinding, ...], row["findings"])
    return BillingImport(
        sha256=row["sha256"],
        file_name=row["file_name"],
        focus_version=row["focus_version"],
        row_count=row["row_count"],
        line_count=row["line_count"],
        billing_periods=tuple(json.loads(row["billing_periods"])),
        findings=findings,
        imported_at=datetime.fromisoformat(row["imported_at"]),
    )


def _override_row(o: PriceOverride) -> dict[str, Any]:
    """The price_override row for ``o``. Raises StoreError when a price or fraction is invalid."""
    label = "/".join((o.provider, o.region, o.instance_type))
    if not all((o.provider, o.region, o.instance_type)):
        raise StoreError(f"cannot set override {label!r}: provider, region and type must be set")
    for name in _OVERRIDE_FLOATS:
        _check_non_negative(label, name, getattr(o, name))
    if o.discount_fraction is not None and o.discount_fraction > 1:
        raise StoreError(f"cannot set override {label}: discount_fraction must be <= 1")
    row = {
        column.name: getattr(o, column.name)
        for column in _overrides.columns
        if column.name != "created_at"
    }
    row["created_at"] = datetime.now(UTC).isoformat()
    return row


def _override_from_row(row: sa.RowMapping) -> PriceOverride:
    return PriceOverride(**{name: value for name, value in row.items() if name != "created_at"})


def _date_text(value: date | None) -> str | None:
    """ISO text for a date; a datetime would not read back as a date, so it is refused."""
    if value is None:
        return None
    if isinstance(value, datetime) or not isinstance(value, date):
        raise StoreError(f"cannot record {value!r}: expected a date without a time")
    return value.isoformat()


def _date_from_text(value: str | None) -> date | None:
    return date.fromisoformat(value) if value is not None else None
