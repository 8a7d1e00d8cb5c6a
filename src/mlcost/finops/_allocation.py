"""What a workload's pods cost on their nodes, by OpenCost's allocation rule.

The OpenCost specification (opencost/opencost, spec/opencost-specv01.md): a container is
charged for the greater of what it requested and what it used of each resource
(max(request, usage): CPU cores, memory bytes; GPUs by request), at that resource's hourly
price on its node; a node's cost less what its tenants were charged is its idle cost, shown
apart. A cloud prices the node, not its cores, so the node's catalog price is split between
its vCPUs, memory and GPUs in the ratio of OpenCost's default marginal prices, scaled so the
parts add up to the node's price (the spec's Appendix A).

The workload's compute cost is its allocation plus a share of its nodes' idle cost in
proportion to its share of what was allocated there (the spec's "proportionate" sharing):
what running it costs, where the allocation alone is what it held.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from mlcost.catalog import Catalog
from mlcost.finops import _signals
from mlcost.finops._prometheus import Prometheus, Sample
from mlcost.finops._signals import RESOURCES, Resource

# OpenCost's default prices (configs/default.json, "based on GCP us-central1") per vCPU-,
# GiB- and GPU-hour: only their ratio is used, to split a node's price.
OPENCOST_RATIO_USD_PER_HOUR: Mapping[Resource, float] = {
    "cpu": 0.031611,
    "memory": 0.004237,
    "gpu": 0.95,
}
_BYTES_PER_GIB = 2.0**30
# kube-state-metrics' names of the node labels that say what a node is and how it is bought.
_INSTANCE_TYPE = (
    "label_node_kubernetes_io_instance_type",
    "label_beta_kubernetes_io_instance_type",
)
_REGION = ("label_topology_kubernetes_io_region", "label_failure_domain_beta_kubernetes_io_region")
# A node's provider id names its cloud: aws:///us-east-1a/i-..., gce://project/zone/name.
_PROVIDERS = {"aws": "aws", "gce": "gcp", "azure": "azure"}

Hours = Mapping[Resource, Sequence[Sample]]


@dataclass(frozen=True, slots=True)
class PricedNode:
    """A node the workload ran on, its catalog price and how long it ran in the window."""

    node: str
    instance_type: str
    is_spot: bool
    usd_per_hour: float
    hours: float
    resource_usd_per_hour: Mapping[Resource, float]  # per core, per GiB, per GPU

    @property
    def usd(self) -> float:
        return self.usd_per_hour * self.hours


@dataclass(frozen=True, slots=True)
class Allocation:
    """A workload's share of its nodes over a window, in US dollars: its containers' and the
    other tenants' allocation there."""

    workload_usd: float
    others_usd: float
    nodes: tuple[PricedNode, ...]

    @property
    def nodes_usd(self) -> float:
        return sum(node.usd for node in self.nodes)

    @property
    def idle_usd(self) -> float:
        """What the nodes cost beyond what their tenants were allocated (0 when usage
        beyond the nodes' size allocated more than all of them)."""
        return max(0.0, self.nodes_usd - self.workload_usd - self.others_usd)

    @property
    def compute_usd(self) -> float:
        """The workload's allocation plus its proportionate share of its nodes' idle cost."""
        allocated = self.workload_usd + self.others_usd
        share = self.workload_usd / allocated if allocated > 0 else 1.0
        return self.workload_usd + self.idle_usd * share


