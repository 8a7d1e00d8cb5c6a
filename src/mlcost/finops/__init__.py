"""FinOps: what ML really costs, from billing exports and live metrics, against the plan.

Input: billing exports in FOCUS 1.0-1.3 (CSV, gzip CSV, Parquet), a Prometheus server's
HTTP API, plans and the store.
Output: billing summaries kept in the store by file hash, FOCUS spec findings, cost per
1,000 predictions per workload, live cost and utilization against the plan, alerting
rules and a Grafana dashboard, and mlcost's own cost rows as a FOCUS file.
"""

from mlcost.core import PrometheusError
from mlcost.finops._allocation import OPENCOST_RATIO_USD_PER_HOUR, Allocation, PricedNode
from mlcost.finops._billing_import import (
    FocusReport,
    ImportOutcome,
    file_sha256,
    import_billing_files,
    validate_focus_file,
)
from mlcost.finops._billing_summary import (
    BASIS,
    DEFAULT_BREAKDOWNS,
    DIMENSIONS,
    BillingSummary,
    CommitmentUse,
    MlSpend,
    MonthTotal,
    Mover,
    Spend,
    check_dimension,
    summarize_billing,
)
from mlcost.finops._dashboard import dashboard, dashboard_json, dashboard_queries
from mlcost.finops._focus_export import (
    EXPORT_COLUMNS,
    EXPORT_FOCUS_VERSION,
    months_from,
    plan_rows,
    train_run_rows,
    write_focus_export,
)
from mlcost.finops._focus_spec import FOCUS_VERSIONS, REQUIRED_COLUMNS, SPEC_URLS
from mlcost.finops._monitor import (
    ESCALATION_DRIFT,
    GPU_UTILIZATION_FLOOR,
    SPOT_INTERRUPTIONS_CEILING_PER_NODE_MONTH,
    Calibrated,
    choose_gpu_utilization,
    escalation_drift,
    find_workload,
    monitored_option,
    planned_figures,
    read_calibration,
    read_monitor,
)
from mlcost.finops._prometheus import Prometheus, Sample, Series
from mlcost.finops._rules import PLAN_HEADROOM, alerting_rules, rules_yaml
from mlcost.finops._signals import WORKLOAD_NAME, window_seconds
from mlcost.finops._unit_cost import (
    DEFAULT_TAG_KEY,
    UnitCost,
    UnitEconomics,
    prometheus_request_counts,
    read_request_counts,
    unit_costs,
)

__all__ = [
    "BASIS",
    "DEFAULT_BREAKDOWNS",
    "DEFAULT_TAG_KEY",
    "DIMENSIONS",
    "ESCALATION_DRIFT",
    "EXPORT_COLUMNS",
    "EXPORT_FOCUS_VERSION",
    "FOCUS_VERSIONS",
    "GPU_UTILIZATION_FLOOR",
    "OPENCOST_RATIO_USD_PER_HOUR",
    "PLAN_HEADROOM",
    "REQUIRED_COLUMNS",
    "SPEC_URLS",
    "SPOT_INTERRUPTIONS_CEILING_PER_NODE_MONTH",
    "WORKLOAD_NAME",
    "Allocation",
    "BillingSummary",
    "Calibrated",
    "CommitmentUse",
    "FocusReport",
    "ImportOutcome",
    "MlSpend",
    "MonthTotal",
    "Mover",
    "PricedNode",
    "Prometheus",
    "PrometheusError",
    "Sample",
    "Series",
    "Spend",
    "UnitCost",
    "UnitEconomics",
    "alerting_rules",
    "check_dimension",
    "choose_gpu_utilization",
    "dashboard",
    "dashboard_json",
    "dashboard_queries",
    "escalation_drift",
    "file_sha256",
    "find_workload",
    "import_billing_files",
    "monitored_option",
    "months_from",
    "plan_rows",
    "planned_figures",
    "prometheus_request_counts",
    "read_calibration",
    "read_monitor",
    "read_request_counts",
    "rules_yaml",
    "summarize_billing",
    "train_run_rows",
    "unit_costs",
    "validate_focus_file",
    "window_seconds",
    "write_focus_export",
]
