"""What a set of manifests runs, read back as node pools and workloads, and priced from the catalog.

The reading an audit and a diff share:

- **Pools** are Karpenter NodePools (their instance types, capacity type, region,
  zones and taints from the requirements; the disk from their EC2NodeClass), or,
  where a workload's nodeSelector names an instance type no NodePool holds, nodes
  of that type outside the manifests (a managed node group).
- **Workloads** are Deployments, StatefulSets, DaemonSets, Jobs, CronJobs and Pods
  with their pod's requests. A workload lands on the pool its nodeSelector (and
  required node affinity) selects and whose taints it tolerates.
- **Replicas**: ``spec.replicas``; under an HPA its ``minReplicas`` (the least it
  can cost: the mean depends on traffic), or the ``mlcost.dev/expected-replicas``
  annotation that ``mlcost deploy render`` writes from the plan's simulation.
- **Nodes** of a pool: each workload's replicas over the pods one node holds (its
  requests against the node's allocatable, as the planner computes it), summed;
  the ``mlcost.dev/expected-nodes`` annotation where present; two for a system pool
  (``CriticalAddonsOnly``) that no workload here selects, as the planner bills it.

The bill names every line the manifests decide (nodes, their disks and addresses,
the control plane, the load balancers), each price with its source and date. What
depends on traffic (load-balancer capacity units, data transfer, object storage) is
not in manifests: it is named in the assumptions and left to the plan.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from mlcost.audit._read import Manifest, Manifests
from mlcost.catalog import Catalog
from mlcost.core import BillLine, CostBreakdown, Offer
from mlcost.cost import HOURS_PER_MONTH
from mlcost.deploy import EXPECTED_NODES, EXPECTED_REPLICAS
from mlcost.plan import (
    SearchSettings,
    node_allocatable,
    price_line,
    spread_over_zones,
    storage_price,
)

Capacity = Literal["spot", "on-demand"]

DEFAULT_REGION = "us-east-1"
DEFAULT_DISK_GIB = 20.0  # EKS managed node groups' and Karpenter's default root volume
SYSTEM_POOL_NODES = 2  # as the planner bills a system pool: two on-demand nodes
MAX_PODS_PER_NODE = 110
GPU_RESOURCE = "nvidia.com/gpu"

INSTANCE_TYPE_LABELS = ("node.kubernetes.io/instance-type", "beta.kubernetes.io/instance-type")
REGION_LABEL = "topology.kubernetes.io/region"
ZONE_LABEL = "topology.kubernetes.io/zone"
NODEPOOL_LABEL = "karpenter.sh/nodepool"
CAPACITY_LABEL = "karpenter.sh/capacity-type"
# Labels other node managers put on spot nodes (EKS managed node groups, GKE, kOps).
_SPOT_LABELS = {
    "eks.amazonaws.com/capacityType": "SPOT",
    "cloud.google.com/gke-spot": "true",
    "node.kubernetes.io/lifecycle": "spot",
}
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "ReplicaSet", "DaemonSet", "Job", "CronJob", "Pod")
_SYSTEM_TAINT = "CriticalAddonsOnly"


@dataclass(frozen=True, slots=True)
class Requests:
    """What one pod asks for: millicores, MiB, GPUs (None where a container sets none)."""

    cpu_m: float | None
    memory_mib: float | None
    gpus: int


@dataclass(frozen=True, slots=True)
class Pool:
    """Nodes of one kind: a NodePool, or nodes of one type outside the manifests."""

    name: str
    manifest: Manifest | None
    instance_types: tuple[str, ...]
    capacity: Capacity
    region: str
    zones: tuple[str, ...]
    taints: tuple[dict[str, Any], ...]
    labels: dict[str, str]
    consolidation: str
    disk_gib: float
    offer: Offer | None  # what it is priced at: the cheapest of its types that the catalog has
    is_system: bool
    assumption: str = ""  # how the offer was chosen where the pool names no instance type

    @property
    def is_gpu(self) -> bool:
        return self.offer is not None and self.offer.has_accelerator

    @property
    def has_gpu_taint(self) -> bool:
        return any(t.get("key") in (GPU_RESOURCE, "accelerator") for t in self.taints)

    @property
    def hourly_usd(self) -> float | None:
        if self.offer is None:
            return None
        return self.offer.usd_per_hour(is_spot=self.capacity == "spot")


@dataclass(frozen=True, slots=True)
class Workload:
    """A workload, its pod, how many replicas it runs and the pool they land on."""

    manifest: Manifest
    pod: dict[str, Any]
    requests: Requests
    replicas: float
    replicas_basis: str
    pool: Pool | None
    pods_per_node: int
    autoscaler: Manifest | None = None

    @property
    def nodes(self) -> float:
        """Nodes its replicas fill alone (whole nodes, unless the replicas are a mean)."""
        if self.manifest.kind in ("DaemonSet", "Job", "CronJob"):
            return 0.0
        share = self.replicas / self.pods_per_node
        return share if self.replicas_basis.startswith("the plan") else math.ceil(share)


@dataclass(frozen=True, slots=True)
class Cluster:
    """The manifests read back, and their monthly bill."""

    pools: tuple[Pool, ...]
    workloads: tuple[Workload, ...]
    nodes: dict[str, float]  # pool name -> nodes
    nodes_basis: dict[str, str]
    cost: CostBreakdown
    manifests: Manifests = field(repr=False)

    @property
    def monthly_usd(self) -> float:
        return self.cost.total_usd_per_month

    def pool(self, name: str) -> Pool | None:
        return next((p for p in self.pools if p.name == name), None)


def read_cluster(
    manifests: Manifests, catalog: Catalog, *, default_region: str = DEFAULT_REGION
) -> Cluster:
    """Read ``manifests`` as pools and workloads and price them (see the module docstring)."""
    node_classes = {m.name: m for m in manifests.of_kind("EC2NodeClass")}
    pools = [
        _node_pool(m, node_classes, catalog, default_region) for m in manifests.of_kind("NodePool")
    ]
    autoscalers = _autoscalers(manifests)
    workloads: list[Workload] = []
    for manifest in manifests.of_kind(*WORKLOAD_KINDS):
        pod = pod_spec(manifest)
        if pod is None:
            continue
        pool = _place(pod, pools, catalog, default_region)
        if pool is not None and pool not in pools:
            pools.append(pool)
        workloads.append(_workload(manifest, pod, pool, autoscalers.get(manifest.ref)))
    nodes, basis = _nodes(pools, workloads)
    cost = _bill(pools, nodes, basis, manifests, catalog)
    return Cluster(tuple(pools), tuple(workloads), nodes, basis, cost, manifests)


def pod_spec(manifest: Manifest) -> dict[str, Any] | None:
    """The pod spec a workload runs (a CronJob's through its job template)."""
    spec = manifest.spec
    if manifest.kind == "Pod":
        return spec or None
    if manifest.kind == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    template = spec.get("template") or {}
    pod = template.get("spec") if isinstance(template, dict) else None
    return pod if isinstance(pod, dict) else None


def containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in pod.get("containers") or [] if isinstance(c, dict)]


