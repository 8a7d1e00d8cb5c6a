"""Report: one self-contained HTML file from the store, and the same views served live.

Input: the store (plans, variants, profiles, billing summaries, monitor readings), the
latest plan.json and audit findings.
Output: report.html (offline, charts inline, every figure labelled measured or estimated)
and the dashboard's pages on a local port.
"""

__all__: list[str] = []
