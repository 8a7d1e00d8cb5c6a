"""A plan's Kubernetes option as the objects that run it on EKS with Karpenter.

One option of the plan (its best Kubernetes option) becomes: the serve.yaml in
a ConfigMap, a Deployment running ``mlcost serve`` on it, a Service and an
Ingress (the load balancer the plan billed), a HorizontalPodAutoscaler on the
per-pod request rate the plan simulated (with the Prometheus Adapter rule that
supplies it), a PodDisruptionBudget, a ServiceMonitor, and the Karpenter
NodePools (serving, system) with their EC2NodeClass. The alternatives: a KEDA
ScaledObject for the HPA and its rule (``autoscaler="keda"``), and pods that
select node groups made elsewhere instead of Karpenter's pools
(``nodes="node-groups"``: ``render_node_groups``).

Pod sizes come from the option's ``ReplicaSpec`` (measured peak memory, the
threads the speed assumed) fitted to what the node type leaves allocatable
after EKS's kubelet reservation and the per-node DaemonSets. The drain chain is
the server's (docs/serve.md): preStop sleep + request timeout + flush <
terminationGracePeriodSeconds <= Karpenter's terminationGracePeriod < the
provider's interruption notice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from mlcost.core import DeployError, Offer, Plan, PlanOption, ReplicaSpec
from mlcost.deploy._autoscaling import PROMETHEUS_URL, Autoscaler, autoscaling_objects
from mlcost.deploy._option import (
    billed_system_pool,
    node_disk_gib,
    resource_name,
    serving_instance_types,
)
from mlcost.serve import Limits, ServeConfig, Shutdown, notice_window_s

# The Kubernetes version every object is rendered for and validated against.
KUBERNETES_VERSION = "1.33.0"

SERVE_PORT = 8000
CONFIG_PATH = "/etc/mlcost/serve.yaml"
HOME_PATH = "/srv/mlcost"  # the workspace, copied from the image (Dockerfile) at start
BAKED_HOME_PATH = "/opt/mlcost-home"
RUN_AS_USER = 10001

# The drain chain, seconds. preStop covers the endpoint removal reaching every
# kube-proxy and load balancer, so the server's own drain delay is 0 in the pod;
# the request timeout and the flush are the server's defaults.
PRE_STOP_S = 5
POD_GRACE_S = 30
KARPENTER_GRACE_S = 60

# Per node, besides the serving pods: kube-proxy 100m/..., aws-node (VPC CNI) 25m,
# the EBS CSI node plugin 10m; memory as their requests (EKS add-on defaults).
DAEMONSET_CPU_M = 135
DAEMONSET_MEMORY_MIB = 200
# Memory kept above the measured peak: the larger of half again and 256 MiB.
MEMORY_HEADROOM_SHARE = 0.5
MEMORY_HEADROOM_MIB = 256
# What the plan simulated, for whoever prices these manifests (mlcost audit, mlcost diff):
# a Deployment's mean replicas and a NodePool's mean nodes over the horizon.
EXPECTED_REPLICAS = "mlcost.dev/expected-replicas"
EXPECTED_NODES = "mlcost.dev/expected-nodes"
# Karpenter's spot-to-spot consolidation needs at least this many instance types.
SPOT_CONSOLIDATION_TYPES = 15

CONTAINER_SECURITY: dict[str, Any] = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
}
POD_SECURITY: dict[str, Any] = {
    "runAsNonRoot": True,
    "runAsUser": RUN_AS_USER,
    "runAsGroup": RUN_AS_USER,
    "seccompProfile": {"type": "RuntimeDefault"},
}

# Where the serving pods go: Karpenter's NodePools (rendered here), or node groups made
# elsewhere (mlcost deploy node-groups) that carry the pools' label.
Nodes = Literal["karpenter", "node-groups"]
POOL_LABEL = "mlcost.dev/pool"


@dataclass(frozen=True, slots=True)
class Rendered:
    """The objects of one rendering, and what a reader must know about them."""

    objects: tuple[dict[str, Any], ...]
    notes: tuple[str, ...]


def kubernetes_option(plan: Plan) -> PlanOption:
    """The plan's option to run on Kubernetes: the winner if it is one, else the best weighed."""
    if plan.winner.platform == "kubernetes":
        return plan.winner
    for option in plan.platforms:
        if option.platform == "kubernetes":
            return option
    raise DeployError(
        "the plan weighed no Kubernetes option; allow kubernetes in the workload's "
        "platform.allowed and plan again"
    )