def pod_requests(pod: dict[str, Any]) -> Requests:
    """The pod's requests summed over its containers (a limit stands in for a missing
    request, as the API server defaults it); None where any container sets none."""
    cpu: float | None = 0.0
    memory: float | None = 0.0
    gpus = 0
    for container in containers(pod):
        resources = container.get("resources") or {}
        requests = {**(resources.get("limits") or {}), **(resources.get("requests") or {})}
        cpu = _add(cpu, requests.get("cpu"), cpu_millicores)
        memory = _add(memory, requests.get("memory"), memory_mib)
        gpus += int(float(requests.get(GPU_RESOURCE, 0) or 0))
    return Requests(cpu, memory, gpus)


def _add(total: float | None, value: object, parse: Any) -> float | None:
    if total is None or value is None:
        return None
    return float(total + parse(value))


_MEMORY_UNITS = {
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "k": 1e3,
    "K": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
}
_QUANTITY = re.compile(r"^([0-9.]+(?:[eE][-+]?[0-9]+)?)([A-Za-z]*)$")


def cpu_millicores(value: object) -> float:
    """``500m`` -> 500, ``2`` -> 2000; ValueError for what Kubernetes would reject."""
    text = str(value).strip()
    if text.endswith("m"):
        return float(text[:-1])
    return float(text) * 1000.0


