"""FinOps: what ML really costs, from billing exports and live metrics, against the plan.

Input: billing exports in FOCUS 1.0-1.3 (CSV, gzip CSV, Parquet), a Prometheus server's
HTTP API, plans and the store.
Output: billing summaries kept in the store by file hash, FOCUS spec findings, cost per
1,000 predictions per workload, live cost and utilization against the plan, alerting
rules and a Grafana dashboard, and mlcost's own cost rows as a FOCUS file.
"""

__all__: list[str] = []
