"""The workspace store, run against SQLite and a real PostgreSQL server alike."""

from __future__ import annotations

import dataclasses
import socket
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from mlcost.core import _migrations, _store
from mlcost.core._errors import MissingDependencyError, StoreError
from mlcost.core._store import ImportRecord, Store, redact_url
from mlcost.core._values import Offer, PriceOverride

GPU_OFFER = Offer(
    provider="aws",
    region="us-east-1",
    instance_type="p4d.24xlarge",
    vcpus=96,
    memory_gib=1152.0,
    arch="x86_64",
    on_demand_usd_per_hour=32.7726,
    spot_usd_per_hour=0.1 + 0.2,  # not exactly representable in decimal: must survive as-is
    accelerator_name="A100",
    accelerator_count=8,
    accelerator_memory_gib=40.0,
    spot_seen_on=date(2025, 2, 28),
    interruption_bucket="10-15%",
    as_of=date(2025, 3, 1),
    source="https://aws.amazon.com/ec2/pricing/on-demand/",
    note="8x A100 40 GB",
)
# Every optional field left at its default (None, 0, "").
CPU_OFFER = Offer(
    provider="gcp",
    region="europe-west4",
    instance_type="n2-standard-8",
    vcpus=8,
    memory_gib=32.0,
    arch="x86_64",
    on_demand_usd_per_hour=0.4234,
)


def _engine_for(url: str) -> sa.Engine:
    """A raw engine on the store's database, to tamper with it behind the Store's back."""
    return sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_open_migrates_a_fresh_store_to_the_latest_version(store: Store) -> None:
    assert store.schema_version == _migrations.LATEST_VERSION
    assert store.imports() == []
    assert store.imported_offers() == []
    assert store.overrides() == []


def test_catalog_offer_has_a_column_for_every_offer_field(store_url: str) -> None:
    Store.open(store_url).close()
    engine = _engine_for(store_url)
    try:
        columns = {column["name"] for column in sa.inspect(engine).get_columns("catalog_offer")}
    finally:
        engine.dispose()
    fields = {field.name for field in dataclasses.fields(Offer)} - {"origin"}
    assert fields | {"import_id"} == columns


def test_reopening_is_idempotent_and_keeps_data(store_url: str) -> None:
    with Store.open(store_url) as first:
        first.record_import(file_name="a.csv", sha256="aa", format="csv", offers=[CPU_OFFER])
    with Store.open(store_url) as second:
        assert second.schema_version == _migrations.LATEST_VERSION
        assert second.imported_offers() == [dataclasses.replace(CPU_OFFER, origin="imported")]
    engine = _engine_for(store_url)
    try:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql("SELECT version FROM mlcost_schema").all()
    finally:
        engine.dispose()
    assert rows == [(_migrations.LATEST_VERSION,)]


def test_concurrent_opens_of_a_fresh_store_all_succeed(store_url: str) -> None:
    def open_and_read_version(_: int) -> int:
        with Store.open(store_url) as opened:
            return opened.schema_version

    with ThreadPoolExecutor(max_workers=6) as pool:
        versions = list(pool.map(open_and_read_version, range(6)))
    assert versions == [_migrations.LATEST_VERSION] * 6