def eks_reserved_cpu_m(vcpus: int) -> int:
    """The CPU EKS's kubelet reserves on a node (millicores): 6 % of the first core, 1 % of
    the second, 0.5 % of the next two, 0.25 % of the rest (the AWS EKS AMI's formula)."""
    shares = (60, 10, 5, 5)
    return sum(shares[:vcpus]) + math.ceil(max(0, vcpus - 4) * 2.5)


def eks_reserved_memory_mib(max_pods: int) -> int:
    """The memory EKS's kubelet reserves: 255 MiB + 11 MiB per pod the node may hold,
    plus the 100 MiB hard-eviction threshold."""
    return 255 + 11 * max_pods + 100


def eks_allocatable(offer: Offer) -> tuple[int, float]:
    """What a node of ``offer``'s type leaves to pods, (millicores, MiB): its size less EKS's
    kubelet reservation and the per-node DaemonSets."""
    cpu_m = int(offer.vcpus * 1000) - eks_reserved_cpu_m(int(offer.vcpus)) - DAEMONSET_CPU_M
    memory_mib = (
        offer.memory_gib * 1024
        - eks_reserved_memory_mib(_max_pods(offer.vcpus))
        - DAEMONSET_MEMORY_MIB
    )
    return cpu_m, memory_mib


def whole_node_resources(offer: Offer) -> dict[str, Any]:
    """Requests and limits of a pod that takes the whole node: all that EKS leaves
    allocatable (``eks_allocatable``), the node's vCPUs as the CPU limit."""
    cpu_m, memory_mib = eks_allocatable(offer)
    memory = f"{int(memory_mib)}Mi"
    return {
        "requests": {"cpu": f"{cpu_m // 10 * 10}m", "memory": memory},
        "limits": {"cpu": f"{offer.vcpus:g}", "memory": memory},
    }


def workspace_init(image: str) -> dict[str, Any]:
    """The init container that copies the image's workspace (artifacts and store) onto the
    writable ``home`` volume, so the root filesystem stays read-only."""
    return {
        "name": "workspace",
        "image": image,
        "command": ["cp", "-a", f"{BAKED_HOME_PATH}/.", f"{HOME_PATH}/"],
        "resources": {
            "requests": {"cpu": "100m", "memory": "64Mi"},
            "limits": {"cpu": "500m", "memory": "64Mi"},
        },
        "securityContext": CONTAINER_SECURITY,
        "volumeMounts": [{"name": "home", "mountPath": HOME_PATH}],
    }


