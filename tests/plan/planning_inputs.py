"""Variants and profiles for planning tests: the demo's figures, measured on a 2-core EPYC."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from mlcost.core import Hardware, Profile, Store, Variant, Workspace

HERE = Hardware(
    cpu_model="AMD EPYC",
    machine="x86_64",
    cpu_flags=("avx2", "fma"),
    logical_cpus=2,
    physical_cores=2,
    threads_allowed=2,
    memory_gib=24.0,
)


def variant(name: str, fmt: str, precision: str, size_mb: float, parent: str | None) -> Variant:
    return Variant(
        name=name,
        format=fmt,  # type: ignore[arg-type]
        precision=precision,  # type: ignore[arg-type]
        method=name,
        path=f"/nonexistent/{name}",
        size_bytes=int(size_mb * 1e6),
        parameter_count=22_700_000,
        parent=parent,
    )


def profile(name: str, p50: float, accuracy: float, memory_mib: float = 300.0) -> Profile:
    return Profile(
        variant=name,
        hardware=HERE,
        basis="measured",
        provider="CPUExecutionProvider",
        threads=2,
        latency_ms_p50=p50,
        latency_ms_p95=p50 * 1.4,
        latency_ms_p99=p50 * 1.7,
        latency_spread=0.03,
        latency_samples=600,
        tokens_mean=33.0,
        batch_size=1,
        throughput_per_s=1000.0 / p50,
        throughput_by_batch={1: 1000.0 / p50},
        accuracy=accuracy,
        accuracy_ci_low=accuracy - 0.014,
        accuracy_ci_high=accuracy + 0.014,
        agreement=0.98,
        mcnemar_p=0.5,
        test_samples=2314,
        peak_memory_mib=memory_mib,
        model_memory_mib=memory_mib / 3,
        load_s=0.5,
        size_bytes=23_000_000,
        versions={},
        measured_at=datetime(2026, 11, 28, tzinfo=UTC),
    )


VARIANTS = [
    variant("baseline", "torch", "fp32", 91.6, None),
    variant("int8-dynamic", "onnx", "int8", 23.7, "baseline"),
    variant("tiny-int8", "onnx", "int8", 9.0, "baseline"),
]
PROFILES = [
    profile("baseline", 25.9, 0.8686, memory_mib=925.0),
    profile("int8-dynamic", 6.9, 0.8686),
    profile("tiny-int8", 1.5, 0.80),  # far below the floor
]


def seed_workspace(home: Path) -> Path:
    """A workspace holding the demo's variants and their profiles, as compress leaves it."""
    with Store.open(Workspace.resolve(home).db_url) as store:
        for item in VARIANTS:
            store.save_variant(item)
        for item in PROFILES:
            store.record_profile(item)
    return home
