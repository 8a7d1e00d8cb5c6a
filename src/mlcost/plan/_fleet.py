"""A month of a Kubernetes serving fleet, minute by minute: replicas, nodes, spot reclaims.

The planner replays 43,200 minutes for thousands of candidates, so one run is
a few dozen whole-array numpy operations (about a millisecond), no loop over
minutes. Minute ``t`` runs from ``t`` to ``t + 1``; delays are whole minutes.
Before minute 0 the fleet is taken to have been steady at minute 0's size,
every pod and node ready.

Replicas (autoscaled). The HorizontalPodAutoscaler computes
``desired = ceil(current x currentUtilisation / target)``
(https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/#algorithm-details).
With utilisation the busy share of a replica, ``arrivals x E[S] / current``,
the current count cancels: ``desired_t = clip(ceil(arrivals_t x E[S] /
target), min, max)`` (``replicas_needed``). The HPA's default 10 % tolerance
is taken as 0 (set ``--horizontal-pod-autoscaler-tolerance`` or the
per-HPA ``tolerance`` to match); a ratio within 1e-9 of a whole number is
rounded down to it, so floating-point noise adds no replica. Scale-down
stabilization keeps the highest recommendation of the window
(``behavior.scaleDown.stabilizationWindowSeconds``, default 300 s,
https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/#stabilization-window):
``spec_t = max(desired over [t - window, t])``; scale-up is immediate (the
default scale-up policy, 4 pods or 100 % per 15 s, is not a limit at minute
resolution and is not modelled).

Pod readiness. A pod created in minute s serves from minute
``s + pod_start_min`` (image pull, model load, readiness probe). On scale-down
the ReplicaSet deletes not-ready pods first, then the most recently ready
(https://kubernetes.io/docs/concepts/workloads/controllers/replicaset/#scaling-a-replicaset):
the newest first, a stack. Hence ``ready_t = min(spec over [t - pod_start, t])``
(proof at ``_trailing``'s caller, ``_autoscaled``).

Nodes. ``needed_t = ceil(spec_t / pods_per_node)`` plus the spot
overprovision. The cluster autoscaler removes a node once it has been unneeded
for ``scale-down-unneeded-time`` (default 10 min,
https://github.com/kubernetes/autoscaler/blob/master/cluster-autoscaler/FAQ.md#how-does-scale-down-work):
``requested_t = max(needed over [t - node_scale_down, t])``; the newest node
goes first, so by the same stack argument ``ready_nodes_t = min(requested over
[t - node_provisioning, t])``. Nodes are billed from request to removal
(``on_demand_nodes + spot_nodes = requested``). A pod can only start on a
ready node, so ``ready_t = min(min(spec over [t - pod_start, t]),
pods_per_node x ready_nodes_(t - pod_start))``. Node capacity is a pool: the
autoscaler only removes nodes whose pods fit elsewhere, and the move is
taken to cost no ready replica.

Replicas (fixed). ``spec = ready = min_replicas`` every minute (the caller
sizes it for the peak), ``requested = ceil(min_replicas / pods_per_node)``
plus the spot overprovision.

Spot. Of the requested nodes, the first ``on_demand_base_nodes`` are
on-demand, and of those above the base ``ceil((1 - spot_share) x n)`` are too
(Karpenter/EKS managed node groups' ``onDemandBaseCapacity`` and
``onDemandPercentageAboveBaseCapacity``); the rest and the
``overprovision_nodes`` are spot. With ``spot_share == 0`` every node is
on-demand and the base and overprovision are ignored. With ``pools`` unset
each spot node-minute is reclaimed with probability
``interruptions_per_node_hour / 60``, independently (drawn as a binomial
total over all spot node-minutes and the node-minutes hit without
replacement: exact, and cheaper than a draw per minute). With ``pools``
(instance types x zones the fleet diversifies over) the spot nodes spread
evenly over the pools and a reclaim takes a whole pool at once, as spot
capacity runs out for a type in a zone: the same rate per node, drawn per
pool-minute, with the nodes lost together. A reclaim announced in minute t takes the node at ``t + notice_min``;
its replacement is requested at the notice and serves pods at ``t +
node_provisioning_min + pod_start_min``, so ``pods_per_node`` slots of ready
capacity are lost for ``max(0, node_provisioning + pod_start - notice)``
minutes; spare ready capacity (overprovisioned nodes, the rounding up of
nodes) absorbs the loss. A ``fallback_share`` of the replacements run
on-demand for ``fallback_hours`` before being moved back to spot without a
gap; those node-minutes are billed on-demand. Billing counts the replacement
in place of the reclaimed node (the notice minutes when both run are not
added), and the HPA does not react to the lost replicas.

``mlcost.cost.interruptions_per_hour`` turns AWS Spot Instance Advisor buckets
into the rate this model takes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from mlcost.core import PlanError

FloatArray = npt.NDArray[np.float64]
# Replica and node counts: int32 halves the memory traffic of a month's arrays.
IntArray = npt.NDArray[np.int32]

_MINUTES_PER_HOUR = 60
# A replica ratio this close above a whole number is rounding noise, not load.
_RATIO_GUARD = 1e-9
_MAX_COUNT = 2**31 - 1

# An assumption, for GCP spot VMs and wherever no bucket is known: GCP publishes no
# interruption frequency, so take the middle of AWS's common "5-10%" bucket.
DEFAULT_SPOT_INTERRUPTION_BUCKET = "5-10%"


@dataclass(frozen=True, slots=True)
class ScalingPolicy:
    """How the replica count follows traffic: fixed, or the Kubernetes HPA on CPU utilisation."""

    is_autoscaled: bool
    min_replicas: int
    max_replicas: int
    target_utilisation: float = 0.6  # HPA averageUtilization target (busy share of a replica)
    scale_down_window_min: int = 5  # HPA behavior.scaleDown.stabilizationWindowSeconds = 300
    pod_start_min: int = 1  # container start + model load + readiness probe
    node_provisioning_min: int = 2  # cluster autoscaler / Karpenter: a new node Ready
    node_scale_down_min: int = 10  # cluster-autoscaler scale-down-unneeded-time


@dataclass(frozen=True, slots=True)
class SpotPolicy:
    """Which nodes run on spot, how often spot nodes are reclaimed, and what replaces them."""

    on_demand_base_nodes: int  # always on-demand (0 = all spot); ignored when spot_share == 0
    spot_share: float  # share of the nodes above the base that may be spot (0: none, 1: all)
    interruptions_per_node_hour: float = 0.0
    overprovision_nodes: int = 0  # extra spot nodes so a reclaim does not cut capacity below need
    notice_min: int = 2  # AWS's two-minute interruption notice: replacement requested at notice
    fallback_share: float = 0.0  # share of replacements launched on-demand (spot capacity short)
    fallback_hours: float = 1.0  # how long a fallback on-demand node runs before going back to spot
    pools: int | None = None  # spot pools (instance type x zone) reclaimed whole; None: per node


ON_DEMAND_ONLY = SpotPolicy(on_demand_base_nodes=0, spot_share=0.0)


def _empty_minutes() -> IntArray:
    return np.zeros(0, dtype=np.int32)


@dataclass(frozen=True, slots=True, eq=False)
class FleetRun:
    """Per-minute replicas and nodes of one simulated month, and its totals."""

    ready_replicas: IntArray  # replicas serving in each minute (what the latency model sees)
    desired_replicas: IntArray  # the HPA's spec.replicas each minute (after stabilization)
    on_demand_nodes: IntArray  # billed on-demand nodes each minute (including fallbacks)
    spot_nodes: IntArray  # billed spot nodes each minute
    interruptions: int  # spot nodes reclaimed over the horizon (this seed)
    expected_interruptions: float  # rate x spot node-hours
    interruption_minutes: IntArray = field(default_factory=_empty_minutes)  # notice minute each
    reclaimed_nodes: IntArray = field(default_factory=_empty_minutes)  # nodes taken by each

    @property
    def on_demand_node_hours(self) -> float:
        """On-demand node-hours billed over the horizon."""
        return float(self.on_demand_nodes.sum()) / _MINUTES_PER_HOUR

    @property
    def spot_node_hours(self) -> float:
        """Spot node-hours billed over the horizon."""
        return float(self.spot_nodes.sum()) / _MINUTES_PER_HOUR

    @property
    def always_on_nodes(self) -> int:
        """The fewest nodes billed in any minute: what a savings plan or commitment may cover."""
        return int((self.on_demand_nodes + self.spot_nodes).min())

    @property
    def peak_nodes(self) -> int:
        """The most nodes billed in any minute."""
        return int((self.on_demand_nodes + self.spot_nodes).max())

    @property
    def mean_replicas(self) -> float:
        """Mean of spec.replicas: the pods running, starting ones included."""
        return float(self.desired_replicas.mean())


class _Reservation(NamedTuple):
    """What a managed Kubernetes node keeps from its pods: kubelet, system, DaemonSets."""

    cpu_tiers: tuple[tuple[float, float], ...]  # (cores in the tier, share reserved); last: rest
    daemonset_vcpus: float  # requests of the DaemonSets on every node (kube-proxy, CNI)
    max_pods: Callable[[int], int]
    memory_reserved_mib: Callable[[float, int], float]  # (node memory MiB, max pods)


EVICTION_HARD_MIB = 100.0  # kubelet evictionHard memory.available on all three
# The log and metrics agents every production node runs as DaemonSets besides the
# provider's own (a log shipper such as Fluent Bit and a node metrics exporter): an
# assumption, since their charts set no requests; without them a serving pod may take
# the whole allocatable node and leave them nowhere to run.
AGENT_VCPUS = 0.1
AGENT_MEMORY_MIB = 200.0


def gke_reserved_memory_mib(node_mib: float, _max_pods: int = 0) -> float:
    """The memory GKE reserves on a node of ``node_mib``: 25 % of the first 4 GiB, 20 % of
    the next 4, 10 % of the next 8, 6 % of the next 112, 2 % above (255 MiB below 1 GiB)."""
    if node_mib < 1024.0:
        return 255.0
    reserved, floor_mib = 0.0, 0.0
    for size_gib, share in ((4, 0.25), (4, 0.20), (8, 0.10), (112, 0.06), (math.inf, 0.02)):
        top = floor_mib + size_gib * 1024.0
        reserved += share * max(0.0, min(node_mib, top) - floor_mib)
        floor_mib = top
    return reserved


# CPU: 6 % of the first core, 1 % of the second, 0.5 % of the next two, 0.25 % above four
# (GKE and the EKS AMI); AKS: 60m, 40m, 20m each for cores 3-4, 10m each above.
_GKE_EKS_CPU = ((1.0, 0.06), (1.0, 0.01), (2.0, 0.005), (math.inf, 0.0025))
_RESERVATIONS = {
    # https://github.com/awslabs/amazon-eks-ami (kube-reserved: 255 MiB + 11 MiB per pod);
    # max pods as EKS recommends with prefix delegation: 110 below 30 vCPUs, else 250.
    # DaemonSets: kube-proxy 100m, aws-node 25m.
    "aws": _Reservation(
        _GKE_EKS_CPU,
        0.125,
        lambda vcpus: 110 if vcpus < 30 else 250,
        lambda _m, p: 255.0 + 11.0 * p,
    ),
    # https://cloud.google.com/kubernetes-engine/docs/concepts/plan-node-sizes
    "gcp": _Reservation(_GKE_EKS_CPU, 0.1, lambda _v: 110, gke_reserved_memory_mib),
    # https://learn.microsoft.com/azure/aks/node-resource-reservations (1.29+: 20 MiB per pod
    # + 50 MiB, at most 25 % of memory; 30 pods, Azure CNI's default)
    "azure": _Reservation(
        ((1.0, 0.06), (1.0, 0.04), (2.0, 0.02), (math.inf, 0.01)),
        0.1,
        lambda _v: 30,
        lambda m, p: min(50.0 + 20.0 * p, 0.25 * m),
    ),
}


def node_allocatable(node_vcpus: int, node_memory_gib: float, provider: str) -> tuple[float, float]:
    """Return the vCPUs and MiB a node leaves to pods after the reservations and DaemonSets.

    Raises PlanError for an unknown provider.
    """
    reservation = _RESERVATIONS.get(provider)
    if reservation is None:
        raise PlanError(f"unknown provider {provider!r}; give one of {', '.join(_RESERVATIONS)}")
    max_pods = reservation.max_pods(node_vcpus)
    cpu_reserved, floor = 0.0, 0.0
    for cores, share in reservation.cpu_tiers:
        cpu_reserved += share * max(0.0, min(float(node_vcpus), floor + cores) - floor)
        floor += cores
    node_mib = node_memory_gib * 1024.0
    memory_mib = (
        node_mib
        - reservation.memory_reserved_mib(node_mib, max_pods)
        - EVICTION_HARD_MIB
        - AGENT_MEMORY_MIB
    )
    vcpus = node_vcpus - cpu_reserved - reservation.daemonset_vcpus - AGENT_VCPUS
    return vcpus, memory_mib


def pods_per_node(
    *,
    node_vcpus: int,
    node_memory_gib: float,
    pod_vcpus: float,
    pod_memory_mib: float,
    node_accelerators: int = 0,
    pod_accelerators: int = 0,
    provider: str = "aws",
) -> int:
    """Return how many identical serving pods fit on one node after reservations (0 = none fits).

    Allocatable = capacity - kube/system reserved - the 100 MiB hard eviction
    threshold, as the provider's managed node images set them (table above),
    less the DaemonSets on every node (the provider's, and the log and
    metrics agents: ``AGENT_VCPUS``, ``AGENT_MEMORY_MIB``); pods are packed by
    their requests, at most the node's max pods, and by whole accelerators when
    they use any. A CPU pod asking for all the node's vCPUs (or more) requests
    what the node has left after all of that, one per node: about 1.7 of a
    2-vCPU node's 2.

    Raises PlanError on a non-positive node or pod size, negative
    accelerators, or an unknown provider.
    """
    reservation = _RESERVATIONS.get(provider)
    if reservation is None:
        raise PlanError(f"unknown provider {provider!r}; give one of {', '.join(_RESERVATIONS)}")
    if (
        not (node_vcpus > 0 and node_memory_gib > 0.0 and pod_vcpus > 0.0 and pod_memory_mib > 0.0)
        or min(node_accelerators, pod_accelerators) < 0
    ):
        raise PlanError(
            f"node ({node_vcpus} vCPU, {node_memory_gib} GiB) and pod ({pod_vcpus} vCPU, "
            f"{pod_memory_mib} MiB) sizes must be positive and accelerators >= 0; check the "
            "offer and the variant's resource requests"
        )
    max_pods = reservation.max_pods(node_vcpus)
    vcpus, memory_mib = node_allocatable(node_vcpus, node_memory_gib, provider)
    if pod_vcpus >= node_vcpus and pod_accelerators == 0:
        # A pod asking for every vCPU cannot get them (the kubelet and the DaemonSets keep
        # some): it requests what is left, one per node, and its threads still run on all.
        max_pods = 1
        pod_vcpus = max(vcpus, 1e-3)
    fits = min(
        max_pods,
        math.floor(max(0.0, vcpus) / pod_vcpus + _RATIO_GUARD),
        math.floor(max(0.0, memory_mib) / pod_memory_mib + _RATIO_GUARD),
    )
    if pod_accelerators > 0:
        fits = min(fits, node_accelerators // pod_accelerators)
    return max(0, fits)


def replicas_needed(
    arrivals_per_s: FloatArray, *, mean_service_s: float, target_utilisation: float
) -> IntArray:
    """Return the HPA's desired count each minute: ceil(arrivals x E[S] / target), unclipped.

    Raises PlanError on NaN, infinite or negative arrivals, a non-positive
    mean service time, or a target outside (0, 1].
    """
    rate = _checked_arrivals(arrivals_per_s)
    if not (0.0 < target_utilisation <= 1.0):
        raise PlanError(
            f"target utilisation must be in (0, 1], got {target_utilisation}; the HPA "
            "averageUtilization 60 is 0.6"
        )
    if not (mean_service_s > 0.0 and math.isfinite(mean_service_s)):
        raise PlanError(
            f"mean service time must be a positive number of seconds, got {mean_service_s}"
        )
    ratio = rate * (mean_service_s / target_utilisation * (1.0 - _RATIO_GUARD))
    if ratio.max() >= _MAX_COUNT:
        raise PlanError(
            f"{ratio.max():.3g} replicas would be needed in the busiest minute; check the "
            "traffic volume and the service time"
        )
    return np.ceil(ratio, out=ratio).astype(np.int32)


def simulate_fleet(
    arrivals_per_s: FloatArray,
    *,
    mean_service_s: float,
    pods_per_node: int,
    scaling: ScalingPolicy,
    spot: SpotPolicy,
    seed: int = 0,
) -> FleetRun:
    """Return the replicas and nodes of each minute under ``scaling`` and ``spot`` (module docstring).

    ``arrivals_per_s`` holds one rate per minute. Deterministic for a given
    ``seed`` (only spot reclaims are random).

    Raises PlanError on invalid arrivals or policies (each message says what
    to change).
    """
    _check_policies(scaling, spot, pods_per_node)
    is_spot = spot.spot_share > 0.0
    spare = spot.overprovision_nodes if is_spot else 0
    if scaling.is_autoscaled:
        desired = replicas_needed(
            arrivals_per_s,
            mean_service_s=mean_service_s,
            target_utilisation=scaling.target_utilisation,
        )
        np.clip(desired, scaling.min_replicas, scaling.max_replicas, out=desired)
        spec, ready, requested, capacity = _autoscaled(desired, pods_per_node, scaling, spare)
    else:
        minutes = _checked_arrivals(arrivals_per_s).size
        spec = np.full(minutes, scaling.min_replicas, dtype=np.int32)
        ready = spec
        nodes = -(-scaling.min_replicas // pods_per_node) + spare
        requested = np.full(minutes, nodes, dtype=np.int32)
        capacity = requested * pods_per_node
    on_demand, spot_nodes = _split_by_pricing(requested - spare, spot)
    spot_nodes = spot_nodes + spare
    if not is_spot or spot.interruptions_per_node_hour == 0.0:
        return FleetRun(ready, spec, on_demand, spot_nodes, 0, 0.0)
    rng = np.random.default_rng(seed)
    reclaims = (
        _reclaim(spot_nodes, spot, rng)
        if spot.pools is None
        else _reclaim_pools(spot_nodes, spot, spot.pools, rng)
    )
    gap = max(0, scaling.node_provisioning_min + scaling.pod_start_min - spot.notice_min)
    down = _running_count(reclaims.minutes + spot.notice_min, gap, spec.size, reclaims.nodes)
    ready = np.clip(capacity - pods_per_node * down, 0, ready)
    fallback = reclaims.is_fallback
    moved = np.minimum(
        _running_count(
            reclaims.minutes[fallback],
            round(spot.fallback_hours * _MINUTES_PER_HOUR),
            spec.size,
            reclaims.nodes[fallback],
        ),
        spot_nodes,
    )
    return FleetRun(
        ready,
        spec,
        on_demand + moved,
        spot_nodes - moved,
        int(reclaims.nodes.sum()),
        reclaims.expected,
        reclaims.minutes,
        reclaims.nodes,
    )


def _autoscaled(
    desired: IntArray, pods_per_node: int, scaling: ScalingPolicy, spare_nodes: int
) -> tuple[IntArray, IntArray, IntArray, IntArray]:
    """Return spec, ready replicas, requested nodes and ready pod slots of an HPA-driven fleet.

    Why the sliding minimum counts the ready pods: with newest-first
    deletion the live pods form a stack, and the pod at height k at minute t
    was created at the last minute s <= t when height k became occupied
    (spec_(s-1) < k <= spec_s), staying alive since, so spec_u >= k for all u
    in [s, t]. It is ready iff s <= t - pod_start, i.e. iff spec_u >= k for
    every u in [t - pod_start, t]. The ready pods are the heights k <= min
    of spec over that window. Nodes are a stack too (sliding max keeps
    heights needed within the window; the newest goes first), so the same
    argument gives the ready nodes. Pods bind to ready slots oldest first and
    the requested nodes always hold spec (requested >= needed), so the bound
    pods are the lowest min(spec_u, slots_u) heights; a pod bound by
    t - pod_start is ready at t, whence the minimum with the slots of
    pod_start minutes ago. ``tests/plan/test_fleet.py`` checks all of it
    against a controller that tracks each pod and node.
    """
    spec = _trailing(desired, scaling.scale_down_window_min + 1, np.maximum)
    pods_ready = _trailing(spec, scaling.pod_start_min + 1, np.minimum)
    needed = -(-spec // pods_per_node) + spare_nodes
    requested = _trailing(needed, scaling.node_scale_down_min + 1, np.maximum)
    ready_nodes = _trailing(requested, scaling.node_provisioning_min + 1, np.minimum)
    slots = pods_per_node * _delayed(ready_nodes, scaling.pod_start_min)
    return spec, np.minimum(pods_ready, slots), requested, slots


def _trailing(values: IntArray, length: int, combine: Callable[..., IntArray]) -> IntArray:
    """Return ``combine`` (max or min) over each minute's last ``length`` minutes, itself included.

    Minutes before 0 repeat minute 0. Windows double (1, 2, 4, ...) and a
    last overlapping step tops them up, so the cost is log2(length) passes,
    written into two buffers in turn (few large temporaries keep malloc from
    returning memory to the system between calls, which costs page faults).
    """
    current, out, span = values, np.empty_like(values), 1
    while span < length:
        step = min(span, length - span)
        combine(current[step:], current[: current.size - step], out=out[step:])
        combine(current[:step], current[0], out=out[:step])
        span += step
        spare = np.empty_like(values) if current is values and span < length else current
        current, out = out, spare
    return current


def _delayed(values: IntArray, minutes: int) -> IntArray:
    """Return values shifted later by ``minutes``, the first value repeated in front."""
    if minutes == 0:
        return values
    out = np.empty_like(values)
    out[:minutes] = values[0]
    out[minutes:] = values[: max(0, values.size - minutes)]
    return out


def _split_by_pricing(nodes: IntArray, spot: SpotPolicy) -> tuple[IntArray, IntArray]:
    """Return (on-demand, spot) node counts: the base, then ceil((1 - share) x the rest) on-demand."""
    if spot.spot_share == 0.0:
        return nodes, np.zeros_like(nodes)
    base = np.minimum(nodes, spot.on_demand_base_nodes)
    above = nodes - base
    # Few distinct counts: round each once, then look the minutes up (no float month array).
    share = (1.0 - spot.spot_share) * (1.0 - _RATIO_GUARD)
    rounded = np.ceil(np.arange(int(above.max()) + 1) * share).astype(np.int32)
    on_demand = base + rounded[above]
    return on_demand, nodes - on_demand


class _Reclaims(NamedTuple):
    minutes: IntArray  # the notice minute of each reclaim, ascending
    nodes: IntArray  # the spot nodes each reclaim takes (1 when nodes go one by one)
    is_fallback: npt.NDArray[np.bool_]  # whose replacements run on-demand
    expected: float


def _reclaim(spot_nodes: IntArray, spot: SpotPolicy, rng: np.random.Generator) -> _Reclaims:
    """Draw the reclaimed spot node-minutes: a binomial total, then which, without replacement."""
    probability = spot.interruptions_per_node_hour / _MINUTES_PER_HOUR
    node_minutes = np.cumsum(spot_nodes)
    total = int(node_minutes[-1])
    count = int(rng.binomial(total, probability)) if total > 0 else 0
    hit = np.sort(rng.choice(total, size=count, replace=False)) if count else _empty_minutes()
    minutes = np.searchsorted(node_minutes, hit, side="right").astype(np.int32)
    return _Reclaims(
        minutes,
        np.ones(count, dtype=np.int32),
        rng.random(count) < spot.fallback_share,
        total * probability,
    )


def _reclaim_pools(
    spot_nodes: IntArray, spot: SpotPolicy, pools: int, rng: np.random.Generator
) -> _Reclaims:
    """Draw whole-pool reclaims: the spot nodes spread evenly over ``pools`` (instance type x
    zone), and a reclaim in a pool takes every node of it at once (capacity runs out for a
    type in a zone, not for one machine). Each pool-minute holding nodes is hit with the
    per-node probability, so a node is reclaimed as often as alone, and the expected count
    is unchanged; what changes is that nodes go together."""
    probability = spot.interruptions_per_node_hour / _MINUTES_PER_HOUR
    active = np.minimum(spot_nodes, pools)  # pools holding at least one node
    pool_minutes = np.cumsum(active)
    total = int(pool_minutes[-1])
    count = int(rng.binomial(total, probability)) if total > 0 else 0
    hit = np.sort(rng.choice(total, size=count, replace=False)) if count else _empty_minutes()
    minutes = np.searchsorted(pool_minutes, hit, side="right").astype(np.int32)
    # Which pool of the minute: pools below nodes % pools hold one node more.
    pool = hit - (pool_minutes[minutes] - active[minutes])
    nodes_then = spot_nodes[minutes]
    nodes = (nodes_then // pools + (pool < nodes_then % pools)).astype(np.int32)
    expected = float(spot_nodes.sum()) * probability
    return _Reclaims(minutes, nodes, rng.random(count) < spot.fallback_share, expected)


def _running_count(
    starts: IntArray, length: int, minutes: int, weights: IntArray | None = None
) -> IntArray:
    """Return how many of the intervals [start, start + length) cover each minute (each
    counted ``weights`` times, where given)."""
    if length <= 0 or starts.size == 0:
        return np.zeros(minutes, dtype=np.int32)
    edges = np.bincount(starts, weights=weights, minlength=minutes + length + 1)
    edges[length:] -= edges[: edges.size - length].copy()
    return np.rint(np.cumsum(edges[:minutes])).astype(np.int32)


def _checked_arrivals(arrivals_per_s: FloatArray) -> FloatArray:
    rate = np.asarray(arrivals_per_s, dtype=np.float64)
    if rate.ndim != 1 or rate.size == 0:
        raise PlanError(
            f"arrivals_per_s must be one rate per minute, got shape {rate.shape}; pass the "
            "per-minute series from arrivals_per_minute / 60"
        )
    if not np.all(rate >= 0.0) or not np.isfinite(rate.sum()):
        raise PlanError(
            "arrivals_per_s must be finite and >= 0 in every minute; check the traffic series"
        )
    return rate


def _check_policies(scaling: ScalingPolicy, spot: SpotPolicy, pods_per_node: int) -> None:
    """Raise PlanError naming the first impossible setting."""
    problems = [
        (scaling.min_replicas < 1, f"min_replicas is {scaling.min_replicas}; give at least 1"),
        (
            scaling.max_replicas < scaling.min_replicas,
            f"max_replicas {scaling.max_replicas} is below min_replicas "
            f"{scaling.min_replicas}; raise max_replicas",
        ),
        (
            not 0.0 < scaling.target_utilisation <= 1.0,
            f"target utilisation {scaling.target_utilisation} is not in (0, 1]; "
            "averageUtilization 60 is 0.6",
        ),
        (
            min(
                scaling.scale_down_window_min,
                scaling.pod_start_min,
                scaling.node_provisioning_min,
                scaling.node_scale_down_min,
                spot.notice_min,
            )
            < 0,
            "a delay or window is negative; give minutes >= 0",
        ),
        (pods_per_node < 1, f"{pods_per_node} pods fit per node; pick a larger node type"),
        (
            not 0.0 <= spot.spot_share <= 1.0 or not 0.0 <= spot.fallback_share <= 1.0,
            f"spot_share {spot.spot_share} and fallback_share {spot.fallback_share} must "
            "be in [0, 1]",
        ),
        (
            not (
                0.0 <= spot.interruptions_per_node_hour < math.inf
                and 0.0 <= spot.fallback_hours < math.inf
            ),
            f"interruptions_per_node_hour {spot.interruptions_per_node_hour} and "
            f"fallback_hours {spot.fallback_hours} must be finite and >= 0",
        ),
        (
            min(spot.on_demand_base_nodes, spot.overprovision_nodes) < 0,
            "on_demand_base_nodes and overprovision_nodes must be >= 0",
        ),
    ]
    for is_wrong, message in problems:
        if is_wrong:
            raise PlanError(f"fleet policy: {message}")
