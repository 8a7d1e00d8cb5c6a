"""Findings as JSON and as SARIF 2.1.0 (what GitHub code scanning and IDEs read).

SARIF levels map from severities: info -> note, warning -> warning, error -> error.
Each rule is in the driver's ``rules`` with its peers; each result carries the fix
and the estimated saving in its ``properties``. A finding on a file (unreadable) has
no object; one at line 0 (a missing path) has no region.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mlcost import __version__
from mlcost.audit._rules import RULES, SEVERITIES, Finding, Severity

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
_LEVELS: dict[Severity, str] = {"info": "note", "warning": "warning", "error": "error"}
INFORMATION_URI = "https://github.com/mlcost/mlcost/blob/main/docs/audit.md"


def at_or_above(findings: Sequence[Finding], severity: Severity) -> list[Finding]:
    """The findings of ``severity`` or worse."""
    floor = SEVERITIES.index(severity)
    return [f for f in findings if SEVERITIES.index(f.severity) >= floor]


def saving_upper_bound(findings: Sequence[Finding]) -> float:
    """The findings' savings, the largest per object: two fixes of the same nodes overlap,
    so adding them would count the same dollars twice."""
    largest: dict[str, float] = {}
    for finding in findings:
        if finding.saving_usd_per_month:
            key = finding.object or finding.file
            largest[key] = max(largest.get(key, 0.0), finding.saving_usd_per_month)
    return sum(largest.values())


def finding_json(finding: Finding) -> dict[str, Any]:
    return {
        "rule": finding.rule.id,
        "name": finding.rule.name,
        "severity": finding.severity,
        "object": finding.object,
        "file": finding.file,
        "line": finding.line,
        "message": finding.message,
        "fix": finding.fix,
        "saving_usd_per_month": finding.saving_usd_per_month,
        "saving_basis": finding.saving_basis,
        "saving_is": "estimated" if finding.saving_usd_per_month is not None else None,
    }


def to_sarif(findings: Sequence[Finding], *, base: Path | None = None) -> dict[str, Any]:
    """One SARIF run of mlcost audit: every rule, every finding as a result."""
    index = {rule.id: i for i, rule in enumerate(RULES)}
    rules = [
        {
            "id": rule.id,
            "name": rule.name,
            "shortDescription": {"text": rule.looks_for},
            "defaultConfiguration": {"level": _LEVELS[rule.severity]},
            "helpUri": f"{INFORMATION_URI}#{rule.id.lower()}",
            "properties": {"peers": rule.peers or "none (ML-specific)"},
        }
        for rule in RULES
    ]
    results = [_result(f, index[f.rule.id], base) for f in findings]
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "mlcost audit",
                        "version": __version__,
                        "informationUri": INFORMATION_URI,
                        "rules": rules,
                    }
                },
                "results": results,
            }
        ],
    }


def _result(finding: Finding, rule_index: int, base: Path | None) -> dict[str, Any]:
    physical: dict[str, Any] = {"artifactLocation": {"uri": _uri(finding.file, base)}}
    if finding.line > 0:
        physical["region"] = {"startLine": finding.line}
    location: dict[str, Any] = {"physicalLocation": physical}
    if finding.object:
        location["logicalLocations"] = [{"name": finding.object, "kind": "object"}]
    properties: dict[str, Any] = {"fix": finding.fix}
    if finding.saving_usd_per_month is not None:
        properties["savingUsdPerMonth"] = finding.saving_usd_per_month
        properties["savingBasis"] = f"estimated: {finding.saving_basis}"
    return {
        "ruleId": finding.rule.id,
        "ruleIndex": rule_index,
        "level": _LEVELS[finding.severity],
        "message": {"text": f"{finding.message}. Fix: {finding.fix}"},
        "locations": [location],
        "properties": properties,
    }


def _uri(file: str, base: Path | None) -> str:
    """A relative URI where the file is under ``base`` (what code scanning maps to the repo)."""
    path = Path(file)
    if base is not None:
        try:
            return path.resolve().relative_to(base.resolve()).as_posix()
        except ValueError:
            pass
    return path.as_posix()