def read_allocation(
    prometheus: Prometheus,
    workload: str,
    *,
    window: str,
    step_s: int,
    at: datetime,
    catalog: Catalog,
) -> tuple[Allocation | None, list[str]]:
    """The workload's allocation over ``window`` up to ``at``, and notes on what it rests on.

    None, with a note saying why, when the cluster's metrics do not cover the workload's
    pods (the server runs outside Kubernetes, or kube-state-metrics is not scraped) or one
    of its nodes cannot be priced. Raises PrometheusError when Prometheus fails.
    """
    hours: Hours = {
        resource: prometheus.query(_signals.allocated_hours(resource, window, step_s), at=at)
        for resource in RESOURCES
    }
    pod = re.compile(_signals.pod_pattern(workload))
    ours = [s for s in hours["cpu"] if _is_serving(s.labels, pod)]
    if not ours:
        return None, [
            f"no Kubernetes metrics for pods {workload}-* (kube-state-metrics' requests and "
            "pod-to-node series): the server runs outside Kubernetes, or kube-state-metrics "
            "is not scraped; cost is the servers' own meter"
        ]
    notes = []
    if not prometheus.query(_signals.usage_series(workload), at=at):
        notes.append("no cAdvisor usage for the workload's containers: allocated by requests alone")
    labels = {
        s.labels.get("node", ""): s.labels
        for s in prometheus.query(_signals.node_labels(window), at=at)
    }
    node_hours = prometheus.query(_signals.node_hours(window, step_s), at=at)
    wanted = {s.labels["node"] for s in ours}
    nodes = []
    for sample in node_hours:
        name = sample.labels.get("node", "")
        if name in wanted:
            node = _priced(name, sample, labels.get(name, {}), catalog)
            if isinstance(node, str):
                return None, [*notes, node]
            nodes.append(node)
    return _allocate(hours, pod, tuple(nodes)), notes


def _allocate(hours: Hours, pod: re.Pattern[str], nodes: tuple[PricedNode, ...]) -> Allocation:
    """Every container's resource-hours on the workload's nodes at those nodes' prices."""
    by_node = {node.node: node for node in nodes}
    usd: defaultdict[bool, float] = defaultdict(float)  # True: the workload's containers
    for resource, samples in hours.items():
        per_unit = _BYTES_PER_GIB if resource == "memory" else 1.0
        for sample in samples:
            node = by_node.get(sample.labels.get("node", ""))
            if node is not None:
                units = sample.value / per_unit
                usd[_is_serving(sample.labels, pod)] += units * node.resource_usd_per_hour[resource]
    return Allocation(usd[True], usd[False], nodes)


def _priced(
    name: str, hours: Sample, labels: Mapping[str, str], catalog: Catalog
) -> PricedNode | str:
    """The node priced from the catalog, or a note saying why it cannot be."""
    instance_type = next((labels[k] for k in _INSTANCE_TYPE if labels.get(k)), "")
    region = next((labels[k] for k in _REGION if labels.get(k)), "")
    cloud = hours.labels.get("provider_id", "").partition(":")[0]
    provider = _PROVIDERS.get(cloud)
    if not instance_type or not region:
        return (
            f"node {name} has no instance type or region label in kube_node_labels: let "
            "kube-state-metrics export them (--metric-labels-allowlist=nodes=[node.kubernetes"
            ".io/instance-type,topology.kubernetes.io/region,karpenter.sh/capacity-type])"
        )
    offer = catalog.offer(instance_type, region=region, provider=provider)
    is_spot = _is_spot(labels)
    price = offer.usd_per_hour(is_spot=is_spot) if offer is not None else None
    if offer is None or price is None:
        pricing = "spot" if is_spot else "on-demand"
        return (
            f"node {name}: {instance_type} {pricing} in {region} is not in the catalog; "
            "import its price into the catalog or set an override for it"
        )
    sizes: Mapping[Resource, float] = {
        "cpu": offer.vcpus,
        "memory": offer.memory_gib,
        "gpu": offer.accelerator_count,
    }
    weighted = sum(sizes[r] * OPENCOST_RATIO_USD_PER_HOUR[r] for r in RESOURCES)
    split = {r: price * OPENCOST_RATIO_USD_PER_HOUR[r] / weighted for r in RESOURCES}
    return PricedNode(name, instance_type, is_spot, price, hours.value, split)


def _is_serving(labels: Mapping[str, str], pod: re.Pattern[str]) -> bool:
    return labels.get("container") == "serve" and pod.fullmatch(labels.get("pod", "")) is not None


def _is_spot(labels: Mapping[str, str]) -> bool:
    return any(labels.get(label) == value for label, value in _signals.SPOT_NODE_LABELS.items())
