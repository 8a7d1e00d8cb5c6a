"""Report: one self-contained HTML file from the store, and the same views served live.

Input: the store (variants, profiles, monitor readings, billing lines), the latest plan.json
with its workload, and the manifests to audit.
Output: report.html (offline, charts inline, every figure labelled measured or estimated)
and the dashboard's pages on a local port.
"""

from mlcost.report._build import SECTIONS, Report, build_report
from mlcost.report._dashboard import dashboard_app, serve_dashboard
from mlcost.report._day import replay_replicas
from mlcost.report._page import render_html, render_section
from mlcost.report._section import Section
from mlcost.report._sources import Audit, Sources, read_sources

__all__ = [
    "SECTIONS",
    "Audit",
    "Report",
    "Section",
    "Sources",
    "build_report",
    "dashboard_app",
    "read_sources",
    "render_html",
    "render_section",
    "replay_replicas",
    "serve_dashboard",
]