def render_kubernetes(
    plan: Plan,
    *,
    image: str,
    autoscaler: Autoscaler = "hpa",
    nodes: Nodes = "karpenter",
    prometheus_url: str = PROMETHEUS_URL,
) -> Rendered:
    """Every object that runs the plan's Kubernetes option, and the notes on them.

    ``autoscaler`` "keda" puts a KEDA ScaledObject (asking ``prometheus_url``) in place of
    the HPA and its adapter rule; ``nodes`` "node-groups" leaves Karpenter's objects out and
    has the pods select the serving node group by its label."""
    option = kubernetes_option(plan)
    spec = option.replica
    if spec is None:
        raise DeployError(
            "plan.json predates mlcost deploy (its options carry no pod spec); run mlcost plan again"
        )
    name = resource_name(plan.workload)
    offer = option.offer
    notes: list[str] = [
        f"rendering {option.label} (${option.monthly_usd:,.2f}/month as planned)"
        + ("" if option is plan.winner else f"; the plan's winner runs on {plan.winner.platform}")
    ]
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/managed-by": "mlcost"}
    pods = max(1, option.pods_per_node)
    node_cpu_m, node_memory_mib = eks_allocatable(offer)
    cpu_request_m = min(int(spec.vcpus * 1000), node_cpu_m // pods) // 10 * 10
    if cpu_request_m < spec.vcpus * 1000:
        notes.append(
            f"CPU request {cpu_request_m}m is below the {spec.vcpus:g} vCPUs the speed assumed: "
            f"{offer.instance_type} leaves {node_cpu_m}m allocatable after the kubelet and the "
            f"DaemonSets; the limit ({offer.vcpus:g}) lets the {spec.vcpus:g} threads burst to it"
        )
    memory_mib = _memory_mib(spec.memory_mib)
    if memory_mib * pods > node_memory_mib:
        raise DeployError(
            f"{pods} pod(s) of {memory_mib} MiB do not fit the {node_memory_mib:.0f} MiB "
            f"{offer.instance_type} leaves allocatable; plan with a larger machine"
        )
    selector = {"app.kubernetes.io/name": name}
    pool = f"{name}-serving"
    container: dict[str, Any] = {
        "name": "serve",
        "image": image,
        "args": ["--home", HOME_PATH, "serve", CONFIG_PATH],
        "ports": [{"name": "http", "containerPort": SERVE_PORT}],
        "resources": {
            "requests": {"cpu": f"{cpu_request_m}m", "memory": f"{memory_mib}Mi"},
            "limits": {"cpu": f"{offer.vcpus:g}", "memory": f"{memory_mib}Mi"},
        },
        "startupProbe": _probe("/readyz", period=2, failures=90),
        "readinessProbe": _probe("/readyz", period=5, failures=2),
        "livenessProbe": _probe("/livez", period=10, failures=3),
        "lifecycle": {"preStop": {"sleep": {"seconds": PRE_STOP_S}}},
        "securityContext": CONTAINER_SECURITY,
        "volumeMounts": [
            {"name": "config", "mountPath": "/etc/mlcost", "readOnly": True},
            {"name": "home", "mountPath": HOME_PATH},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }
    tolerations: list[dict[str, Any]] = []
    if spec.accelerators:
        container["resources"]["limits"]["nvidia.com/gpu"] = str(spec.accelerators)
        tolerations.append({"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"})
    node_selector = (
        {"karpenter.sh/nodepool": pool} if nodes == "karpenter" else {POOL_LABEL: "serving"}
    )
    pod_spec: dict[str, Any] = {
        "nodeSelector": node_selector,
        "terminationGracePeriodSeconds": POD_GRACE_S,
        "securityContext": POD_SECURITY,
        "topologySpreadConstraints": [
            _spread("topology.kubernetes.io/zone", selector, "DoNotSchedule"),
            _spread("kubernetes.io/hostname", selector, "ScheduleAnyway"),
        ],
        "initContainers": [workspace_init(image)],
        "containers": [container],
        "volumes": [
            {"name": "config", "configMap": {"name": f"{name}-serve"}},
            # A copy of the image's whole workspace (every variant): bounded by the image.
            {"name": "home", "emptyDir": {}},
            {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}},
        ],
    }
    if tolerations:
        pod_spec["tolerations"] = tolerations
    config, server = serve_config(option, spec)
    chain = PRE_STOP_S + server.limits.request_timeout_s + server.shutdown.flush_s
    notice = notice_window_s(offer.provider)
    if not chain < POD_GRACE_S <= KARPENTER_GRACE_S < notice:
        raise DeployError(
            f"the drain chain breaks: preStop + request timeout + flush = {chain:g} s, pod grace "
            f"{POD_GRACE_S} s, Karpenter's {KARPENTER_GRACE_S} s, {offer.provider}'s notice {notice:g} s"
        )
    objects = [
        _config_map(name, labels, config),
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": name,
                "labels": labels,
                "annotations": {EXPECTED_REPLICAS: f"{option.replicas_mean:.2f}"},
            },
            "spec": {
                "replicas": max(1, option.min_replicas),
                "revisionHistoryLimit": 3,
                "selector": {"matchLabels": selector},
                "strategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
                },
                "template": {
                    "metadata": {
                        "labels": labels,
                        "annotations": {
                            "prometheus.io/scrape": "true",
                            "prometheus.io/port": str(SERVE_PORT),
                            "prometheus.io/path": "/metrics",
                        },
                    },
                    "spec": pod_spec,
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "labels": labels},
            "spec": {
                "selector": selector,
                "ports": [{"name": "http", "port": 80, "targetPort": "http"}],
            },
        },
        _ingress(name, labels),
    ]
    scaling, scaling_notes = autoscaling_objects(
        autoscaler, name, labels, option, spec, prometheus_url=prometheus_url
    )
    notes += scaling_notes
    objects += [
        *scaling,
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": name, "labels": labels},
            "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector}},
        },
        {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "ServiceMonitor",
            "metadata": {"name": name, "labels": labels},
            "spec": {
                "selector": {"matchLabels": selector},
                "endpoints": [{"port": "http", "path": "/metrics", "interval": "15s"}],
            },
        },
    ]
    if nodes == "karpenter":
        serving_pool, pool_notes = _serving_pool(pool, option)
        notes += pool_notes
        objects.append(serving_pool)
        system = _system_pool(name, option)
        if system is not None:
            objects.append(system)
        objects.append(_node_class(name, option))
    else:
        notes.append(
            f"no Karpenter objects: the pods select {POOL_LABEL}=serving, the label of the "
            "serving node group mlcost deploy node-groups writes (create it first)"
        )
    drain = (
        f"drain chain: preStop {PRE_STOP_S} s + request timeout "
        f"{server.limits.request_timeout_s:g} s + flush {server.shutdown.flush_s:g} s = {chain:g} s < pod grace {POD_GRACE_S} s"
    )
    if nodes == "karpenter":
        drain += (
            f" <= Karpenter's terminationGracePeriod {KARPENTER_GRACE_S} s < {offer.provider}'s "
            f"notice {notice:g} s (Karpenter's interruption queue must be set for it to see the notice)"
        )
    else:
        drain += (
            f" < {offer.provider}'s notice {notice:g} s (a managed node group drains a spot node "
            "on its rebalance recommendation; the notice alone needs the Node Termination Handler)"
        )
    notes.append(drain)
    notes.extend(f"prerequisite: {text}" for text in option.prerequisites)
    return Rendered(tuple(objects), tuple(notes))


