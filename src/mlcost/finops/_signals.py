"""The PromQL behind every signal: what `mlcost monitor` reads, its alerts and its dashboard.

One place, so the monitor, the alerting rules and the dashboard cannot disagree on a
formula. A workload is named as Kubernetes names it: the scrape job of its `mlcost serve`
pods (the ServiceMonitor ``mlcost deploy`` renders gives the job the Deployment's name),
and its pods are the Deployment's (``NAME-<template hash>-<suffix>``, container ``serve``).
Each function takes the workload (or a Grafana variable standing for it) and a PromQL range.

Metric names are those of ``mlcost serve`` (serve/_metrics.py), kube-state-metrics
(requests, pod-to-node, node labels), cAdvisor (usage), DCGM exporter (GPU) and Karpenter
(spot interruption notices).
"""

from __future__ import annotations

import re
from typing import Literal

from mlcost.cost import HOURS_PER_MONTH

Resource = Literal["cpu", "memory", "gpu"]
RESOURCES: tuple[Resource, ...] = ("cpu", "memory", "gpu")

# A Deployment's pod: NAME-<pod-template-hash>-<5 random characters>.
_POD_SUFFIX = "-[a-z0-9]+-[a-z0-9]+"
WORKLOAD_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# kube-state-metrics spells the resource names of requests this way.
_REQUEST_RESOURCE = {"cpu": "cpu", "memory": "memory", "gpu": "nvidia_com_gpu"}
# A counter's irate needs two samples; 5 m holds them at any usual cAdvisor scrape interval.
_USAGE_LOOKBACK = "5m"
_CONTAINERS = 'container!="", container!="POD"'


def serve_selector(workload: str) -> str:
    """The label matchers of the workload's `mlcost serve` series."""
    return f'job="{workload}"'


def pod_pattern(workload: str) -> str:
    """The workload's pod names, as a regular expression (RE2 and Python read it alike)."""
    return f"{workload}{_POD_SUFFIX}"


def pod_selector(workload: str) -> str:
    """The label matchers of the workload's serving containers in the cluster's metrics."""
    return f'container="serve", pod=~"{pod_pattern(workload)}"'


def usage_series(workload: str) -> str:
    """The workload's containers that cAdvisor reports usage for."""
    return f"count by (pod) (container_cpu_usage_seconds_total{{{pod_selector(workload)}}})"


def last_scrape(workload: str) -> str:
    """When the workload's targets were last scraped (Unix seconds)."""
    return f"max(timestamp(up{{{serve_selector(workload)}}}))"


def replicas(workload: str) -> str:
    """The workload's targets that answered their last scrape."""
    return f"sum(up{{{serve_selector(workload)}}})"


def serve_jobs() -> str:
    """Every scrape job with `mlcost serve` targets (one series per job)."""
    return "count by (job) (mlcost_ready)"


CounterFunction = Literal["increase", "rate"]


def counter(metric: str, workload: str, window: str, fn: CounterFunction = "increase") -> str:
    """A workload's counter over ``window``, summed over its series: its growth
    (``increase``, what the monitor reads) or its per-second rate (what rules and panels use)."""
    return f"sum({fn}({metric}{{{serve_selector(workload)}}}[{window}]))"


def requests(workload: str, window: str, fn: CounterFunction = "increase") -> str:
    """Predict requests answered (the latency histogram counts each one it answers)."""
    return counter("mlcost_request_duration_seconds_count", workload, window, fn)


def predictions(workload: str, window: str, fn: CounterFunction = "increase") -> str:
    """Texts answered, every tier together."""
    return counter("mlcost_predictions_total", workload, window, fn)


def escalations(workload: str, window: str, fn: CounterFunction = "increase") -> str:
    """Texts tier 1 was unsure of (answered by tier 2, or degraded)."""
    return counter("mlcost_escalations_total", workload, window, fn)


def serve_cost_usd(workload: str, window: str, fn: CounterFunction = "increase") -> str:
    """The servers' own cost meter: their machine's price over the seconds they ran."""
    return counter("mlcost_inference_cost_dollars_total", workload, window, fn)


def latency_s(
    workload: str, window: str, quantile: float = 0.99, fn: CounterFunction = "increase"
) -> str:
    """A quantile of request latency over ``window``, from the server's histogram (seconds)."""
    buckets = (
        f"{fn}(mlcost_request_duration_seconds_bucket{{{serve_selector(workload)}}}[{window}])"
    )
    return f"histogram_quantile({quantile:g}, sum by (le) ({buckets}))"


def threshold(workload: str) -> str:
    """The cascade threshold the servers use now."""
    return f"avg(mlcost_cascade_threshold{{{serve_selector(workload)}}})"


def usd_per_1k_predictions(workload: str, window: str) -> str:
    """The servers' own cost of 1,000 predictions (docs/serve.md), for a rule or a panel."""
    return f"1000 * {serve_cost_usd(workload, window, 'rate')} / {predictions(workload, window, 'rate')}"


def escalation_rate(workload: str, window: str) -> str:
    """The share of texts tier 1 escalated, for a rule or a panel."""
    return f"{escalations(workload, window, 'rate')} / {predictions(workload, window, 'rate')}"


def usd_per_month(workload: str, window: str) -> str:
    """The servers' cost meter as a monthly run-rate (730 hours), for a rule or a panel."""
    return f"{serve_cost_usd(workload, window, 'rate')} * 3600 * {HOURS_PER_MONTH:g}"


