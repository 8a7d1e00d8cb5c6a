"""The fleet simulation: HPA, pod and node delays, bin-packing, spot reclaims."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace

import numpy as np
import pytest

from mlcost.core import PlanError
from mlcost.plan._fleet import (
    ON_DEMAND_ONLY,
    FleetRun,
    ScalingPolicy,
    SpotPolicy,
    pods_per_node,
    replicas_needed,
    simulate_fleet,
)

MEAN_S = 0.1  # a replica serves 10 requests/s flat out
HPA = ScalingPolicy(is_autoscaled=True, min_replicas=1, max_replicas=1000)


@dataclass
class _Pod:
    created: float
    bound: float | None


@dataclass
class _Node:
    requested: float
    last_needed: int


def _reference(
    arrivals_per_s: np.ndarray, *, per_node: int, scaling: ScalingPolicy, spare_nodes: int = 0
) -> tuple[list[int], list[int], list[int]]:
    """Spec, ready replicas and requested nodes from a controller that tracks each pod and node.

    Written from the Kubernetes rules, not from the closed forms: the HPA
    keeps its recommendations and takes the highest of the stabilization
    window; the ReplicaSet adds pods and deletes the newest; the cluster
    autoscaler adds nodes and removes one once unneeded for its delay,
    newest first; the scheduler binds pending pods oldest first to free
    slots on ready nodes; a pod serves pod_start minutes after binding.
    """
    recommendations: list[tuple[int, int]] = []
    pods: list[_Pod] = []
    nodes: list[_Node] = []
    specs, readies, requested = [], [], []
    for t, rate in enumerate(arrivals_per_s.tolist()):
        load = rate * MEAN_S
        current = max(len(pods), 1)
        utilisation = load / current  # the busy share each replica reports
        raw = math.ceil(current * utilisation / scaling.target_utilisation - 1e-9)
        recommendations.append((t, min(max(raw, scaling.min_replicas), scaling.max_replicas)))
        spec = max(d for s, d in recommendations if s >= t - scaling.scale_down_window_min)
        needed = -(-spec // per_node) + spare_nodes
        if t == 0:  # steady before the horizon: everything created long ago
            pods = [_Pod(-math.inf, -math.inf) for _ in range(spec)]
            nodes = [_Node(-math.inf, 0) for _ in range(needed)]
        while len(pods) < spec:
            pods.append(_Pod(t, None))
        while len(pods) > spec:
            pods.pop()
        for k in range(needed):
            if k < len(nodes):
                nodes[k].last_needed = t
            else:
                nodes.append(_Node(t, t))
        while nodes and nodes[-1].last_needed < t - scaling.node_scale_down_min:
            nodes.pop()
        ready_nodes = sum(t - n.requested >= scaling.node_provisioning_min for n in nodes)
        bound = sum(p.bound is not None for p in pods)
        assert bound <= per_node * ready_nodes  # a node is never removed under its pods
        for pod in pods:
            if pod.bound is None and bound < per_node * ready_nodes:
                pod.bound, bound = t, bound + 1
        specs.append(spec)
        readies.append(
            sum(p.bound is not None and t - p.bound >= scaling.pod_start_min for p in pods)
        )
        requested.append(len(nodes))
    return specs, readies, requested


def _bursty_traffic(seed: int, minutes: int = 600) -> np.ndarray:
    """Requests/s: a random walk with spikes and drops to 0, so the fleet keeps scaling."""
    rng = np.random.default_rng(seed)
    walk = np.abs(np.cumsum(rng.normal(0.0, 4.0, minutes))) + 5.0
    spikes = np.where(rng.random(minutes) < 0.03, rng.uniform(50.0, 300.0, minutes), 0.0)
    quiet = rng.random(minutes) < 0.02
    return np.asarray(np.where(quiet, 0.0, walk + spikes), dtype=np.float64)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize(
    ("per_node", "window", "pod_start", "provisioning", "node_scale_down", "spare"),
    [(1, 5, 1, 2, 10, 0), (3, 5, 2, 3, 10, 0), (4, 0, 0, 0, 0, 0), (2, 3, 4, 1, 7, 2)],
)
def test_closed_forms_match_a_controller_that_tracks_each_pod_and_node(
    seed: int,
    per_node: int,
    window: int,
    pod_start: int,
    provisioning: int,
    node_scale_down: int,
    spare: int,
) -> None:
    scaling = ScalingPolicy(
        is_autoscaled=True,
        min_replicas=2,
        max_replicas=40,
        target_utilisation=0.7,
        scale_down_window_min=window,
        pod_start_min=pod_start,
        node_provisioning_min=provisioning,
        node_scale_down_min=node_scale_down,
    )
    spot = SpotPolicy(on_demand_base_nodes=0, spot_share=1.0, overprovision_nodes=spare)
    arrivals = _bursty_traffic(seed)
    run = simulate_fleet(
        arrivals, mean_service_s=MEAN_S, pods_per_node=per_node, scaling=scaling, spot=spot
    )
    specs, readies, requested = _reference(
        arrivals, per_node=per_node, scaling=scaling, spare_nodes=spare
    )
    assert run.desired_replicas.tolist() == specs
    assert run.ready_replicas.tolist() == readies
    assert (run.on_demand_nodes + run.spot_nodes).tolist() == requested
    lagging = int((run.ready_replicas < run.desired_replicas).sum())
    assert (0 < lagging < arrivals.size) if pod_start + provisioning > 0 else lagging == 0


def test_replicas_needed_is_the_hpa_formula_without_tolerance() -> None:
    # 6 requests/s x 0.1 s = 0.6 busy replicas: exactly one at a 0.6 target, not two.
    got = replicas_needed(
        np.array([0.0, 6.0, 6.01, 30.0]), mean_service_s=MEAN_S, target_utilisation=0.6
    )
    assert got.tolist() == [0, 1, 2, 5]


def test_a_spike_keeps_the_replicas_up_for_the_stabilization_window() -> None:
    arrivals = np.full(30, 6.0)
    arrivals[10] = 60.0  # one minute needing 10 replicas at target 0.6
    scaling = replace(HPA, scale_down_window_min=5, pod_start_min=0, node_provisioning_min=0)
    run = simulate_fleet(
        arrivals, mean_service_s=MEAN_S, pods_per_node=100, scaling=scaling, spot=ON_DEMAND_ONLY
    )
    assert run.desired_replicas[:10].tolist() == [1] * 10
    assert run.desired_replicas[10:16].tolist() == [10] * 6  # up at once, kept 5 more minutes
    assert run.desired_replicas[16:].tolist() == [1] * 14
    assert run.ready_replicas.tolist() == run.desired_replicas.tolist()


def test_ready_replicas_lag_a_scale_up_by_the_pod_start_and_node_delays() -> None:
    arrivals = np.concatenate([np.full(10, 6.0), np.full(20, 24.0)])  # 1 -> 4 replicas at 10
    fast_nodes = replace(HPA, pod_start_min=3, node_provisioning_min=0)
    run = simulate_fleet(
        arrivals, mean_service_s=MEAN_S, pods_per_node=8, scaling=fast_nodes, spot=ON_DEMAND_ONLY
    )
    assert run.desired_replicas[10] == 4
    assert run.ready_replicas[:13].tolist() == [1] * 13  # the node has room: pod start only
    assert run.ready_replicas[13:].tolist() == [4] * 17
    # One pod per node: the new pods wait for their nodes (2 min) and then start (3 min).
    slow_nodes = replace(HPA, pod_start_min=3, node_provisioning_min=2)
    run = simulate_fleet(
        arrivals, mean_service_s=MEAN_S, pods_per_node=1, scaling=slow_nodes, spot=ON_DEMAND_ONLY
    )
    assert run.ready_replicas[:15].tolist() == [1] * 15
    assert run.ready_replicas[15:].tolist() == [4] * 15
    assert run.on_demand_nodes[10] == 4  # billed from the request, before they are ready


def test_nodes_stay_for_the_scale_down_delay_after_the_replicas_go() -> None:
    arrivals = np.concatenate([np.full(10, 24.0), np.full(30, 6.0)])  # 4 -> 1 replica
    scaling = replace(HPA, scale_down_window_min=5, node_scale_down_min=10)
    run = simulate_fleet(
        arrivals, mean_service_s=MEAN_S, pods_per_node=1, scaling=scaling, spot=ON_DEMAND_ONLY
    )
    # Last busy minute 9: spec stays 5 minutes more, the nodes 10 minutes after that.
    assert run.desired_replicas[14] == 4 and run.desired_replicas[15] == 1
    assert run.on_demand_nodes[24] == 4 and run.on_demand_nodes[25] == 1
    assert (run.always_on_nodes, run.peak_nodes) == (1, 4)
    assert run.spot_nodes.sum() == 0


def test_min_and_max_replicas_clip_the_hpa() -> None:
    arrivals = np.array([0.0, 6.0, 600.0, 6.0])
    scaling = replace(HPA, min_replicas=2, max_replicas=5, scale_down_window_min=0)
    run = simulate_fleet(
        arrivals, mean_service_s=MEAN_S, pods_per_node=10, scaling=scaling, spot=ON_DEMAND_ONLY
    )
    assert run.desired_replicas.tolist() == [2, 2, 5, 2]


def test_a_fixed_fleet_is_min_replicas_all_month() -> None:
    fixed = ScalingPolicy(is_autoscaled=False, min_replicas=5, max_replicas=5)
    run = simulate_fleet(
        _bursty_traffic(1),
        mean_service_s=MEAN_S,
        pods_per_node=2,
        scaling=fixed,
        spot=ON_DEMAND_ONLY,
    )
    assert set(run.ready_replicas.tolist()) == set(run.desired_replicas.tolist()) == {5}
    assert set(run.on_demand_nodes.tolist()) == {3}
    assert run.on_demand_node_hours == pytest.approx(3 * 600 / 60)
    assert run.mean_replicas == 5.0


def test_a_pod_wanting_every_vcpu_gets_the_allocatable_node() -> None:
    # A 2-thread replica on a 2-vCPU node: 2 vCPUs never fit after the reservations and the
    # DaemonSets (the provider's and the log/metrics agents), so it requests what is left
    # (about 1.7), one per node.
    for provider in ("aws", "gcp", "azure"):
        assert (
            pods_per_node(
                node_vcpus=2, node_memory_gib=4, pod_vcpus=2, pod_memory_mib=300, provider=provider
            )
            == 1
        )
    assert pods_per_node(node_vcpus=2, node_memory_gib=4, pod_vcpus=4, pod_memory_mib=300) == 1
    # Memory still binds, and a GPU pod is never stretched over the node's CPUs.
    assert pods_per_node(node_vcpus=2, node_memory_gib=4, pod_vcpus=2, pod_memory_mib=9000) == 0
    assert (
        pods_per_node(
            node_vcpus=4,
            node_memory_gib=16,
            pod_vcpus=4,
            pod_memory_mib=300,
            node_accelerators=1,
            pod_accelerators=1,
        )
        == 0
    )


def test_pods_per_node_subtracts_the_kubelet_reservations() -> None:
    # m5.large-like: 2 vCPU, 8 GiB. Naively two 1-vCPU pods fit; after the kubelet's 70m and
    # the DaemonSets' 125m + 100m only one does. Memory is ample for eight 700 MiB pods either way.
    assert pods_per_node(node_vcpus=2, node_memory_gib=8, pod_vcpus=1, pod_memory_mib=700) == 1
    assert pods_per_node(node_vcpus=2, node_memory_gib=8, pod_vcpus=0.5, pod_memory_mib=700) == 3
    # 16 vCPU, 8 GiB: memory binds. 8192 - (255 + 11 x 110) - 100 - 200 = 6427 MiB -> 9 pods.
    assert pods_per_node(node_vcpus=16, node_memory_gib=8, pod_vcpus=1, pod_memory_mib=700) == 9
    # GKE: 25 % of the first 4 GiB and 20 % of the next 4 are reserved -> 5841 MiB -> 8 pods.
    gke = pods_per_node(
        node_vcpus=16, node_memory_gib=8, pod_vcpus=1, pod_memory_mib=700, provider="gcp"
    )
    assert gke == 8
    # A model larger than the node fits nowhere; GPUs are whole.
    assert pods_per_node(node_vcpus=2, node_memory_gib=8, pod_vcpus=1, pod_memory_mib=9000) == 0
    gpu = functools.partial(
        pods_per_node, node_vcpus=48, node_memory_gib=192, pod_vcpus=4, pod_memory_mib=16000
    )
    assert gpu(node_accelerators=4, pod_accelerators=1) == 4
    assert gpu(node_accelerators=4, pod_accelerators=3) == 1
    assert gpu(node_accelerators=0, pod_accelerators=1) == 0


def _spot_month(
    spot: SpotPolicy, *, seed: int = 0, replicas: int = 8, per_node: int = 2
) -> tuple[ScalingPolicy, FleetRun]:
    fixed = ScalingPolicy(is_autoscaled=False, min_replicas=replicas, max_replicas=replicas)
    run = simulate_fleet(
        np.full(43_200, 10.0),
        mean_service_s=MEAN_S,
        pods_per_node=per_node,
        scaling=fixed,
        spot=spot,
        seed=seed,
    )
    return fixed, run


def test_no_interruption_rate_means_no_reclaims() -> None:
    _, run = _spot_month(SpotPolicy(on_demand_base_nodes=0, spot_share=1.0))
    assert run.interruptions == 0 and run.expected_interruptions == 0.0
    assert (run.ready_replicas == 8).all()


def test_reclaim_counts_follow_the_rate() -> None:
    rate = 0.01  # per node-hour; 4 spot nodes x 720 h -> 28.8 expected a month
    counts = []
    for seed in range(40):
        _, run = _spot_month(
            SpotPolicy(on_demand_base_nodes=0, spot_share=1.0, interruptions_per_node_hour=rate),
            seed=seed,
        )
        assert run.expected_interruptions == pytest.approx(28.8)
        counts.append(run.interruptions)
    assert abs(np.mean(counts) - 28.8) < 4.0 * math.sqrt(28.8 / 40)
    assert 0.5 * 28.8 < np.var(counts) < 2.0 * 28.8  # Poisson-like spread


def test_a_reclaim_cuts_ready_capacity_for_the_gap_then_recovers() -> None:
    spot = SpotPolicy(
        on_demand_base_nodes=0, spot_share=1.0, interruptions_per_node_hour=0.001, notice_min=2
    )
    fixed, run = _spot_month(spot, seed=5)
    minutes = run.interruption_minutes
    assert run.interruptions == minutes.size > 0
    gap = fixed.node_provisioning_min + fixed.pod_start_min - spot.notice_min  # 1 minute
    down = np.zeros(43_200, dtype=int)
    for minute in minutes.tolist():
        down[minute + 2 : minute + 2 + gap] += 1
    expected = np.clip(8 - 2 * down, 0, 8)
    np.testing.assert_array_equal(run.ready_replicas, expected)
    assert run.ready_replicas[-1] == 8 or down[-1] > 0


def test_a_pool_reclaim_takes_the_whole_pool_at_the_per_node_rate() -> None:
    # 8 replicas, 2 per node: 4 spot nodes over 2 pools (type x zone), 2 nodes each.
    rate = 0.01
    nodes, events = [], []
    for seed in range(40):
        _, run = _spot_month(
            SpotPolicy(
                on_demand_base_nodes=0, spot_share=1.0, interruptions_per_node_hour=rate, pools=2
            ),
            seed=seed,
        )
        assert run.expected_interruptions == pytest.approx(28.8)  # the same rate per node
        assert set(run.reclaimed_nodes.tolist()) <= {2}  # a reclaim takes its pool's 2 nodes
        nodes.append(run.interruptions)
        events.append(run.reclaimed_nodes.size)
    assert abs(np.mean(nodes) - 28.8) < 4.0 * math.sqrt(2 * 28.8 / 40)
    assert abs(np.mean(events) - 14.4) < 4.0 * math.sqrt(14.4 / 40)


def test_a_pool_reclaim_cuts_the_capacity_of_every_node_it_takes() -> None:
    spot = SpotPolicy(
        on_demand_base_nodes=0,
        spot_share=1.0,
        interruptions_per_node_hour=0.001,
        notice_min=2,
        pools=2,
    )
    fixed, run = _spot_month(spot, seed=5)
    assert run.reclaimed_nodes.size > 0
    gap = fixed.node_provisioning_min + fixed.pod_start_min - spot.notice_min
    down = np.zeros(43_200, dtype=int)
    for minute, lost in zip(
        run.interruption_minutes.tolist(), run.reclaimed_nodes.tolist(), strict=True
    ):
        down[minute + 2 : minute + 2 + gap] += lost
    np.testing.assert_array_equal(run.ready_replicas, np.clip(8 - 2 * down, 0, 8))
    assert run.ready_replicas.min() <= 4  # half the fleet at once, not one node


def test_an_overprovisioned_node_absorbs_a_reclaim() -> None:
    policy = SpotPolicy(
        on_demand_base_nodes=0,
        spot_share=1.0,
        interruptions_per_node_hour=0.001,
        overprovision_nodes=1,
    )
    _, run = _spot_month(policy, seed=5)
    assert run.interruptions > 0
    assert (run.ready_replicas == 8).all()
    assert set(run.spot_nodes.tolist()) == {5}


def test_fallback_moves_node_hours_to_on_demand() -> None:
    rate = 0.02
    base = SpotPolicy(on_demand_base_nodes=0, spot_share=1.0, interruptions_per_node_hour=rate)
    _, plain = _spot_month(base, seed=3)
    _, fallback = _spot_month(replace(base, fallback_share=1.0, fallback_hours=2.0), seed=3)
    assert plain.on_demand_node_hours == 0.0
    moved = fallback.on_demand_node_hours
    assert 0.0 < moved <= 2.0 * fallback.interruptions
    total = fallback.on_demand_node_hours + fallback.spot_node_hours
    assert total == pytest.approx(plain.spot_node_hours)


def test_the_on_demand_base_stays_on_demand() -> None:
    policy = SpotPolicy(
        on_demand_base_nodes=2,
        spot_share=0.5,
        interruptions_per_node_hour=0.05,
        fallback_share=1.0,
    )
    _, run = _spot_month(policy, replicas=20, per_node=2)  # 10 nodes: 2 + 4 on-demand, 4 spot
    assert (run.on_demand_nodes >= 6).all()
    assert run.spot_nodes.max() == 4
    assert (run.on_demand_nodes + run.spot_nodes == 10).all()
    _, no_spot = _spot_month(replace(policy, spot_share=0.0), replicas=20, per_node=2)
    assert no_spot.interruptions == 0
    assert set(no_spot.on_demand_nodes.tolist()) == {10}


def test_the_seed_makes_a_run_repeatable() -> None:
    policy = SpotPolicy(on_demand_base_nodes=0, spot_share=1.0, interruptions_per_node_hour=0.02)
    _, first = _spot_month(policy, seed=7)
    _, again = _spot_month(policy, seed=7)
    _, other = _spot_month(policy, seed=8)
    np.testing.assert_array_equal(first.ready_replicas, again.ready_replicas)
    np.testing.assert_array_equal(first.interruption_minutes, again.interruption_minutes)
    assert not np.array_equal(first.interruption_minutes, other.interruption_minutes)


@pytest.mark.parametrize(
    ("scaling", "spot", "per_node", "message"),
    [
        (replace(HPA, min_replicas=0), ON_DEMAND_ONLY, 1, "min_replicas is 0"),
        (replace(HPA, min_replicas=5, max_replicas=4), ON_DEMAND_ONLY, 1, "below min_replicas"),
        (replace(HPA, target_utilisation=0.0), ON_DEMAND_ONLY, 1, "not in \\(0, 1\\]"),
        (replace(HPA, target_utilisation=1.5), ON_DEMAND_ONLY, 1, "not in \\(0, 1\\]"),
        (replace(HPA, pod_start_min=-1), ON_DEMAND_ONLY, 1, "negative"),
        (HPA, ON_DEMAND_ONLY, 0, "larger node type"),
        (HPA, SpotPolicy(0, 1.5), 1, "must be in \\[0, 1\\]"),
        (HPA, SpotPolicy(0, 1.0, interruptions_per_node_hour=-1.0), 1, "finite and >= 0"),
        (HPA, SpotPolicy(0, 1.0, fallback_share=-0.1), 1, "must be in \\[0, 1\\]"),
        (HPA, SpotPolicy(0, 1.0, overprovision_nodes=-1), 1, "must be >= 0"),
    ],
)
def test_impossible_policies_are_refused(
    scaling: ScalingPolicy, spot: SpotPolicy, per_node: int, message: str
) -> None:
    with pytest.raises(PlanError, match=message):
        simulate_fleet(
            np.ones(10), mean_service_s=MEAN_S, pods_per_node=per_node, scaling=scaling, spot=spot
        )


@pytest.mark.parametrize("arrivals", [[1.0, math.nan], [1.0, -1.0], [math.inf], []])
@pytest.mark.parametrize("is_autoscaled", [True, False])
def test_bad_arrivals_are_refused(arrivals: list[float], is_autoscaled: bool) -> None:
    scaling = replace(HPA, is_autoscaled=is_autoscaled)
    with pytest.raises(PlanError, match="arrivals_per_s"):
        simulate_fleet(
            np.asarray(arrivals),
            mean_service_s=MEAN_S,
            pods_per_node=1,
            scaling=scaling,
            spot=ON_DEMAND_ONLY,
        )


def test_pods_per_node_refuses_unknown_providers_and_sizes() -> None:
    with pytest.raises(PlanError, match="unknown provider"):
        pods_per_node(node_vcpus=2, node_memory_gib=8, pod_vcpus=1, pod_memory_mib=1, provider="x")
    with pytest.raises(PlanError, match="must be positive"):
        pods_per_node(node_vcpus=2, node_memory_gib=8, pod_vcpus=0, pod_memory_mib=1)