def memory_mib(value: object) -> float:
    """``512Mi`` -> 512, ``1G`` -> 953.7; ValueError for what Kubernetes would reject."""
    match = _QUANTITY.match(str(value).strip())
    if match is None or (match.group(2) and match.group(2) not in _MEMORY_UNITS):
        raise ValueError(f"not a memory quantity: {value!r}")
    number, unit = float(match.group(1)), match.group(2)
    return number * _MEMORY_UNITS.get(unit, 1) / 2**20


def _requirements(pool: Manifest) -> dict[str, tuple[str, tuple[str, ...]]]:
    spec = (pool.spec.get("template") or {}).get("spec") or {}
    found: dict[str, tuple[str, tuple[str, ...]]] = {}
    for item in spec.get("requirements") or []:
        if isinstance(item, dict) and "key" in item:
            found[str(item["key"])] = (
                str(item.get("operator", "In")),
                tuple(str(v) for v in item.get("values") or ()),
            )
    return found


def _node_pool(
    manifest: Manifest, node_classes: dict[str, Manifest], catalog: Catalog, default_region: str
) -> Pool:
    template = manifest.spec.get("template") or {}
    spec = template.get("spec") or {}
    required = _requirements(manifest)
    types = required.get(INSTANCE_TYPE_LABELS[0], ("In", ()))[1]
    capacities = required.get(CAPACITY_LABEL, ("In", ("on-demand",)))[1]
    region = next(iter(required.get(REGION_LABEL, ("In", (default_region,)))[1]), default_region)
    zones = required.get(ZONE_LABEL, ("In", ()))[1]
    taints = tuple(t for t in spec.get("taints") or [] if isinstance(t, dict))
    node_class = node_classes.get(str((spec.get("nodeClassRef") or {}).get("name", "")))
    capacity: Capacity = "spot" if "spot" in capacities else "on-demand"
    disruption = manifest.spec.get("disruption") or {}
    assumption = ""
    if not types:
        types = _types_allowed(catalog, required, region)
        assumption = (
            f"{manifest.name} names no instance type: priced at the cheapest of the "
            f"{len(types)} catalog types its requirements allow in {region}"
            if types
            else f"{manifest.name}: no catalog type in {region} meets its requirements"
        )
    return Pool(
        name=manifest.name,
        manifest=manifest,
        instance_types=types,
        capacity=capacity,
        region=region,
        zones=zones,
        taints=taints,
        labels={
            str(k): str(v)
            for k, v in ((template.get("metadata") or {}).get("labels") or {}).items()
        },
        consolidation=str(disruption.get("consolidationPolicy", "WhenEmptyOrUnderutilized")),
        disk_gib=_disk_gib(node_class),
        offer=_cheapest(catalog, types, region, capacity, len(zones)),
        is_system=any(t.get("key") == _SYSTEM_TAINT for t in taints),
        assumption=assumption,
    )


# Karpenter's well-known requirement keys the catalog can answer, as a test on an offer.
_ARCH = {"amd64": "x86_64", "arm64": "arm64"}
_OFFER_LABELS: dict[str, Callable[[Offer], str]] = {
    "karpenter.k8s.aws/instance-family": lambda o: o.instance_type.split(".")[0],
    "karpenter.k8s.aws/instance-category": lambda o: re.sub(r"\d.*", "", o.instance_type),
    "karpenter.k8s.aws/instance-size": lambda o: o.instance_type.split(".")[-1],
    "karpenter.k8s.aws/instance-cpu": lambda o: str(o.vcpus),
    "karpenter.k8s.aws/instance-gpu-count": lambda o: str(o.accelerator_count),
    "karpenter.k8s.aws/instance-gpu-name": lambda o: (o.accelerator_name or "").lower(),
    "kubernetes.io/arch": lambda o: next((k for k, v in _ARCH.items() if v == o.arch), o.arch),
}


