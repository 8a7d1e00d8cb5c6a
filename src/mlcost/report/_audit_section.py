"""The audit's findings on each set of manifests: how many of each severity, what fixing saves."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mlcost.audit import SEVERITIES, Finding
from mlcost.report._charts import ERROR, MUTED, WARNING, draw
from mlcost.report._section import Section, no_data, price_lines, usd
from mlcost.report._sources import Audit, Sources

_SEVERITY_COLOURS = {"error": ERROR, "warning": WARNING, "info": MUTED}


def audit_section(sources: Sources) -> Section:
    """Findings by severity per set of manifests, each with its fix and estimated saving."""
    key, title = "audit", "Audit findings"
    audits = sources.audits
    if not audits:
        return no_data(
            key,
            title,
            "no manifests were audited",
            "mlcost report --manifests k8s/ (mlcost deploy render plan.json writes them)",
        )
    takeaway = "; ".join(_summary(audit) for audit in audits) + "."
    rows = tuple(_row(audit, finding) for audit in audits for finding in audit.findings)
    return Section(
        key,
        title,
        takeaway,
        draw(key, (8.0, 1.4 + 0.5 * len(audits)), lambda figure: _paint(figure, audits)),
        ("manifests", "severity", "rule", "object", "where", "finding and fix", "saving/month"),
        rows,
        basis=(
            "estimated: savings and monthly costs at catalog prices for what the manifests "
            "request (lines that depend on traffic are left out)",
        ),
        prices=price_lines(audit.cost for audit in audits),
    )


def _paint(figure: Any, audits: Sequence[Audit]) -> None:
    """A bar per set of manifests, its findings stacked by severity, what fixing saves beside."""
    axes = figure.subplots()
    names = [_short(audit.path) for audit in audits]
    positions = range(len(audits))[::-1]
    left = [0] * len(audits)
    for severity in reversed(SEVERITIES):
        counts = [sum(f.severity == severity for f in audit.findings) for audit in audits]
        axes.barh(
            list(positions),
            counts,
            left=left,
            color=_SEVERITY_COLOURS[severity],
            label=severity,
            height=0.4,
        )
        left = [a + b for a, b in zip(left, counts, strict=True)]
    for y, audit, total in zip(positions, audits, left, strict=True):
        axes.annotate(f"  {_to_save(audit)}", (total, y), va="center", fontsize=9)
    axes.set_yticks(list(positions), names)
    axes.set_xlabel("findings")
    axes.xaxis.get_major_locator().set_params(integer=True)
    axes.margins(x=0.6, y=0.3)
    axes.grid(axis="x")
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.35), ncols=3, fontsize=8)


def _summary(audit: Audit) -> str:
    counts = {s: sum(f.severity == s for f in audit.findings) for s in SEVERITIES}
    severities = ", ".join(f"{n} {s}" for s, n in reversed(counts.items()) if n)
    found = len(audit.findings)
    return (
        f"{_short(audit.path)}: {found} finding{'' if found == 1 else 's'}"
        f"{f' ({severities})' if severities else ''} in {audit.files} files running about "
        f"{usd(audit.monthly_usd)}/month, {_to_save(audit)}"
    )


def _to_save(audit: Audit) -> str:
    saving = audit.saving_usd_per_month
    return f"up to {usd(saving)}/month to save" if saving > 0 else "nothing priced to save"


def _row(audit: Audit, finding: Finding) -> tuple[str, ...]:
    where = _short(finding.file, under=audit.path)
    saving = "-" if finding.saving_usd_per_month is None else usd(finding.saving_usd_per_month)
    return (
        _short(audit.path),
        finding.severity,
        f"{finding.rule.id} {finding.rule.name}",
        finding.object or "-",
        f"{where}:{finding.line}" if finding.line else where,
        f"{finding.message} Fix: {finding.fix}",
        saving,
    )


def _short(path: str, *, under: str | None = None) -> str:
    """A path as a reader knows it: under its audited folder, else its last two parts."""
    found = Path(path)
    if under is not None and found.is_relative_to(under):
        return found.relative_to(under).as_posix() or found.name
    return "/".join(found.parts[-2:])
