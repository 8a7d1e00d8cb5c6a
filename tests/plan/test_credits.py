"""The CPU credits of a burstable fleet, minute by minute (plan/_credits.py)."""

from __future__ import annotations

import numpy as np
import pytest

from mlcost.plan._credits import DAEMON_VCPUS_USED, credit_run, used_vcpus

DAYS = 3
MINUTES = DAYS * 1440
# Two t3.medium-like nodes: 2 vCPUs at a 20 % baseline each, 0.4 credits a minute per node.
NODES = np.full(MINUTES, 2, dtype=np.int32)
EARNED = 2 * 2 * 0.2


def _run(arrivals: np.ndarray, mode: str = "unlimited", nodes: np.ndarray = NODES):  # type: ignore[no-untyped-def]
    used = used_vcpus(arrivals, nodes, busy_vcpu_s_per_request=0.01)
    return credit_run(used, nodes, node_vcpus=2, baseline_share=0.2, mode=mode)  # type: ignore[arg-type]


def test_a_fleet_inside_its_baseline_owes_nothing_and_is_never_throttled() -> None:
    for mode in ("unlimited", "standard"):
        run = _run(np.full(MINUTES, 10.0), mode)  # 0.1 + 0.2 vCPU used of 0.8 earned
        assert run.surplus_vcpu_hours == 0.0
        assert run.throttled_minutes == 0


def test_unlimited_mode_bills_every_vcpu_minute_above_the_baseline() -> None:
    run = _run(np.full(MINUTES, 100.0))
    used = 100.0 * 0.01 + 2 * DAEMON_VCPUS_USED
    # On accrual: what the month used above what it earned, whether charged or still owed.
    assert run.surplus_vcpu_hours == pytest.approx((used - EARNED) * MINUTES / 60)
    assert run.throttled_minutes == 0  # unlimited never throttles
    assert run.lowest_balance == pytest.approx(-0.4 * 1440)  # owes at most 24 h of earnings


def test_a_busy_day_paid_back_by_quiet_nights_owes_nothing() -> None:
    minute = np.arange(MINUTES) % 1440
    day = np.where(minute < 480, 60.0, 0.0)  # 8 busy hours, then 16 quiet ones
    run = _run(day)
    assert run.surplus_vcpu_hours == pytest.approx(0.0, abs=1e-9)


def test_standard_mode_throttles_once_the_balance_is_spent() -> None:
    minute = np.arange(MINUTES) % 1440
    burst = np.where(minute < 600, 300.0, 0.0)  # 10 hours a day at 4x the baseline
    run = _run(burst, "standard")
    assert run.surplus_vcpu_hours == 0.0
    # Credits from the quiet 14 hours (capped at 24 h of earnings) last part of the burst;
    # the rest of each burst is held to the baseline.
    assert 0 < run.throttled_minutes < DAYS * 600
    throttled = run.throttled.reshape(DAYS, 1440)
    assert not throttled[:, 600:].any()  # never when the node wants less than it earns
    # Unlimited runs the same month at full speed and bills it instead.
    assert _run(burst).throttled_minutes == 0


def test_new_nodes_start_with_no_credit() -> None:
    # One node all day, quiet; a second node joins for a busy hour it cannot pay for.
    nodes = np.ones(MINUTES, dtype=np.int32)
    arrivals = np.zeros(MINUTES)
    hour = slice(1440 + 600, 1440 + 660)
    nodes[hour] = 2
    arrivals[hour] = 100.0  # 1.2 vCPU over 2 nodes: 0.6 each, 0.2 above the baseline
    run = _run(arrivals, "standard", nodes)
    assert run.throttled_minutes > 0  # the newcomer halves the mean balance at once
    steady = _run(arrivals, "standard", np.full(MINUTES, 2, dtype=np.int32))
    assert steady.throttled_minutes == 0  # two long-running nodes had banked enough