def _types_allowed(
    catalog: Catalog, required: dict[str, tuple[str, tuple[str, ...]]], region: str
) -> tuple[str, ...]:
    """The catalog's types in ``region`` that meet a NodePool's requirements (In, NotIn, Gt,
    Lt, Exists, DoesNotExist on the well-known keys; other keys are not read)."""

    def meets(offer: Offer) -> bool:
        for key, (operator, values) in required.items():
            label = _OFFER_LABELS.get(key)
            if label is None:
                continue
            value = label(offer)
            if operator == "In" and value not in values:
                return False
            if operator == "NotIn" and value in values:
                return False
            if operator in ("Gt", "Lt") and values:
                number, bound = float(value or 0), float(values[0])
                if (operator == "Gt" and not number > bound) or (
                    operator == "Lt" and not number < bound
                ):
                    return False
            if operator == "DoesNotExist" and value not in ("", "0"):
                return False
        return True

    return tuple(
        o.instance_type
        for o in catalog.offers
        if o.region == region and o.provider == "aws" and " + " not in o.instance_type and meets(o)
    )


def _disk_gib(node_class: Manifest | None) -> float:
    if node_class is None:
        return DEFAULT_DISK_GIB
    total = 0.0
    for mapping in node_class.spec.get("blockDeviceMappings") or []:
        size = ((mapping or {}).get("ebs") or {}).get("volumeSize")
        if size is not None:
            total += memory_mib(size) / 1024.0
    return total or DEFAULT_DISK_GIB


def _cheapest(
    catalog: Catalog, types: Iterable[str], region: str, capacity: Capacity, zones: int
) -> Offer | None:
    """The cheapest of ``types`` in ``region`` at ``capacity`` (Karpenter launches the
    cheapest type that fits), its spot price spread over the zones the pool allows."""
    spot = capacity == "spot"
    spread = zones or SearchSettings().spot_zones
    offers = [
        spread_over_zones(offer, catalog, spread) if spot else offer
        for name in types
        if (offer := catalog.offer(name, region=region)) is not None
        and offer.usd_per_hour(is_spot=spot) is not None
    ]
    return min(offers, key=lambda o: o.usd_per_hour(is_spot=spot) or math.inf, default=None)