def allocated_hours(resource: Resource, window: str, step_s: int) -> str:
    """Per container and node, what it was allocated over ``window`` by OpenCost's rule:
    max(request, usage) at each ``step_s``, summed to resource-hours (core-, byte-, GPU-hours).

    Every container of the cluster, not one workload's: the idle cost of a node is what its
    tenants together leave unallocated. A GPU is allocated by its request alone (a GPU is
    never shared between containers).
    """
    request = _by_container(
        f'kube_pod_container_resource_requests{{resource="{_REQUEST_RESOURCE[resource]}", '
        f"{_CONTAINERS}}}"
    )
    if resource == "cpu":
        usage = _by_container(
            f"irate(container_cpu_usage_seconds_total{{{_CONTAINERS}}}[{_USAGE_LOOKBACK}])"
        )
        allocated = f"({request} >= {usage}) or {usage} or {request}"
    elif resource == "memory":
        usage = _by_container(f"container_memory_working_set_bytes{{{_CONTAINERS}}}")
        allocated = f"({request} >= {usage}) or {usage} or {request}"
    else:
        allocated = request
    on_node = (
        f"({allocated}) * on (namespace, pod) group_left (node) "
        'max by (namespace, pod, node) (kube_pod_info{node!=""})'
    )
    return f"sum_over_time(({on_node})[{window}:{step_s}s]) * {step_s} / 3600"


def node_hours(window: str, step_s: int) -> str:
    """Hours each node existed over ``window`` (with its provider id)."""
    return (
        f"count_over_time((max by (node, provider_id) (kube_node_info))[{window}:{step_s}s]) "
        f"* {step_s} / 3600"
    )


def node_labels(window: str) -> str:
    """Each node's Kubernetes labels (instance type, region, capacity type) as
    kube-state-metrics exports them (``label_node_kubernetes_io_instance_type``, ...)."""
    return f"max_over_time(kube_node_labels[{window}])"


# The node labels (as kube-state-metrics exports them) that mark a spot node, and their value:
# Karpenter, EKS managed node groups, GKE spot and preemptible, AKS spot pools.
SPOT_NODE_LABELS = {
    "label_karpenter_sh_capacity_type": "spot",
    "label_eks_amazonaws_com_capacity_type": "SPOT",
    "label_cloud_google_com_gke_spot": "true",
    "label_cloud_google_com_gke_preemptible": "true",
    "label_kubernetes_azure_com_scalesetpriority": "spot",
}


def spot_node_hours(window: str, step_s: int) -> str:
    """Hours spot nodes ran over ``window``, the cluster's."""
    spot = " or ".join(
        f'max by (node) (kube_node_labels{{{label}="{value}"}})'
        for label, value in SPOT_NODE_LABELS.items()
    )
    return f"sum(count_over_time(({spot})[{window}:{step_s}s])) * {step_s} / 3600"


def spot_interruptions_per_node_month(window: str, step_s: int) -> str:
    """Spot interruptions per spot node and month (730 hours): 0.05 = 5 % of nodes a month."""
    return f"{spot_interruptions(window)} / {spot_node_hours(window, step_s)} * {HOURS_PER_MONTH:g}"


def spot_interruptions(window: str) -> str:
    """Spot interruption notices Karpenter received (the whole cluster's)."""
    return (
        "sum(increase(karpenter_interruption_received_messages_total"
        f'{{message_type="spot_interrupted"}}[{window}]))'
    )


GpuMetric = Literal[
    "DCGM_FI_PROF_GR_ENGINE_ACTIVE", "DCGM_FI_PROF_SM_ACTIVE", "DCGM_FI_DEV_GPU_UTIL"
]
# DCGM_FI_DEV_GPU_UTIL is a percentage; the profiling metrics are ratios.
GPU_SCALE: dict[GpuMetric, float] = {
    "DCGM_FI_PROF_GR_ENGINE_ACTIVE": 1.0,
    "DCGM_FI_PROF_SM_ACTIVE": 1.0,
    "DCGM_FI_DEV_GPU_UTIL": 100.0,
}


def gpu_utilization(metric: GpuMetric, workload: str, window: str) -> str:
    """The mean of a DCGM metric over the workload's GPUs, as a fraction (0.3 = 30 %)."""
    scale = GPU_SCALE[metric]
    mean = f"avg(avg_over_time({metric}{{{pod_selector(workload)}}}[{window}]))"
    return mean if scale == 1.0 else f"{mean} / {scale:g}"


def range_of(seconds: float) -> str:
    """A PromQL range for ``seconds`` (to the millisecond: PromQL durations are integers)."""
    return f"{max(1, round(seconds * 1000))}ms"


def _by_container(selector: str) -> str:
    return f"sum by (namespace, pod, container) ({selector})"


_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_DURATION = re.compile(r"(\d+)(ms|s|m|h|d|w)")


def window_seconds(text: str) -> float:
    """A Prometheus duration ("1h", "90s", "1h30m") in seconds. Raises ValueError when
    ``text`` is not one or is zero."""
    parts = _DURATION.findall(text.strip())
    if not parts or "".join(a + u for a, u in parts) != text.strip():
        raise ValueError(f"{text!r} is not a duration like 1h, 30m, 90s or 1h30m")
    seconds = sum(float(amount) * _UNIT_S[unit] for amount, unit in parts)
    if seconds <= 0:
        raise ValueError(f"{text!r} is no time at all; give a window like 1h")
    return seconds