def _max_pods(vcpus: float) -> int:
    """Pods an EKS node of this size may hold with prefix delegation off (ENI limits, roughly)."""
    return 17 if vcpus <= 2 else 29 if vcpus <= 4 else 58


def _memory_mib(peak_mib: float) -> int:
    wanted = peak_mib + max(peak_mib * MEMORY_HEADROOM_SHARE, MEMORY_HEADROOM_MIB)
    return int(math.ceil(wanted / 64.0) * 64)


def _probe(path: str, *, period: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": "http"},
        "periodSeconds": period,
        "timeoutSeconds": 2,
        "failureThreshold": failures,
    }


def _spread(key: str, selector: dict[str, str], when: str) -> dict[str, Any]:
    return {
        "maxSkew": 1,
        "topologyKey": key,
        "whenUnsatisfiable": when,
        "labelSelector": {"matchLabels": selector},
    }


def serve_config(
    option: PlanOption,
    spec: ReplicaSpec,
    *,
    drain_delay_s: float = 0.0,
    grace_period_s: float = POD_GRACE_S,
    watch_spot: bool = False,
) -> tuple[dict[str, Any], ServeConfig]:
    """The serve.yaml a replica runs, every setting the plan fixed written out, and the same
    validated as mlcost serve will load it.

    The defaults are the pod's: preStop has waited for the endpoint removal, so the server
    drains at once, and Karpenter watches for the spot notice. A VM sets its own drain
    delay and grace, and ``watch_spot`` has the server poll the metadata endpoint itself."""
    offer = option.offer
    config: dict[str, Any] = {
        "tiers": [
            {
                "name": "model",
                "variant": option.variant,
                "threads": max(1, round(spec.vcpus)),
                "batching": {
                    "max_batch_size": spec.max_batch_size,
                    "max_queue_delay_ms": spec.max_queue_delay_ms,
                },
            }
        ],
        "limits": {"request_timeout_s": Limits().request_timeout_s},
        "shutdown": {
            "drain_delay_s": drain_delay_s,
            "flush_s": Shutdown().flush_s,
            "grace_period_s": grace_period_s,
        },
        **({"spot": {"cloud": offer.provider}} if watch_spot else {}),
        "machine": {
            "provider": offer.provider,
            "region": offer.region,
            "instance_type": offer.instance_type,
            "pricing": "spot" if option.pricing == "spot" else "on_demand",
        },
        "host": "0.0.0.0",
        "port": SERVE_PORT,
    }
    try:
        return config, ServeConfig.model_validate(config)
    except ValueError as exc:
        raise DeployError(f"the replica's serve.yaml would not load: {exc}") from exc


def _config_map(name: str, labels: dict[str, str], config: dict[str, Any]) -> dict[str, Any]:
    import yaml

    text = yaml.safe_dump(config, sort_keys=False)
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"{name}-serve", "labels": labels},
        "data": {"serve.yaml": text},
    }


