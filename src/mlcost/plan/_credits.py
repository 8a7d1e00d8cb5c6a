"""CPU credits of a burstable fleet (T3, T3a, T4g), minute by minute.

A burstable node earns credits at its baseline, ``baseline_share x vCPUs``
credits a minute (one credit = one vCPU busy for one minute), and spends what
it really uses: the requests' CPU plus its own daemons (kubelet, kube-proxy,
CNI, log and metrics agents: ``DAEMON_VCPUS_USED``). Its balance holds at most
24 hours of earnings. T3, T3a and T4g get no launch credits, in either mode: a
new node starts at 0
(https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/burstable-performance-instances-standard-mode-concepts.html).

- ``unlimited`` (AWS's default for T3, T3a and T4g, spot included): the node
  runs at full speed whatever its balance. Below 0 it spends surplus credits,
  paid back by later earnings; surplus beyond 24 hours of earnings is charged
  at once, and a node removed while in surplus is charged what it owes
  (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/burstable-performance-instances-unlimited-mode-concepts.html).
- ``standard``: at a balance of 0 the node is held to its baseline. A minute in
  which a node wants more than its baseline and has no credit left is
  *throttled*: its demand is above what it may use, so its queue grows and the
  minute is over the SLO.

Requests spread evenly, so every node spends alike and a node's balance
depends only on when it joined: nodes that joined together form a cohort, and
cohorts whose balances meet (both spent, both full) merge for good, so a month
tracks a handful of balances, not one per node. A new node joins at 0; the
newest leave first (the cluster autoscaler's order, as in ``_fleet``). A
minute is throttled when any node is held to its baseline. Before minute 0 the
fleet replays the
horizon's first day, so the month starts from a balance it could have reached.
The month is charged on accrual: the surplus charged during it, plus what the
fleet owes at its end less what it owed at its start, so a debt carried from
month to month is counted once and a month of surplus is never left out.
Only a fleet that somewhere uses more than it earns
needs the minute loop; the rest returns at once.

The search applies the model to each simulated fleet on a burstable machine:
``fleet_credits`` runs its month of credits, ``surplus_line`` bills the surplus
CPU (its catalog price), and ``fleet_prerequisites`` says what must be set for
the fleet to run as simulated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from mlcost.catalog import Catalog, instance_family, machine_spec
from mlcost.core import BillLine, Workload
from mlcost.plan._bill import month_factor
from mlcost.plan._fleet import FleetRun
from mlcost.plan._speeds import Speed

CreditMode = Literal["unlimited", "standard"]
CREDIT_MODES: tuple[CreditMode, ...] = ("unlimited", "standard")

# CPU a node's own daemons use (kubelet, kube-proxy, CNI, log and metrics agents), which
# counts against a burstable node's baseline: an assumption, below their requests.
DAEMON_VCPUS_USED = 0.1
# The balance holds at most this many hours of earnings (T3, T3a, T4g: 24).
ACCRUAL_HOURS = 24
_WARM_UP_MINUTES = 1440


@dataclass(frozen=True, slots=True)
class CreditRun:
    """A month of a burstable fleet's credits.

    ``surplus_vcpu_hours``: surplus credits charged (unlimited mode), in
    vCPU-hours. ``throttled``: per minute, whether the nodes were held to
    their baseline (standard mode). ``lowest_balance``: the lowest balance per
    node, in credits (negative: surplus in unlimited mode).
    """

    surplus_vcpu_hours: float
    throttled: npt.NDArray[np.bool_]
    lowest_balance: float

    @property
    def throttled_minutes(self) -> int:
        return int(np.count_nonzero(self.throttled))


def used_vcpus(
    arrivals_per_s: npt.NDArray[np.float64],
    nodes: npt.NDArray[np.int32],
    *,
    busy_vcpu_s_per_request: float,
) -> npt.NDArray[np.float64]:
    """vCPUs the fleet keeps busy each minute: the requests' CPU and every node's daemons."""
    return arrivals_per_s * busy_vcpu_s_per_request + nodes * DAEMON_VCPUS_USED


def credit_run(
    used: npt.NDArray[np.float64],
    nodes: npt.NDArray[np.int32],
    *,
    node_vcpus: int,
    baseline_share: float,
    mode: CreditMode,
) -> CreditRun:
    """The fleet's credits over the horizon, from the vCPUs it uses and the nodes it runs."""
    earn = baseline_share * node_vcpus  # credits per node per minute
    cap = earn * 60 * ACCRUAL_HOURS
    counts = np.maximum(nodes, 1)
    demand = used / counts
    no_throttle = np.zeros(used.size, dtype=bool)
    if not np.any(demand > earn):
        return CreditRun(0.0, no_throttle, 0.0)
    warm = min(_WARM_UP_MINUTES, used.size)
    state = _Balance(earn=earn, cap=cap, mode=mode, count=int(counts[0]))
    state.run(demand[:warm].tolist(), counts[:warm].tolist(), None)
    state.charged, state.lowest = 0.0, min(0.0, state.balance)
    owed_at_start = state.owed
    throttled = no_throttle.copy()
    state.run(demand.tolist(), counts.tolist(), throttled)
    charged = max(0.0, state.charged + state.owed - owed_at_start)
    return CreditRun(charged / 60.0, throttled, state.lowest)


