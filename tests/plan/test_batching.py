"""The batching replica's latency model: its simulation against a plain one, and its use."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from mlcost.core import PlanError
from mlcost.plan._batching import BatchService, simulate_batching
from mlcost.plan._queueing import latency_ms_percentile, max_arrivals_per_s, share_over_slo
from mlcost.plan._service_time import ServiceTime

# int8-dynamic on a 2-vCPU EPYC: 4.2 ms at batch 1; 8 rows in 16 ms, 32 in 57 ms.
JITTER = ServiceTime.from_percentiles(4.0, 6.0, mean_ms=4.2)
CURVE = {1: 238.0, 8: 500.0, 32: 560.0}


def _service(cap: int = 16, delay_ms: float = 5.0) -> BatchService:
    return BatchService.from_curve(JITTER, CURVE, max_batch_size=cap, max_queue_delay_ms=delay_ms)


def _plain_batcher_ms(
    arrivals: list[float], jitter: list[float], service: BatchService
) -> list[float]:
    """The batcher's rule written request by request, without vectors: the reference."""
    ends = [0.0] * len(arrivals)
    free_at, head, k = 0.0, 0, 0
    cap, delay = service.max_batch_size, service.max_queue_delay_s
    while head < len(arrivals):
        oldest = arrivals[head]
        fill = arrivals[head + cap - 1] if head + cap - 1 < len(arrivals) else math.inf
        start = max(free_at, min(oldest + delay, fill))
        size = 0
        while head + size < len(arrivals) and size < cap and arrivals[head + size] <= start:
            size += 1
        end = start + max(service.batch_s[size] + jitter[k], 0.0)
        for i in range(head, head + size):
            ends[i] = end
        free_at, head, k = end, head + size, k + 1
    return [(e - a) * 1000.0 for e, a in zip(ends, arrivals, strict=True)]


def test_curve_is_the_profile_between_its_sizes_and_its_per_row_time_beyond() -> None:
    service = _service(cap=40)
    assert service.batch_s[1] == pytest.approx(JITTER.mean_s)
    assert service.batch_s[8] == pytest.approx(8 / 500.0)
    assert service.batch_s[32] == pytest.approx(32 / 560.0)
    assert service.batch_s[20] == pytest.approx((8 / 500.0 + 32 / 560.0) / 2)
    assert service.batch_s[40] == pytest.approx(32 / 560.0 * 40 / 32)
    assert service.capacity_per_s == pytest.approx(560.0)
    # Never faster for more rows, even where a measurement says so.
    odd = BatchService.from_curve(
        JITTER, {8: 100.0, 32: 3000.0}, max_batch_size=32, max_queue_delay_ms=1
    )
    assert all(a <= b for a, b in itertools.pairwise(odd.batch_s[1:]))


def test_simulation_runs_the_batchers_rule_exactly() -> None:
    service = _service()
    rate = 300.0
    got = simulate_batching([rate], service, runs=1, requests_per_run=400, seed=7)[0]
    # The same draws, in the same order, as simulate_batching makes them.
    rng = np.random.default_rng(7)
    gaps = rng.exponential(1.0, size=(1, 400))
    jitter = service.jitter.sample_s(rng, 400) - service.jitter.mean_s
    arrivals = (np.cumsum(gaps[0]) / rate).tolist()
    want = _plain_batcher_ms(arrivals, jitter.tolist(), service)[40:]
    np.testing.assert_allclose(got, want, rtol=1e-9)


def test_batch_of_one_is_the_m_g_1_queue() -> None:
    service = _service(cap=1, delay_ms=5.0)  # a cap of 1 never waits for company
    rate = 0.6 / JITTER.mean_s
    simulated = simulate_batching([rate], service, runs=8, requests_per_run=6000)[0]
    model = latency_ms_percentile(rate, 1, JITTER, 99.0, balancing="random")
    assert np.percentile(simulated, 99) == pytest.approx(float(model), rel=0.06)


def test_light_load_pays_the_delay_and_heavy_load_batches() -> None:
    service = _service()
    light = float(latency_ms_percentile(1.0, 1, service, 50.0))
    assert light == pytest.approx(5.0 + 4.2, rel=0.05)  # waits the delay, runs alone
    # At batch 1 this replica saturates at 238/s; batching takes far more within 50 ms.
    most = float(max_arrivals_per_s(1, service, slo_ms=50.0, percentile=99.0))
    assert 400.0 < most < 0.97 * service.capacity_per_s
    assert float(latency_ms_percentile(most, 1, service, 99.0)) == pytest.approx(50.0, rel=0.02)
    # Replicas each take their share: the fleet's rate is c times one's.
    assert float(max_arrivals_per_s(3, service, slo_ms=50.0, percentile=99.0)) == pytest.approx(
        3 * most
    )
    # Near saturation the table ends: the queue is taken as unstable past 97 % of capacity.
    assert float(max_arrivals_per_s(1, service, slo_ms=1e4, percentile=99.0)) == pytest.approx(
        0.97 * service.capacity_per_s
    )


def test_percentile_and_share_grow_with_the_load_and_saturate() -> None:
    service = _service()
    rates = np.linspace(1.0, 600.0, 50)
    p99 = latency_ms_percentile(rates, np.ones(50), service, 99.0)
    finite = p99[np.isfinite(p99)]
    assert np.all(np.diff(finite) >= -1e-9)
    assert math.isinf(p99[-1])  # past the full-batch capacity (560/s)
    share = share_over_slo(rates, np.ones(50), service, 30.0)
    assert share[0] == 0.0 and share[-1] == 1.0
    assert np.all(np.diff(share) >= -0.01)
    # No replica: unstable when requests come, nothing when none do.
    assert math.isinf(float(latency_ms_percentile(5.0, 0, service, 99.0)))
    assert float(share_over_slo(0.0, 0, service, 30.0)) < 1.0


def test_bad_settings_are_refused() -> None:
    with pytest.raises(PlanError, match="max_batch_size"):
        BatchService.from_curve(JITTER, CURVE, max_batch_size=0, max_queue_delay_ms=5)
    with pytest.raises(PlanError, match="throughput_by_batch"):
        BatchService.from_curve(JITTER, {8: 0.0}, max_batch_size=8, max_queue_delay_ms=5)
    with pytest.raises(PlanError, match="positive"):
        simulate_batching([0.0], _service())