def _ingress(name: str, labels: dict[str, str]) -> dict[str, Any]:
    """The load balancer the plan billed: an ALB from the AWS Load Balancer Controller."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            "name": name,
            "labels": labels,
            "annotations": {
                "alb.ingress.kubernetes.io/scheme": "internet-facing",
                "alb.ingress.kubernetes.io/target-type": "ip",
                "alb.ingress.kubernetes.io/healthcheck-path": "/readyz",
            },
        },
        "spec": {
            "ingressClassName": "alb",
            "rules": [
                {
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": name, "port": {"name": "http"}}},
                            }
                        ]
                    }
                }
            ],
        },
    }


def _serving_pool(pool: str, option: PlanOption) -> tuple[dict[str, Any], list[str]]:
    offer = option.offer
    spot = option.pricing in ("spot", "mixed")
    types = serving_instance_types(option)
    capacity = (
        ["spot", "on-demand"] if option.pricing == "mixed" else ["spot"] if spot else ["on-demand"]
    )
    notes: list[str] = []
    if spot and len(types) < SPOT_CONSOLIDATION_TYPES:
        notes.append(
            f"NodePool {pool}: spot over {len(types)} instance type(s); Karpenter's spot-to-spot "
            f"consolidation needs {SPOT_CONSOLIDATION_TYPES} or more, so it will only replace "
            "spot nodes when they empty (the plan priced these types only)"
        )
    gpu = option.replica is not None and option.replica.accelerators > 0
    template_spec: dict[str, Any] = {
        "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": pool},
        "requirements": [
            {"key": "node.kubernetes.io/instance-type", "operator": "In", "values": types},
            {"key": "karpenter.sh/capacity-type", "operator": "In", "values": capacity},
            {"key": "topology.kubernetes.io/region", "operator": "In", "values": [offer.region]},
        ],
        "terminationGracePeriod": f"{KARPENTER_GRACE_S}s",
        "expireAfter": "720h",
    }
    if gpu:
        template_spec["taints"] = [
            {"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}
        ]
    return (
        {
            "apiVersion": "karpenter.sh/v1",
            "kind": "NodePool",
            "metadata": {
                "name": pool,
                "annotations": {EXPECTED_NODES: f"{option.nodes_mean:.2f}"},
            },
            "spec": {
                "template": {
                    "metadata": {"labels": {POOL_LABEL: "serving"}},
                    "spec": template_spec,
                },
                "disruption": {
                    "consolidationPolicy": "WhenEmpty" if gpu else "WhenEmptyOrUnderutilized",
                    "consolidateAfter": "5m" if gpu else "1m",
                    "budgets": [{"nodes": "10%"}],
                },
                "limits": {
                    "cpu": str(int(offer.vcpus * (option.nodes_max + option.spare_nodes + 1)))
                },
            },
        },
        notes,
    )


def _system_pool(name: str, option: PlanOption) -> dict[str, Any] | None:
    """The on-demand pool the plan billed for the add-ons, tainted CriticalAddonsOnly."""
    billed = billed_system_pool(option)
    if billed is None:
        return None
    count, instance_type = billed
    return {
        "apiVersion": "karpenter.sh/v1",
        "kind": "NodePool",
        "metadata": {"name": f"{name}-system"},
        "spec": {
            "template": {
                "metadata": {"labels": {POOL_LABEL: "system"}},
                "spec": {
                    "nodeClassRef": {
                        "group": "karpenter.k8s.aws",
                        "kind": "EC2NodeClass",
                        "name": f"{name}-serving",
                    },
                    "requirements": [
                        {
                            "key": "node.kubernetes.io/instance-type",
                            "operator": "In",
                            "values": [instance_type],
                        },
                        {
                            "key": "karpenter.sh/capacity-type",
                            "operator": "In",
                            "values": ["on-demand"],
                        },
                    ],
                    "taints": [
                        {
                            "key": "CriticalAddonsOnly",
                            "value": "true",
                            "effect": "NoSchedule",
                        }
                    ],
                },
            },
            "disruption": {"consolidationPolicy": "WhenEmpty", "consolidateAfter": "10m"},
            "limits": {"cpu": str(count * 2 * 4)},
        },
    }


def _node_class(name: str, option: PlanOption) -> dict[str, Any]:
    """Bottlerocket nodes with the gp3 disk the plan billed (20 GiB by default), IMDSv2 only."""
    disk_gib, _ = node_disk_gib(option)
    return {
        "apiVersion": "karpenter.k8s.aws/v1",
        "kind": "EC2NodeClass",
        "metadata": {"name": f"{name}-serving"},
        "spec": {
            "amiSelectorTerms": [{"alias": "bottlerocket@latest"}],
            "role": f"KarpenterNodeRole-{name}",
            "subnetSelectorTerms": [{"tags": {"karpenter.sh/discovery": name}}],
            "securityGroupSelectorTerms": [{"tags": {"karpenter.sh/discovery": name}}],
            "blockDeviceMappings": [
                {
                    "deviceName": "/dev/xvdb",
                    "ebs": {
                        "volumeSize": f"{disk_gib:g}Gi",
                        "volumeType": "gp3",
                        "encrypted": True,
                    },
                }
            ],
            "metadataOptions": {
                "httpEndpoint": "enabled",
                "httpTokens": "required",
                "httpPutResponseHopLimit": 1,
            },
            "tags": {"mlcost.dev/workload": name, "mlcost.dev/variant": option.variant},
        },
    }