class _Balance:
    """The balance of each cohort of nodes (oldest first) as the minutes pass, in credits."""

    def __init__(self, *, earn: float, cap: float, mode: CreditMode, count: int) -> None:
        self.earn, self.cap, self.is_unlimited = earn, cap, mode == "unlimited"
        self.cohorts: list[list[float]] = [[0.0, float(count)]]  # [balance, nodes]
        self.charged, self.lowest = 0.0, 0.0

    @property
    def balance(self) -> float:
        """The lowest balance of any node now."""
        return min(balance for balance, _ in self.cohorts)

    @property
    def owed(self) -> float:
        """Surplus credits the fleet owes now (unlimited mode)."""
        return sum(max(0.0, -balance) * count for balance, count in self.cohorts)

    def run(
        self, demand: list[float], counts: list[int], throttled: npt.NDArray[np.bool_] | None
    ) -> None:
        earn, cap, is_unlimited = self.earn, self.cap, self.is_unlimited
        cohorts, charged, lowest = self.cohorts, self.charged, self.lowest
        count = sum(nodes for _, nodes in cohorts)
        for minute, (wanted, nodes) in enumerate(zip(demand, counts, strict=True)):
            if nodes > count:
                cohorts.append([0.0, float(nodes - count)])  # new nodes join with no credit
            while nodes < count:  # the newest leave first, paying what they owe
                gone = min(cohorts[-1][1], count - nodes)
                charged += gone * max(0.0, -cohorts[-1][0])
                cohorts[-1][1] -= gone
                count -= gone
                if cohorts[-1][1] == 0.0:
                    cohorts.pop()
            count = nodes
            step = earn - wanted
            held = False
            for cohort in cohorts:
                balance = cohort[0] + step
                if balance > cap:
                    balance = cap
                elif balance < 0.0:
                    if is_unlimited:
                        if balance < -cap:
                            charged += (-cap - balance) * cohort[1]
                            balance = -cap
                    else:
                        balance, held = 0.0, True
                cohort[0] = balance
                if balance < lowest:
                    lowest = balance
            if held and throttled is not None:
                throttled[minute] = True
            if len(cohorts) > 1:
                cohorts[:] = _merged(cohorts)
        self.charged, self.lowest = charged, lowest


def _merged(cohorts: list[list[float]]) -> list[list[float]]:
    """Adjacent cohorts with equal balances as one."""
    merged = [cohorts[0]]
    for balance, count in cohorts[1:]:
        if balance == merged[-1][0]:
            merged[-1][1] += count
        else:
            merged.append([balance, count])
    return merged


