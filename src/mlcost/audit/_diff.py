"""Two setups priced side by side, line by line: what a change costs before it merges.

A side is a plan (its winner's bill, as ``mlcost plan`` priced it) or a folder of
manifests (priced through the audit's reading, ``read_cluster``). Bill lines are
matched by category and what they bill (a pool's name, a load balancer, the
control plane); a line on one side only is added or removed. Workloads are matched
by kind and name, so a replica count or an instance type that moved shows beside
the dollars it moved.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mlcost.audit._cluster import Cluster
from mlcost.core import BillLine, CostBreakdown, Plan


@dataclass(frozen=True, slots=True)
class Setup:
    """One side of a diff: its bill and what runs, per workload (``ref`` -> a description)."""

    label: str
    cost: CostBreakdown
    workloads: dict[str, str]
    basis: str

    @property
    def monthly_usd(self) -> float:
        return self.cost.total_usd_per_month


@dataclass(frozen=True, slots=True)
class LineChange:
    key: str
    old: BillLine | None
    new: BillLine | None

    @property
    def delta_usd(self) -> float:
        return _usd(self.new) - _usd(self.old)


@dataclass(frozen=True, slots=True)
class Diff:
    old: Setup
    new: Setup
    lines: tuple[LineChange, ...]  # the largest move first; unchanged lines left out
    workloads: tuple[tuple[str, str, str], ...]  # (ref, old, new) where they differ

    @property
    def delta_usd(self) -> float:
        return self.new.monthly_usd - self.old.monthly_usd


def _usd(line: BillLine | None) -> float:
    return line.usd_per_month if line is not None and line.is_charged else 0.0


def setup_from_plan(plan: Plan, label: str) -> Setup:
    """A plan's side: its winner's bill (simulated)."""
    winner = plan.winner
    where = winner.platform_service or winner.platform
    what = (
        f"{winner.variant}: {winner.replicas_mean:g} replicas (mean) on "
        f"{winner.offer.instance_type} {winner.pricing}, {where}"
    )
    return Setup(label, winner.cost, {plan.workload: what}, "the plan's bill (simulated)")


def setup_from_cluster(cluster: Cluster, label: str) -> Setup:
    """A folder of manifests' side: what they run, priced from the catalog."""
    workloads: dict[str, str] = {}
    for workload in cluster.workloads:
        pool = workload.pool
        where = (
            f"{pool.offer.instance_type} {pool.capacity}"
            if pool is not None and pool.offer is not None
            else "no priced pool"
        )
        requests = workload.requests
        size = ", ".join(
            part
            for part in (
                f"{requests.cpu_m / 1000:g} vCPU" if requests.cpu_m else "",
                f"{requests.memory_mib:,.0f} MiB" if requests.memory_mib else "",
                f"{requests.gpus} GPU" if requests.gpus else "",
            )
            if part
        )
        workloads[workload.manifest.ref] = (
            f"{workload.replicas:g} replicas ({workload.replicas_basis}) of {size or 'no requests'} "
            f"on {where}"
        )
    return Setup(label, cluster.cost, workloads, "the manifests, priced from the catalog")


def _key(line: BillLine) -> str:
    """What a line bills: its category and the part of its item before the first ':' (a pool's
    name), or the whole item."""
    head = line.item.split(":", 1)[0] if ": " in line.item else line.item
    return f"{line.category}: {head}"


def diff(old: Setup, new: Setup) -> Diff:
    """The line-by-line difference from ``old`` to ``new``."""
    olds = _by_key(old.cost.lines)
    news = _by_key(new.cost.lines)
    keys = list(dict.fromkeys([*olds, *news]))
    changes = [LineChange(k, olds.get(k), news.get(k)) for k in keys]
    moved = [c for c in changes if abs(c.delta_usd) >= 0.005 or _item(c.old) != _item(c.new)]
    moved.sort(key=lambda c: -abs(c.delta_usd))
    refs = list(dict.fromkeys([*old.workloads, *new.workloads]))
    workloads = tuple(
        (ref, old.workloads.get(ref, "-"), new.workloads.get(ref, "-"))
        for ref in refs
        if old.workloads.get(ref) != new.workloads.get(ref)
    )
    return Diff(old, new, tuple(moved), workloads)


def _item(line: BillLine | None) -> str:
    return "" if line is None else line.item


def _by_key(lines: Sequence[BillLine]) -> dict[str, BillLine]:
    """Lines by key; two lines of one key (a pool's compute at two prices) are summed."""
    found: dict[str, BillLine] = {}
    for line in lines:
        key = _key(line)
        if key in found:
            first = found[key]
            total = first.usd_per_month + line.usd_per_month
            found[key] = BillLine(
                first.category,
                f"{first.item}; {line.item}",
                first.quantity + line.quantity,
                first.unit,
                total / (first.quantity + line.quantity) if first.quantity + line.quantity else 0.0,
                total,
                first.source,
                first.as_of,
                pricing=first.pricing,
            )
        else:
            found[key] = line
    return found


def to_markdown(result: Diff) -> str:
    """The diff as a pull-request comment: the totals, the lines that moved, the workloads."""
    old, new = result.old, result.new
    delta = result.delta_usd
    share = f", {delta / old.monthly_usd:+.1%}" if old.monthly_usd else ""
    out = [
        f"### mlcost diff: ${old.monthly_usd:,.2f} -> ${new.monthly_usd:,.2f} a month "
        f"({_signed(delta)}{share})",
        "",
        f"Old: `{old.label}` ({old.basis}). New: `{new.label}` ({new.basis}). Estimated: catalog "
        "prices, 730 hours a month.",
        "",
        "| line | old | new | change |",
        "| --- | --- | --- | ---: |",
    ]
    for change in result.lines:
        out.append(
            f"| {change.key} | {_cell(change.old, change.key)} | {_cell(change.new, change.key)} "
            f"| {_signed(change.delta_usd)} |"
        )
    out.append(
        f"| **total** | ${old.monthly_usd:,.2f} | ${new.monthly_usd:,.2f} | **{_signed(delta)}** |"
    )
    if result.workloads:
        out += ["", "| workload | old | new |", "| --- | --- | --- |"]
        out += [f"| {ref} | {before} | {after} |" for ref, before, after in result.workloads]
    if old.basis != new.basis:
        out += [
            "",
            "The two sides are priced differently (a plan bills traffic-driven lines that "
            "manifests do not show): compare a plan with a plan, or manifests with manifests.",
        ]
    notes = list(dict.fromkeys([*old.cost.assumptions, *new.cost.assumptions]))
    if notes:
        out += ["", *(f"- {note}" for note in notes)]
    dates = sorted({line.as_of for line in (*old.cost.lines, *new.cost.lines) if line.as_of})
    if dates:
        out += [
            "",
            f"Prices as of {dates[0].isoformat()} to {dates[-1].isoformat()} (mlcost catalog).",
        ]
    return "\n".join(out) + "\n"


def _cell(line: BillLine | None, key: str) -> str:
    """The line's item (without the name its key already shows) and its dollars."""
    if line is None:
        return "-"
    head = key.split(": ", 1)[1]
    item = line.item.removeprefix(f"{head}: ") if line.item != head else ""
    flag = "" if line.is_charged else " (not charged)"
    return f"{item + ': ' if item else ''}${line.usd_per_month:,.2f}{flag}"


def _signed(usd: float) -> str:
    return f"{'+' if usd >= 0 else '-'}${abs(usd):,.2f}"