def _selector(pod: dict[str, Any]) -> dict[str, tuple[str, ...]]:
    """The node labels a pod requires: nodeSelector plus required node affinity (In terms)."""
    wanted: dict[str, tuple[str, ...]] = {
        str(k): (str(v),) for k, v in (pod.get("nodeSelector") or {}).items()
    }
    affinity = ((pod.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    for term in (affinity.get("nodeSelectorTerms") or [])[:1]:
        for expression in term.get("matchExpressions") or []:
            if expression.get("operator") == "In":
                wanted[str(expression["key"])] = tuple(
                    str(v) for v in expression.get("values") or ()
                )
    return wanted


def tolerates(pod: dict[str, Any], taint: dict[str, Any]) -> bool:
    """Whether a pod tolerates ``taint`` (an empty key with Exists tolerates every taint)."""
    if taint.get("effect") == "PreferNoSchedule":
        return True
    for toleration in pod.get("tolerations") or []:
        key, operator = toleration.get("key"), toleration.get("operator", "Equal")
        if toleration.get("effect") not in (None, "", taint.get("effect")):
            continue
        if not key and operator == "Exists":
            return True
        if key == taint.get("key") and (
            operator == "Exists" or toleration.get("value") == taint.get("value")
        ):
            return True
    return False


def admits(pool: Pool, pod: dict[str, Any]) -> bool:
    """Whether ``pod`` can land on ``pool``: its selector matches and it tolerates the taints."""
    for key, values in _selector(pod).items():
        if key == NODEPOOL_LABEL:
            ok = pool.name in values
        elif key in INSTANCE_TYPE_LABELS:
            ok = not pool.instance_types or bool(set(values) & set(pool.instance_types))
        elif key == CAPACITY_LABEL:
            ok = pool.capacity in values
        elif key == REGION_LABEL:
            ok = pool.region in values
        elif key == ZONE_LABEL:
            ok = not pool.zones or bool(set(values) & set(pool.zones))
        else:
            ok = pool.labels.get(key) in values
        if not ok:
            return False
    return all(tolerates(pod, taint) for taint in pool.taints)


def _place(
    pod: dict[str, Any], pools: Sequence[Pool], catalog: Catalog, default_region: str
) -> Pool | None:
    """The NodePool the pod lands on (the highest weight that admits it), else the nodes of
    the instance type its nodeSelector names, else None."""
    candidates = [p for p in pools if admits(p, pod)]
    if candidates:
        return max(
            candidates,
            key=lambda p: int((p.manifest.spec if p.manifest else {}).get("weight", 0) or 0),
        )
    wanted = _selector(pod)
    types = next((wanted[k] for k in INSTANCE_TYPE_LABELS if k in wanted), ())
    if not types:
        return None
    spot = wanted.get(CAPACITY_LABEL) == ("spot",) or any(
        wanted.get(k) == (v,) for k, v in _SPOT_LABELS.items()
    )
    capacity: Capacity = "spot" if spot else "on-demand"
    region = next(iter(wanted.get(REGION_LABEL, (default_region,))))
    zones = wanted.get(ZONE_LABEL, ())
    name = f"nodes: {types[0]} {capacity}"
    existing = next((p for p in pools if p.name == name), None)
    if existing is not None:
        return existing
    return Pool(
        name=name,
        manifest=None,
        instance_types=types,
        capacity=capacity,
        region=region,
        zones=zones,
        taints=(),
        labels={},
        consolidation="",
        disk_gib=DEFAULT_DISK_GIB,
        offer=_cheapest(catalog, types, region, capacity, len(zones)),
        is_system=False,
    )


def _autoscalers(manifests: Manifests) -> dict[str, Manifest]:
    """HPAs and KEDA ScaledObjects by the workload they scale (``Deployment/name``)."""
    found: dict[str, Manifest] = {}
    for manifest in manifests.of_kind("HorizontalPodAutoscaler", "ScaledObject"):
        target = manifest.spec.get("scaleTargetRef") or {}
        found[f"{target.get('kind', 'Deployment')}/{target.get('name', '')}"] = manifest
    return found


def _workload(
    manifest: Manifest, pod: dict[str, Any], pool: Pool | None, autoscaler: Manifest | None
) -> Workload:
    requests = pod_requests(pod)
    expected = manifest.annotations.get(EXPECTED_REPLICAS)
    if expected is not None:
        replicas, basis = float(expected), f"the plan's simulated mean ({EXPECTED_REPLICAS})"
    elif autoscaler is not None:
        spec = autoscaler.spec
        least = spec.get("minReplicas", spec.get("minReplicaCount", 1))
        replicas, basis = float(least), f"{autoscaler.kind} minimum: the least it runs"
    elif manifest.kind in ("Job", "CronJob"):
        replicas, basis = float(job_spec(manifest).get("parallelism", 1)), "parallelism"
    elif manifest.kind in ("Pod", "DaemonSet"):
        replicas, basis = 1.0, "one"
    else:
        replicas, basis = float(manifest.spec.get("replicas", 1)), "spec.replicas"
    return Workload(
        manifest, pod, requests, replicas, basis, pool, _pods_per_node(pool, requests), autoscaler
    )


def job_spec(manifest: Manifest) -> dict[str, Any]:
    if manifest.kind == "CronJob":
        return dict((manifest.spec.get("jobTemplate") or {}).get("spec") or {})
    return manifest.spec


def _pods_per_node(pool: Pool | None, requests: Requests) -> int:
    """Pods of this size one node of ``pool`` holds (by the planner's allocatable)."""
    if pool is None or pool.offer is None:
        return 1
    offer = pool.offer
    vcpus, mib = node_allocatable(offer.vcpus, offer.memory_gib, offer.provider)
    fits = [MAX_PODS_PER_NODE]
    if requests.cpu_m:
        fits.append(int(vcpus * 1000 // requests.cpu_m))
    if requests.memory_mib:
        fits.append(int(mib // requests.memory_mib))
    if requests.gpus:
        fits.append(offer.accelerator_count // requests.gpus)
    return max(1, min(fits))


def _nodes(
    pools: Sequence[Pool], workloads: Sequence[Workload]
) -> tuple[dict[str, float], dict[str, str]]:
    nodes: dict[str, float] = {}
    basis: dict[str, str] = {}
    for pool in pools:
        placed = [w for w in workloads if w.pool is pool and w.nodes > 0]
        expected = pool.manifest.annotations.get(EXPECTED_NODES) if pool.manifest else None
        if expected is not None:
            nodes[pool.name], basis[pool.name] = float(expected), f"the plan's ({EXPECTED_NODES})"
        elif placed:
            nodes[pool.name] = sum(w.nodes for w in placed)
            basis[pool.name] = "; ".join(
                f"{w.manifest.ref}: {w.replicas:g} replicas ({w.replicas_basis}), "
                f"{w.pods_per_node} per node"
                for w in placed
            )
        elif pool.is_system:
            nodes[pool.name] = SYSTEM_POOL_NODES
            basis[pool.name] = (
                "system pool for the cluster add-ons: two nodes, as the plan bills it"
            )
        else:
            nodes[pool.name], basis[pool.name] = 0.0, "no workload here lands on it"
    return nodes, basis


def _bill(
    pools: Sequence[Pool],
    nodes: dict[str, float],
    basis: dict[str, str],
    manifests: Manifests,
    catalog: Catalog,
) -> CostBreakdown:
    lines: list[BillLine] = []
    notes: list[str] = []
    block = storage_price(catalog, "aws", "block")
    book = catalog.prices
    node_hours = 0.0
    for pool in pools:
        count = nodes[pool.name]
        if count <= 0:
            continue
        if pool.assumption:
            notes.append(pool.assumption)
        offer, hourly = pool.offer, pool.hourly_usd
        if offer is None or hourly is None:
            notes.append(
                f"{pool.name}: no {pool.capacity} price for {', '.join(pool.instance_types) or 'its instance types'} "
                f"in {pool.region}: its {count:g} nodes are not priced"
            )
            continue
        hours = count * HOURS_PER_MONTH
        node_hours += hours
        lines.append(
            BillLine(
                "compute",
                f"{pool.name}: {count:g} x {offer.instance_type} {pool.capacity}",
                hours,
                "node-hour",
                hourly,
                hours * hourly,
                offer.source,
                offer.as_of,
                note=basis[pool.name],
                pricing=pool.capacity,
            )
        )
        if block is not None:
            gib_months = pool.disk_gib * count
            lines.append(
                BillLine(
                    "storage",
                    f"{pool.name}: node disks, {pool.disk_gib:g} GiB {block.name} per node",
                    gib_months,
                    "GiB-month",
                    block.usd_per_gb_month,
                    gib_months * block.usd_per_gb_month,
                    block.source,
                    block.as_of,
                )
            )
    if not pools and manifests.of_kind(*WORKLOAD_KINDS):
        notes.append("no node pool and no nodeSelector naming an instance type: nodes not priced")
    ipv4 = book.platform_price("aws", "public-ipv4-hour")
    if ipv4 is not None and node_hours:
        lines.append(price_line(ipv4, node_hours, "public IPv4 of the nodes (public subnets)"))
    control_plane = book.platform_price("aws", "eks-control-plane")
    if control_plane is not None and pools:
        lines.append(price_line(control_plane, HOURS_PER_MONTH, "EKS control plane (one cluster)"))
        notes.append("one EKS cluster, billed here whole: these manifests are taken as all it runs")
    balancers = load_balancers(manifests)
    lb_hour = book.platform_price("aws", "alb-hour")
    if lb_hour is not None and balancers:
        lines.append(
            price_line(
                lb_hour,
                HOURS_PER_MONTH * len(balancers),
                f"load balancers, hourly: {', '.join(balancers)}",
            )
        )
        if ipv4 is not None:
            lines.append(
                price_line(
                    ipv4,
                    HOURS_PER_MONTH * 2 * len(balancers),
                    "public IPv4 of the load balancers (two zones each)",
                )
            )
    notes.append(
        "not in manifests, so not billed here: load-balancer capacity units, data transfer and "
        "object storage follow the traffic (the plan bills them)"
    )
    return CostBreakdown(tuple(lines), tuple(notes))


def load_balancers(manifests: Manifests) -> list[str]:
    """One load balancer per ALB Ingress group (or Ingress) and per Service of type LoadBalancer."""
    found: list[str] = []
    for ingress in manifests.of_kind("Ingress"):
        group = ingress.annotations.get("alb.ingress.kubernetes.io/group.name")
        name = f"Ingress group {group}" if group else ingress.ref
        if name not in found:
            found.append(name)
    for service in manifests.of_kind("Service"):
        if service.spec.get("type") == "LoadBalancer":
            found.append(service.ref)
    return found
