"""Variants and profiles in the store, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import dataclasses
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from mlcost.core import (
    CpuId,
    Hardware,
    Profile,
    Store,
    StoreError,
    Variant,
    from_jsonable,
    to_jsonable,
)
from mlcost.core import _store as _store_module

HARDWARE = Hardware(
    cpu_model="AMD EPYC 7R13 Processor",
    machine="x86_64",
    cpu_flags=("avx2", "fma"),
    logical_cpus=2,
    physical_cores=1,
    threads_allowed=2,
    memory_gib=23.4,
)
TEACHER = Variant("baseline", "torch", "fp32", "baseline", "/m", 90_000_000, 22_700_000)
INT8 = Variant(
    "int8-dynamic",
    "onnx",
    "int8",
    "dynamic-int8",
    "/v/int8",
    23_000_000,
    22_700_000,
    parent="onnx-fp32",
    recipe={"per_channel": True, "reduce_range": True, "nodes": ["a", "b"]},
)


def profile(variant: str = "int8-dynamic", p50: float = 3.5) -> Profile:
    return Profile(
        variant=variant,
        hardware=HARDWARE,
        basis="measured",
        provider="CPUExecutionProvider",
        threads=2,
        latency_ms_p50=p50,
        latency_ms_p95=p50 * 1.3,
        latency_ms_p99=p50 * 1.6,
        latency_spread=0.04,
        latency_samples=600,
        tokens_mean=21.5,
        batch_size=32,
        throughput_per_s=900.0,
        throughput_by_batch={1: 280.0, 32: 900.0},
        accuracy=0.8681,
        accuracy_ci_low=0.854,
        accuracy_ci_high=0.882,
        agreement=0.991,
        mcnemar_p=0.61,
        test_samples=2314,
        peak_memory_mib=310.5,
        model_memory_mib=60.2,
        load_s=0.21,
        size_bytes=23_000_000,
        versions={"onnxruntime": "1.32.0"},
        measured_at=datetime(2026, 11, 28, 19, 0, tzinfo=UTC),
    )


def test_variants_round_trip_and_a_rebuild_replaces_the_row(store: Store) -> None:
    store.save_variant(TEACHER)
    store.save_variant(INT8)
    store.save_variant(dataclasses.replace(INT8, size_bytes=22_000_000))
    assert store.variants() == [TEACHER, dataclasses.replace(INT8, size_bytes=22_000_000)]


def test_profiles_are_kept_and_filtered_by_variant(store: Store) -> None:
    store.record_profile(profile("baseline", 19.6))
    store.record_profile(profile())
    store.record_profile(profile(p50=3.4))
    assert [p.latency_ms_p50 for p in store.profiles("int8-dynamic")] == [3.5, 3.4]
    assert store.profiles()[0] == profile("baseline", 19.6)
    assert store.profiles("nothing") == []


def test_a_hand_edited_row_that_does_not_validate_is_named(store: Store, store_url: str) -> None:
    store.record_profile(profile())
    engine = sa.create_engine(store_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE profile SET data = :d"), {"d": '{"variant": 3}'})
    engine.dispose()
    with pytest.raises(StoreError, match="a stored Profile does not read back"):
        store.profiles()


def test_json_round_trip_and_a_one_line_error_naming_the_field() -> None:
    data = to_jsonable(profile())
    assert from_jsonable(Profile, data) == profile()
    data["latency_ms_p99"] = "fast"
    with pytest.raises(ValueError, match=r"^latency_ms_p99: Input should be a valid number"):
        from_jsonable(Profile, data)


def test_a_profile_stored_before_cpu_ids_still_loads_and_a_new_one_keeps_its_id() -> None:
    data = to_jsonable(profile())
    del data["hardware"]["cpu_id"]  # what mlcost wrote before it read family and model
    assert from_jsonable(Profile, data).hardware.cpu_id is None
    sapphire_rapids = dataclasses.replace(
        profile(), hardware=dataclasses.replace(HARDWARE, cpu_id=CpuId("GenuineIntel", 6, 143, 8))
    )
    loaded = from_jsonable(Profile, to_jsonable(sapphire_rapids))
    assert loaded.hardware.cpu_id == CpuId("GenuineIntel", 6, 143, 8)


def test_a_workspace_moved_elsewhere_finds_its_artifacts(tmp_path: Path) -> None:
    """Saved from under its home, a variant's path is kept relative to it, and read back
    against the home of whoever opens the store (an image, a pod's volume, another machine)."""
    built, moved = tmp_path / "build" / "ws", tmp_path / "srv" / "ws"
    built.mkdir(parents=True)
    url = f"sqlite:///{built / 'mlcost.db'}"
    inside = dataclasses.replace(INT8, path=str(built / "artifacts" / "variants" / "int8"))
    with Store.open(url, home=built) as store:
        store.save_variant(inside)
        store.save_variant(TEACHER)  # outside the workspace: kept as it was given
        assert {v.name: v.path for v in store.variants()}[INT8.name] == inside.path
    with Store.open(url) as store:
        raw = {v.name: v.path for v in store.variants()}
    assert raw == {INT8.name: "artifacts/variants/int8", TEACHER.name: "/m"}
    moved.parent.mkdir(parents=True)
    built.rename(moved)
    with Store.open(f"sqlite:///{moved / 'mlcost.db'}", home=moved) as store:
        paths = {v.name: v.path for v in store.variants()}
    assert paths == {INT8.name: str(moved / "artifacts" / "variants" / "int8"), TEACHER.name: "/m"}


def test_a_store_on_a_read_only_filesystem_is_read_and_refuses_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A workspace baked into a read-only image (Lambda) is read without a journal or WAL
    files; a write is a StoreError, not a crash."""
    url = f"sqlite:///{tmp_path / 'mlcost.db'}"
    with Store.open(url, home=tmp_path) as store:
        store.save_variant(INT8)
    writable = os.access

    def read_only(path: object, mode: int) -> bool:
        return False if Path(str(path)) == tmp_path and mode == os.W_OK else writable(path, mode)  # type: ignore[arg-type]

    monkeypatch.setattr(_store_module.os, "access", read_only)
    before = sorted(p.name for p in tmp_path.iterdir())
    with Store.open(url, home=tmp_path) as store:
        assert [v.name for v in store.variants()] == [INT8.name]
        with pytest.raises(StoreError):
            store.save_variant(TEACHER)
    assert sorted(p.name for p in tmp_path.iterdir()) == before