def test_a_store_from_a_newer_mlcost_is_refused(store_url: str) -> None:
    Store.open(store_url).close()
    engine = _engine_for(store_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("UPDATE mlcost_schema SET version = 99")
    finally:
        engine.dispose()
    with pytest.raises(StoreError) as caught:
        Store.open(store_url)
    message = str(caught.value)
    latest = _migrations.LATEST_VERSION
    assert f"was written by a newer mlcost (schema 99 > {latest}); upgrade mlcost" in message


def test_record_import_round_trips_every_offer_field(store: Store) -> None:
    before = datetime.now(UTC)
    import_id = store.record_import(
        file_name="prices.csv", sha256="ab" * 32, format="csv", offers=[GPU_OFFER, CPU_OFFER]
    )
    offers = store.imported_offers()
    # Sorted by key: aws before gcp; exact float and date equality, None kept as None.
    assert offers == [
        dataclasses.replace(GPU_OFFER, origin="imported"),
        dataclasses.replace(CPU_OFFER, origin="imported"),
    ]
    assert offers[0].spot_usd_per_hour == 0.1 + 0.2
    assert offers[1].spot_seen_on is None and offers[1].accelerator_name is None
    [record] = store.imports()
    assert record == ImportRecord(
        id=import_id,
        file_name="prices.csv",
        sha256="ab" * 32,
        format="csv",
        imported_at=record.imported_at,
        offer_count=2,
    )
    assert record.imported_at.tzinfo is not None
    assert before <= record.imported_at <= datetime.now(UTC)


def test_a_later_import_of_the_same_key_replaces_the_offer(store: Store) -> None:
    first = store.record_import(file_name="a.csv", sha256="aa", format="csv", offers=[GPU_OFFER])
    cheaper = dataclasses.replace(GPU_OFFER, on_demand_usd_per_hour=21.96, spot_usd_per_hour=None)
    second = store.record_import(
        file_name="b.json", sha256="bb", format="json", offers=[cheaper, CPU_OFFER]
    )
    assert second != first
    assert store.imported_offers() == [
        dataclasses.replace(cheaper, origin="imported"),
        dataclasses.replace(CPU_OFFER, origin="imported"),
    ]
    assert [(r.id, r.file_name, r.offer_count) for r in store.imports()] == [
        (first, "a.csv", 1),
        (second, "b.json", 2),
    ]


def test_a_failed_import_leaves_the_store_unchanged(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.record_import(file_name="a.csv", sha256="aa", format="csv", offers=[GPU_OFFER])
    before = (store.imports(), store.imported_offers())
    # One row per batch, so the import row and the replacing offer are written
    # before the invalid offer is reached: only a rollback can undo them.
    monkeypatch.setattr(_store, "_WRITE_BATCH_ROWS", 1)
    replacing = dataclasses.replace(GPU_OFFER, on_demand_usd_per_hour=1.0)
    invalid = dataclasses.replace(
        CPU_OFFER, instance_type="n2-standard-16", on_demand_usd_per_hour=float("nan")
    )
    with pytest.raises(StoreError, match="on_demand_usd_per_hour must be finite"):
        store.record_import(
            file_name="b.csv", sha256="bb", format="csv", offers=[replacing, CPU_OFFER, invalid]
        )
    assert (store.imports(), store.imported_offers()) == before


def test_an_import_listing_a_key_twice_is_refused(store: Store) -> None:
    with pytest.raises(StoreError, match="appears twice"):
        store.record_import(
            file_name="a.csv", sha256="aa", format="csv", offers=[CPU_OFFER, CPU_OFFER]
        )
    assert store.imports() == []


def test_overrides_can_be_set_replaced_listed_and_removed(store: Store) -> None:
    discount = PriceOverride("gcp", "europe-west4", "n2-standard-8", discount_fraction=0.2)
    private = PriceOverride(
        "aws", "us-east-1", "p4d.24xlarge", on_demand_usd_per_hour=20.0, note="EDP rate"
    )
    store.set_override(discount)
    store.set_override(private)
    assert store.overrides() == [private, discount]
    replaced = dataclasses.replace(private, on_demand_usd_per_hour=None, spot_usd_per_hour=9.5)
    store.set_override(replaced)
    assert store.overrides() == [replaced, discount]
    assert store.remove_override("aws", "us-east-1", "p4d.24xlarge") is True
    assert store.remove_override("aws", "us-east-1", "p4d.24xlarge") is False
    assert store.overrides() == [discount]


def test_an_invalid_override_is_refused(store: Store) -> None:
    with pytest.raises(StoreError, match="discount_fraction"):
        store.set_override(PriceOverride("aws", "us-east-1", "m5.large", discount_fraction=1.5))
    assert store.overrides() == []


def test_a_closed_store_refuses_calls(store_url: str) -> None:
    store = Store.open(store_url)
    store.close()
    with pytest.raises(StoreError, match="is closed"):
        store.overrides()


def test_sqlite_store_creates_its_folder_and_uses_wal(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "mlcost.db"
    Store.open(f"sqlite:///{path}").close()
    assert path.is_file()
    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("not a url", "not a database URL; set MLCOST_DB_URL"),
        ("mysql://root:hunter2@localhost/db", "unsupported database 'mysql'"),
    ],
)
def test_a_bad_url_raises_a_one_line_store_error(url: str, expected: str) -> None:
    with pytest.raises(StoreError) as caught:
        Store.open(url)
    message = str(caught.value)
    assert expected in message
    assert "\n" not in message
    assert "hunter2" not in message


def test_a_sqlite_folder_that_cannot_be_created_raises_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    with pytest.raises(StoreError) as caught:
        Store.open(f"sqlite:///{blocker / 'ws' / 'mlcost.db'}")
    message = str(caught.value)
    assert f"cannot create {blocker / 'ws'}" in message
    assert "pick a writable folder" in message
    assert "\n" not in message


def test_an_unreachable_postgres_fails_fast_without_leaking_the_password() -> None:
    url = f"postgresql://mlcost:hunter2@127.0.0.1:{_closed_port()}/mlcost"
    started = time.monotonic()
    with pytest.raises(StoreError) as caught:
        Store.open(url)
    assert time.monotonic() - started < 5
    message = str(caught.value)
    assert message.startswith("cannot open the store at postgresql://mlcost:***@127.0.0.1:")
    assert "connection refused; check MLCOST_DB_URL" in message
    assert "\n" not in message
    assert "hunter2" not in message


def test_a_postgres_url_without_psycopg_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # makes `import psycopg` fail
    with pytest.raises(MissingDependencyError, match=r"pip install 'mlcost\[postgres\]'"):
        Store.open("postgresql://postgres@127.0.0.1:1/mlcost")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:p@ss@h:5432/db", "postgresql://u:***@h:5432/db"),
        (
            "postgresql://u@h/db?password=x&sslmode=require",
            "postgresql://u@h/db?password=***&sslmode=require",
        ),
        ("sqlite:////home/u/mlcost.db", "sqlite:////home/u/mlcost.db"),
    ],
)
def test_redact_url_hides_passwords(url: str, shown: str) -> None:
    assert redact_url(url) == shown
