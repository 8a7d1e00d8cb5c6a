"""How the Deployment scales: on the per-pod request rate the plan's simulated autoscaler held.

Two renderings of the same rule. ``hpa``: a HorizontalPodAutoscaler on the per-pod
rate, with the Prometheus Adapter rule that computes it from ``mlcost serve``'s request
counter. ``keda``: a KEDA ScaledObject whose prometheus trigger asks Prometheus for the
same rate directly (no adapter), with the same bounds and the same scaling behaviour;
it may also take the Deployment to zero where the plan did.
"""

from __future__ import annotations

from typing import Any, Literal

from mlcost.core import PlanOption, ReplicaSpec

Autoscaler = Literal["hpa", "keda"]

REQUEST_RATE_METRIC = "mlcost_requests_per_second"
REQUEST_COUNTER = "mlcost_requests_total"
RATE_WINDOW = "1m"
# kube-prometheus-stack's Prometheus, as the Prometheus Operator names its Service.
PROMETHEUS_URL = "http://prometheus-operated.monitoring.svc:9090"
# KEDA asks Prometheus as often as the ServiceMonitor scrapes; 300 s without requests before
# it takes the Deployment to zero, the HPA's own scale-down window.
POLLING_INTERVAL_S = 15
COOLDOWN_S = 300


def autoscaling_objects(
    autoscaler: Autoscaler,
    name: str,
    labels: dict[str, str],
    option: PlanOption,
    spec: ReplicaSpec,
    *,
    prometheus_url: str = PROMETHEUS_URL,
) -> tuple[list[dict[str, Any]], list[str]]:
    """The objects that scale the Deployment ``name``, and the notes on them."""
    if autoscaler == "hpa":
        return [_hpa(name, labels, option, spec), _adapter_rules(name, labels)], []
    least = keda_min_replicas(option)
    notes = [
        f"KEDA ScaledObject {name}: Prometheus at {prometheus_url} (set serverAddress to yours); "
        f"the rate is that of the pods scraped as job {name} (the ServiceMonitor's Service)"
    ]
    if least == 0:
        notes.append(
            f"minReplicaCount 0: KEDA takes {name} to zero after {COOLDOWN_S} s without requests, "
            "as the plan did; at zero no pod counts requests, so this trigger cannot wake it: "
            "put the KEDA HTTP add-on's interceptor (an HTTPScaledObject) in front for that"
        )
    return [_scaled_object(name, labels, option, spec, least, prometheus_url)], notes


def keda_min_replicas(option: PlanOption) -> int:
    """The fewest replicas KEDA may leave: the plan's autoscaler floor, 0 where it scaled to
    zero. A plan written before the floor was kept gives only the fewest replicas ready, and
    a quiet minute with none ready is a floor only for an autoscaled option with no spot
    reclaim to explain it (a reclaim empties a pool for minutes: risk, not a floor)."""
    if option.replicas_floor is not None:
        return option.min_replicas
    is_floor = option.scaling == "autoscaled" and option.interruptions_expected == 0
    return 0 if is_floor and option.replicas_min == 0 else max(1, option.replicas_min)


def _target_requests_per_s(spec: ReplicaSpec) -> int:
    return max(1, int(spec.target_requests_per_s))


def _behavior() -> dict[str, Any]:
    """Scale-up at once (it may double every 15 s), scale-down after 300 s and one pod a
    minute: the planner's autoscaler (its scale-down window) as the HPA runs it."""
    return {
        "scaleUp": {
            "stabilizationWindowSeconds": 0,
            "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
        },
        "scaleDown": {
            "stabilizationWindowSeconds": 300,
            "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}],
        },
    }


def _hpa(
    name: str, labels: dict[str, str], option: PlanOption, spec: ReplicaSpec
) -> dict[str, Any]:
    """Scale on the per-pod request rate the plan's simulated autoscaler held."""
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": max(1, option.min_replicas),
            "maxReplicas": max(option.replicas_max, option.min_replicas, 1),
            "metrics": [
                {
                    "type": "Pods",
                    "pods": {
                        "metric": {"name": REQUEST_RATE_METRIC},
                        "target": {
                            "type": "AverageValue",
                            "averageValue": str(_target_requests_per_s(spec)),
                        },
                    },
                }
            ],
            "behavior": _behavior(),
        },
    }


def _adapter_rules(name: str, labels: dict[str, str]) -> dict[str, Any]:
    """The Prometheus Adapter rule that turns mlcost serve's request counter into the
    per-pod rate the HPA reads (merge it into the adapter's config)."""
    import yaml

    rules = {
        "rules": [
            {
                "seriesQuery": f'{REQUEST_COUNTER}{{namespace!="",pod!=""}}',
                "resources": {
                    "overrides": {
                        "namespace": {"resource": "namespace"},
                        "pod": {"resource": "pod"},
                    }
                },
                "name": {"matches": f"^{REQUEST_COUNTER}$", "as": REQUEST_RATE_METRIC},
                "metricsQuery": (
                    f"sum(rate(<<.Series>>{{<<.LabelMatchers>>}}[{RATE_WINDOW}])) by (<<.GroupBy>>)"
                ),
            }
        ]
    }
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"{name}-prometheus-adapter-rules", "labels": labels},
        "data": {"config.yaml": yaml.safe_dump(rules, sort_keys=False)},
    }


def _scaled_object(
    name: str,
    labels: dict[str, str],
    option: PlanOption,
    spec: ReplicaSpec,
    least: int,
    prometheus_url: str,
) -> dict[str, Any]:
    """The HPA's rule as a KEDA ScaledObject. The query sums the pods' rates (the adapter
    rule's per-pod series, added up); as an AverageValue metric KEDA divides it by the
    replicas, which is the per-pod average the HPA holds at the same target."""
    query = f'sum(rate({REQUEST_COUNTER}{{job="{name}"}}[{RATE_WINDOW}]))'
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "pollingInterval": POLLING_INTERVAL_S,
            "cooldownPeriod": COOLDOWN_S,
            "minReplicaCount": least,
            "maxReplicaCount": max(option.replicas_max, least, 1),
            "advanced": {"horizontalPodAutoscalerConfig": {"name": name, "behavior": _behavior()}},
            "triggers": [
                {
                    "type": "prometheus",
                    "metricType": "AverageValue",
                    "metadata": {
                        "serverAddress": prometheus_url,
                        "query": query,
                        "threshold": str(_target_requests_per_s(spec)),
                    },
                }
            ],
        },
    }
