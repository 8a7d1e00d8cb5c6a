"""Prometheus alerting rules for what `mlcost monitor` reads, with the plan's figures as limits.

The expressions are the monitor's own (finops/_signals.py) as per-second rates. Cost rules
read the servers' cost meter: the node prices OpenCost's rule needs live in the mlcost
catalog, not in Prometheus. Plan figures are limits with 20 % head-room, cost over a day
(a plan's cost per 1,000 is a whole day's, and nights cost more per request), latency over
5 minutes. Rules that need a plan or a calibration are left out without one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from mlcost.core import Plan
from mlcost.finops import _signals
from mlcost.finops._monitor import (
    ESCALATION_DRIFT,
    GPU_UTILIZATION_FLOOR,
    SPOT_INTERRUPTIONS_CEILING_PER_NODE_MONTH,
    Calibrated,
    monitored_option,
    planned_figures,
)

PLAN_HEADROOM = 0.20
_LATENCY_WINDOW = "5m"
_HOUR = "1h"
_DAY = "1d"
# Spot node-hours over a day, counted every 5 minutes.
_DAY_STEP_S = 300


def alerting_rules(
    workload: str, *, plan: Plan | None = None, calibrated: Calibrated | None = None
) -> dict[str, Any]:
    """A Prometheus rule file (as a dict) alerting on the workload's signals.

    Raises DeployError when the plan weighed no option a server could run.
    """
    rules = [
        _rule(
            "MlcostGpuUnderutilized",
            f"({_signals.gpu_utilization('DCGM_FI_PROF_GR_ENGINE_ACTIVE', workload, _HOUR)}"
            f" or {_signals.gpu_utilization('DCGM_FI_DEV_GPU_UTIL', workload, _HOUR)})"
            f" < {GPU_UTILIZATION_FLOOR:g}",
            "1h",
            workload,
            f"{workload}: GPU utilization under {GPU_UTILIZATION_FLOOR:.0%} for an hour",
            "Batch more, share the GPU (MIG, time-slicing) or serve from a CPU or a smaller "
            "GPU. DCGM_FI_DEV_GPU_UTIL, used without DCGM's profiling metrics, reads 0 on MIG.",
        ),
        _rule(
            "MlcostSpotInterruptionsHigh",
            f"{_signals.spot_interruptions_per_node_month(_DAY, _DAY_STEP_S)}"
            f" > {SPOT_INTERRUPTIONS_CEILING_PER_NODE_MONTH:g}",
            "1h",
            workload,
            "spot interruptions over "
            f"{SPOT_INTERRUPTIONS_CEILING_PER_NODE_MONTH:.0%} of nodes a month (the cluster's)",
            "Diversify the spot instance types or keep an on-demand base.",
        ),
    ]
    if calibrated is not None:
        rules.append(
            _rule(
                "MlcostCascadeDrift",
                f"abs({_signals.escalation_rate(workload, _HOUR)}"
                f" - {calibrated.escalation_rate:g}) > {ESCALATION_DRIFT:g}",
                "30m",
                workload,
                f"{workload}: tier 1 escalates {{{{ $value | humanizePercentage }}}} off the "
                f"{calibrated.escalation_rate:.1%} calibrated ({calibrated.source})",
                "The traffic moved from the calibration rows; calibrate again on recent traffic.",
            )
        )
    if plan is not None:
        rules += _plan_rules(workload, plan)
    return {"groups": [{"name": f"mlcost-{workload}", "rules": rules}]}


def _plan_rules(workload: str, plan: Plan) -> list[dict[str, Any]]:
    option, _ = monitored_option(plan)
    planned = planned_figures(plan, option)
    limit = 1.0 + PLAN_HEADROOM
    quantile = plan.latency_percentile / 100.0
    latency = _signals.latency_s(workload, _LATENCY_WINDOW, quantile, "rate")
    return [
        _rule(
            "MlcostLatencyOverSlo",
            f"{latency} * 1000 > {plan.latency_ms:g}",
            "10m",
            workload,
            f"{workload}: p{plan.latency_percentile:g} latency over the SLO of "
            f"{plan.latency_ms:g} ms",
            f"The plan predicted {planned['latency_ms_p99']:.1f} ms at p99 ({option.label}).",
        ),
        _rule(
            "MlcostCostPer1kOverPlan",
            f"{_signals.usd_per_1k_predictions(workload, _DAY)}"
            f" > {planned['compute_usd_per_1k_predictions'] * limit:.6g}",
            "1h",
            workload,
            f"{workload}: cost of 1,000 predictions over a day is "
            f"{PLAN_HEADROOM:.0%} above the plan's",
            f"The plan predicted ${planned['compute_usd_per_1k_predictions']:.6f} of compute "
            "per 1,000 (estimated); read mlcost monitor for the gap.",
        ),
        _rule(
            "MlcostRunRateOverPlan",
            f"{_signals.usd_per_month(workload, _DAY)}"
            f" > {planned['compute_usd_per_month'] * limit:.6g}",
            "1h",
            workload,
            f"{workload}: monthly compute run-rate {PLAN_HEADROOM:.0%} above the plan's",
            f"The plan predicted ${planned['compute_usd_per_month']:,.2f} of compute a month.",
        ),
        _rule(
            "MlcostReplicasOverPlan",
            f"{_signals.replicas(workload)} > {option.replicas_max}",
            "15m",
            workload,
            f"{workload}: more replicas than the plan's peak of {option.replicas_max}",
            "Traffic above the plan's, or replicas slower than it assumed; compare with "
            "mlcost monitor's plan-vs-actual table.",
        ),
    ]


def rules_yaml(rules: Mapping[str, Any]) -> str:
    """The rule file as YAML, in the order written (what `promtool check rules` reads)."""
    return yaml.safe_dump(dict(rules), sort_keys=False, width=1000)


def _rule(
    alert: str, expr: str, wait: str, workload: str, summary: str, description: str
) -> dict[str, Any]:
    return {
        "alert": alert,
        "expr": expr,
        "for": wait,
        "labels": {"severity": "warning", "workload": workload},
        "annotations": {"summary": summary, "description": description},
    }
