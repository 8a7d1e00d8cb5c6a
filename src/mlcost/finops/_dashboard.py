"""A Grafana dashboard of what `mlcost monitor` reads, the plan's figures drawn beside them.

Every panel's queries are the monitor's own (finops/_signals.py) as rates; each measured
line is labelled "measured", and a plan figure, threshold or calibrated value is a flat
line labelled as what it is ("plan (estimated)", "SLO", "calibrated (estimated)"). The
workload is a text variable (the scrape job of its servers), the data source a variable,
so one file imports into any Grafana with a Prometheus data source.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from mlcost.core import Plan
from mlcost.finops import _signals
from mlcost.finops._monitor import (
    GPU_UTILIZATION_FLOOR,
    SPOT_INTERRUPTIONS_CEILING_PER_NODE_MONTH,
    Calibrated,
    monitored_option,
    planned_figures,
)

WORKLOAD_VARIABLE = "$workload"
_RATE = "$__rate_interval"
# Cost per 1,000 and run-rate over an hour: over a scrape interval a quiet minute reads as
# an infinite cost per prediction.
_COST_WINDOW = "1h"
_SPOT_WINDOW, _SPOT_STEP_S = "1d", 300
_WIDTH, _HEIGHT = 12, 8
_SCHEMA_VERSION = 39


def dashboard(
    workload: str, *, plan: Plan | None = None, calibrated: Calibrated | None = None
) -> dict[str, Any]:
    """The dashboard (Grafana's JSON model) for ``workload``; plan and calibration lines
    where they are given. Raises DeployError when the plan weighed no option a server
    could run."""
    w = WORKLOAD_VARIABLE
    planned: Mapping[str, float] = {}
    slo: list[tuple[str, float]] = []
    if plan is not None:
        planned = planned_figures(plan, monitored_option(plan)[0])
        slo = [(f"SLO (p{plan.latency_percentile:g})", plan.latency_ms)]
    gpu = {metric: _signals.gpu_utilization(metric, w, _RATE) for metric in _signals.GPU_SCALE}
    calibrated_line = (
        [("calibrated (estimated)", calibrated.escalation_rate)] if calibrated is not None else []
    )
    panels = [
        _panel(
            "Requests per second",
            "reqps",
            [("measured", _signals.requests(w, _RATE, "rate"))],
            _plan_line(planned, "requests_per_s"),
        ),
        _panel(
            "Latency p99",
            "ms",
            [("measured", f"{_signals.latency_s(w, _RATE, 0.99, 'rate')} * 1000")],
            _plan_line(planned, "latency_ms_p99") + slo,
        ),
        _panel(
            "Cost of 1,000 predictions (servers' meter, 1 h)",
            "currencyUSD",
            [("measured", _signals.usd_per_1k_predictions(w, _COST_WINDOW))],
            _plan_line(planned, "compute_usd_per_1k_predictions"),
        ),
        _panel(
            "Monthly compute run-rate (servers' meter, 1 h)",
            "currencyUSD",
            [("measured", _signals.usd_per_month(w, _COST_WINDOW))],
            _plan_line(planned, "compute_usd_per_month"),
        ),
        _panel(
            "Replicas up",
            "short",
            [("measured", _signals.replicas(w))],
            _plan_line(planned, "replicas_mean"),
        ),
        _panel(
            "GPU utilization",
            "percentunit",
            [
                ("measured: graphics engine active", gpu["DCGM_FI_PROF_GR_ENGINE_ACTIVE"]),
                ("measured: SM active", gpu["DCGM_FI_PROF_SM_ACTIVE"]),
                ("measured: DCGM_FI_DEV_GPU_UTIL (0 on MIG)", gpu["DCGM_FI_DEV_GPU_UTIL"]),
            ],
            [("floor", GPU_UTILIZATION_FLOOR)],
        ),
        _panel(
            "Cascade escalation rate",
            "percentunit",
            [("measured", _signals.escalation_rate(w, _RATE))],
            calibrated_line,
        ),
        _panel(
            "Spot interruptions per node-month (cluster, 1 d)",
            "percentunit",
            [
                (
                    "measured",
                    _signals.spot_interruptions_per_node_month(_SPOT_WINDOW, _SPOT_STEP_S),
                )
            ],
            [
                ("ceiling", SPOT_INTERRUPTIONS_CEILING_PER_NODE_MONTH),
                *_plan_line(planned, "spot_interruptions_per_node_month"),
            ],
        ),
    ]
    for index, panel in enumerate(panels):
        panel["id"] = index + 1
        panel["gridPos"] = {
            "x": (index % 2) * _WIDTH,
            "y": (index // 2) * _HEIGHT,
            "w": _WIDTH,
            "h": _HEIGHT,
        }
    return {
        "title": f"mlcost: {workload}",
        "uid": f"mlcost-{workload}"[:40],
        "tags": ["mlcost"],
        "schemaVersion": _SCHEMA_VERSION,
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "1m",
        "templating": {"list": _variables(workload)},
        "panels": panels,
    }


def dashboard_json(model: Mapping[str, Any]) -> str:
    return json.dumps(model, indent=2) + "\n"


def dashboard_queries(model: Mapping[str, Any]) -> list[str]:
    """Every query of the dashboard, as its panels hold them (variables unexpanded)."""
    return [target["expr"] for panel in model["panels"] for target in panel["targets"]]


def _plan_line(planned: Mapping[str, float], name: str) -> list[tuple[str, float]]:
    return [("plan (estimated)", planned[name])] if name in planned else []


def _panel(
    title: str,
    unit: str,
    measured: list[tuple[str, str]],
    lines: list[tuple[str, float]],
) -> dict[str, Any]:
    """A time-series panel: measured queries, then flat lines at fixed values."""
    queries = measured + [(legend, f"vector({value:g})") for legend, value in lines]
    return {
        "type": "timeseries",
        "title": title,
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "targets": [
            {
                "refId": chr(ord("A") + index),
                "datasource": {"type": "prometheus", "uid": "${datasource}"},
                "expr": expr,
                "legendFormat": legend,
            }
            for index, (legend, expr) in enumerate(queries)
        ],
    }


def _variables(workload: str) -> list[dict[str, Any]]:
    return [
        {"name": "datasource", "label": "Prometheus", "type": "datasource", "query": "prometheus"},
        {
            "name": WORKLOAD_VARIABLE.removeprefix("$"),
            "label": "Workload (scrape job)",
            "type": "textbox",
            "query": workload,
            "current": {"text": workload, "value": workload},
        },
    ]
