"""What the report is drawn from, read once per page: the plan, the store, the audited manifests.

Everything is read here and nowhere else, so each section is a plain function of these
values, and the dashboard reads them again on every request (the store as it is now).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from mlcost.audit import Finding, audit_cluster, read_cluster, read_manifests, saving_upper_bound
from mlcost.catalog import Catalog
from mlcost.core import (
    BillingImport,
    BillingLine,
    CostBreakdown,
    MonitorReading,
    Plan,
    Profile,
    Store,
    Variant,
    Workload,
)


@dataclass(frozen=True, slots=True)
class Audit:
    """One set of manifests audited: its findings and what it runs a month (estimated)."""

    path: str
    findings: tuple[Finding, ...]
    files: int
    cost: CostBreakdown

    @property
    def monthly_usd(self) -> float:
        return self.cost.total_usd_per_month

    @property
    def saving_usd_per_month(self) -> float:
        """The most fixing it saves: the largest saving per object (fixes overlap)."""
        return saving_upper_bound(self.findings)


@dataclass(frozen=True, slots=True)
class Sources:
    """The inputs of every section. ``plan`` and ``workload`` are None where not written yet;
    ``readings`` are the monitor's, of the plan's workload when there is a plan."""

    plan: Plan | None
    workload: Workload | None
    variants: tuple[Variant, ...] = ()
    profiles: tuple[Profile, ...] = ()
    audits: tuple[Audit, ...] = ()
    readings: tuple[MonitorReading, ...] = ()
    billing_imports: tuple[BillingImport, ...] = ()
    billing_lines: tuple[BillingLine, ...] = ()
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def latest_profile(self, variant: str) -> Profile | None:
        """The newest profile of ``variant``, as the planner reads it."""
        found = [p for p in self.profiles if p.variant == variant]
        return found[-1] if found else None


def read_sources(
    store: Store,
    catalog: Catalog,
    *,
    plan: Plan | None,
    workload: Workload | None,
    manifests: Sequence[Path] = (),
) -> Sources:
    """Read the store and audit each folder of ``manifests`` (one set each, missing ones skipped).

    Raises StoreError when the store cannot be read.
    """
    audits = tuple(_audit(path, catalog, workload) for path in manifests if path.exists())
    return Sources(
        plan=plan,
        workload=workload,
        variants=tuple(store.variants()),
        profiles=tuple(store.profiles()),
        audits=audits,
        readings=tuple(store.monitor_readings(plan.workload if plan is not None else None)),
        billing_imports=tuple(store.billing_imports()),
        billing_lines=tuple(store.billing_lines()),
    )


def _audit(path: Path, catalog: Catalog, workload: Workload | None) -> Audit:
    cluster = read_cluster(read_manifests([path]), catalog)
    findings = audit_cluster(cluster, catalog, workload=workload)
    return Audit(str(path), tuple(findings), len(cluster.manifests.files), cluster.cost)
