"""Audit: manifests people run, read back, checked for waste and priced; two setups diffed.

Input: Kubernetes manifests (files, folders, helm template output), the catalog, optionally a
workload file and plans.
Output: Findings (severity, object, file and line, fix, monthly saving) as a table, JSON or SARIF
2.1.0, and the monthly cost of two setups side by side, line by line.
"""

from mlcost.audit._checks import audit_cluster
from mlcost.audit._cluster import DEFAULT_REGION, Cluster, Pool, Workload, read_cluster
from mlcost.audit._diff import (
    Diff,
    LineChange,
    Setup,
    diff,
    setup_from_cluster,
    setup_from_plan,
    to_markdown,
)
from mlcost.audit._read import FileProblem, Manifest, Manifests, read_manifests
from mlcost.audit._report import at_or_above, finding_json, saving_upper_bound, to_sarif
from mlcost.audit._rules import RULES, SEVERITIES, Finding, Rule, Severity

__all__ = [
    "DEFAULT_REGION",
    "RULES",
    "SEVERITIES",
    "Cluster",
    "Diff",
    "FileProblem",
    "Finding",
    "LineChange",
    "Manifest",
    "Manifests",
    "Pool",
    "Rule",
    "Setup",
    "Severity",
    "Workload",
    "at_or_above",
    "audit_cluster",
    "diff",
    "finding_json",
    "read_cluster",
    "read_manifests",
    "saving_upper_bound",
    "setup_from_cluster",
    "setup_from_plan",
    "to_markdown",
    "to_sarif",
]