def burstable_prerequisites(
    *,
    instance_type: str,
    mode: CreditMode,
    baseline_share: float,
    node_vcpus: int,
    pods_per_node: int,
    replica_vcpus: float,
    requests_per_replica_s: float,
    credits: CreditRun,
) -> tuple[str, ...]:
    """What a burstable fleet needs to run as planned: its credit mode and its HPA rule.

    The plan's HPA scales on the replicas' busy share, which is requests per
    second per replica; CPU utilisation would do only below the baseline: a
    node's pods may use ``baseline x vCPUs - daemons`` for ever, so a CPU
    target (of the pods' vCPUs) at most that share keeps the fleet inside it,
    at the price of more nodes than this bill.
    """
    per_pod = (baseline_share * node_vcpus - DAEMON_VCPUS_USED) / (pods_per_node * replica_vcpus)
    if mode == "unlimited":
        credit = (
            f"credit specification unlimited on {instance_type} (AWS's default): the bill "
            "counts its surplus CPU"
        )
    else:
        credit = (
            f"credit specification standard on {instance_type}: held to the baseline in "
            f"{credits.throttled_minutes:,} minutes of the simulated month, counted against the SLO"
        )
    hpa = (
        f"scale on requests per second, {requests_per_replica_s:,.1f} per replica, as simulated "
        "(an HPA on requests or in-flight requests; a VM group's target tracking on "
        "ALBRequestCountPerTarget); a CPU-utilisation target would have to stay at or below "
        f"{max(per_pod, 0.0):.0%} of the pod's vCPUs to keep the nodes inside their "
        f"{baseline_share:.0%} baseline, which needs more nodes than this bill"
    )
    return credit, hpa


_SURPLUS_ITEMS = {
    "t3": "t3-unlimited-surplus-vcpu-hour",
    "t3a": "t3-unlimited-surplus-vcpu-hour",
    "t4g": "t4g-unlimited-surplus-vcpu-hour",
}


def fleet_credits(
    speed: Speed, run: FleetRun, arrivals: npt.NDArray[np.float64], workload: Workload
) -> CreditRun | None:
    """The fleet's CPU credits over the horizon; None for a machine that is not burstable."""
    machine = machine_spec(speed.offer)
    if machine is None or not machine.is_burstable:
        return None
    nodes = run.on_demand_nodes + run.spot_nodes
    return credit_run(
        used_vcpus(
            arrivals, nodes, busy_vcpu_s_per_request=speed.service.mean_s * speed.replica.vcpus
        ),
        nodes,
        node_vcpus=speed.offer.vcpus,
        baseline_share=machine.baseline_share,
        mode=workload.platform.credit_mode,
    )


def fleet_prerequisites(
    speed: Speed, credits: CreditRun, workload: Workload, *, target_utilisation: float
) -> tuple[str, ...]:
    """What a burstable fleet of ``speed`` needs to run as simulated (``burstable_prerequisites``)."""
    machine = machine_spec(speed.offer)
    assert machine is not None
    return burstable_prerequisites(
        instance_type=speed.offer.instance_type,
        mode=workload.platform.credit_mode,
        baseline_share=machine.baseline_share,
        node_vcpus=speed.offer.vcpus,
        pods_per_node=speed.pods_per_node,
        replica_vcpus=speed.replica.vcpus,
        requests_per_replica_s=target_utilisation / speed.service.mean_s,
        credits=credits,
    )


def surplus_line(
    speed: Speed, credits: CreditRun, workload: Workload, catalog: Catalog
) -> BillLine:
    """The surplus-credit line of a burstable fleet ($0 in standard mode or within the baseline)."""
    offer = speed.offer
    machine = machine_spec(offer)
    assert machine is not None
    item = _SURPLUS_ITEMS.get(instance_family(offer.provider, offer.instance_type))
    price = catalog.prices.platform_price(offer.provider, item) if item else None
    hours = credits.surplus_vcpu_hours * month_factor(workload.horizon_days)
    usd_per_unit = price.usd if price is not None else 0.0
    mode = workload.platform.credit_mode
    note = (
        "credit balance simulated per minute: earned at the baseline, spent by requests and "
        "daemons; surplus beyond 24 h of earnings, or owed by a node removed, is charged"
        if mode == "unlimited"
        else f"standard credit mode: no surplus; held to the baseline in "
        f"{credits.throttled_minutes:,} minutes of the simulated month"
    )
    return BillLine(
        "compute",
        f"{offer.instance_type} {mode}-mode surplus CPU (baseline {machine.baseline_share:.0%} per vCPU)",
        hours,
        "vCPU-hour",
        usd_per_unit,
        hours * usd_per_unit,
        price.source if price is not None else "no surplus-credit price in the catalog",
        price.as_of if price is not None else None,
        note,
        pricing="surplus",
    )
