"""The discrete-event simulation of c FCFS replicas that the latency model is checked against.

``simulate_queue`` draws Poisson arrivals and service times
(``ServiceTime.sample_s``) and runs every request through the replicas as
the load balancer (``Balancing``) routes it: one first-come-first-served
queue shared by the fleet for "least-outstanding" (each arrival takes the
replica that frees first: a heap of free times, the Kiefer-Wolfowitz
recursion), or a queue per replica for "random" and "round-robin" (the
Lindley recursion, run as a cumulative minimum). It approximates nothing
the model does, short of its finite run (the queues start empty, so a
warm-up is dropped): the accuracy figures quoted in ``_queueing.py`` and
``_round_robin.py`` are against it, and ``bench/plan_queueing.py`` prints
each model against it over a grid.
"""

from __future__ import annotations

import heapq
import math

import numpy as np
import numpy.typing as npt

from mlcost.core import PlanError
from mlcost.plan._queueing import Balancing, _check_balancing
from mlcost.plan._service_time import _MS_PER_S, ServiceTime

FloatArray = npt.NDArray[np.float64]


def simulate_queue(
    rate_per_s: float,
    servers: int,
    service: ServiceTime,
    *,
    duration_s: float,
    seed: int,
    warmup_s: float | None = None,
    balancing: Balancing = "least-outstanding",
) -> FloatArray:
    """Return the response times, ms, of a discrete-event simulation of c FCFS replicas.

    Poisson arrivals at ``rate_per_s`` for ``duration_s`` seconds, service
    times from ``service.sample_s``, ``servers`` identical replicas each
    serving one request at a time. With "least-outstanding" balancing the
    fleet is one first-come-first-served queue: each arrival takes the
    replica that frees first (a heap of free times, the Kiefer-Wolfowitz
    recursion; about a million requests a second). Otherwise each replica
    keeps its own FCFS queue, fed by a replica drawn uniformly per arrival
    ("random") or by arrival i going to replica i mod c ("round-robin"),
    and each queue is the Lindley recursion run as a cumulative minimum
    (tens of millions a second). Requests arriving before ``warmup_s``
    (default: a tenth of the run) are dropped, since the queues start
    empty. Deterministic for a given ``seed``; the arrivals and service
    times drawn do not depend on the balancing.

    Raises PlanError on a non-positive rate, duration or server count, or
    an unknown balancing.
    """
    if not (rate_per_s > 0.0 and duration_s > 0.0 and servers >= 1):
        raise PlanError(
            f"simulate_queue needs a positive rate, duration and server count, got "
            f"rate_per_s={rate_per_s}, duration_s={duration_s}, servers={servers}"
        )
    _check_balancing(balancing)
    warmup = 0.1 * duration_s if warmup_s is None else warmup_s
    rng = np.random.default_rng(seed)
    expected = rate_per_s * duration_s
    gap_count = int(expected + 6.0 * math.sqrt(expected) + 16.0)
    arrivals = np.cumsum(rng.exponential(1.0 / rate_per_s, size=gap_count))
    while arrivals[-1] < duration_s:  # six standard deviations short: draw more
        more = np.cumsum(rng.exponential(1.0 / rate_per_s, size=gap_count))
        arrivals = np.concatenate([arrivals, arrivals[-1] + more])
    arrivals = arrivals[arrivals < duration_s]
    services = service.sample_s(rng, arrivals.size)
    if balancing == "least-outstanding":
        waits_s = _shared_queue_waits_s(arrivals, services, servers)
    else:
        # Drawn after the arrivals and services, so those are the same for every balancing.
        replica = (
            rng.integers(servers, size=arrivals.size)
            if balancing == "random"
            else np.arange(arrivals.size) % servers
        )
        waits_s = _replica_queue_waits_s(arrivals, services, replica, servers)
    response_s = waits_s + services
    return np.asarray(response_s[arrivals >= warmup] * _MS_PER_S, dtype=np.float64)


def _shared_queue_waits_s(arrivals: FloatArray, services: FloatArray, servers: int) -> FloatArray:
    """Return each request's wait in one FCFS queue served by ``servers`` replicas."""
    free_at = [0.0] * servers
    starts: list[float] = []
    for arrival, work in zip(arrivals.tolist(), services.tolist(), strict=True):
        start = arrival if arrival > free_at[0] else free_at[0]
        heapq.heapreplace(free_at, start + work)
        starts.append(start)
    return np.asarray(starts, dtype=np.float64) - arrivals


def _replica_queue_waits_s(
    arrivals: FloatArray, services: FloatArray, replica: npt.NDArray[np.int64], servers: int
) -> FloatArray:
    """Return each request's wait in the FCFS queue of its own ``replica``.

    At one server the Lindley recursion ``W' = max(0, W + S - A)`` unrolls
    to ``W_n = P_n - min(P_0..P_n)``, P_n the sum of the first n ``S - A``
    and P_0 = 0, so each queue is a cumulative sum and a cumulative minimum.
    """
    order = np.argsort(replica, kind="stable")  # each replica's requests, in arrival order
    ends = np.cumsum(np.bincount(replica, minlength=servers))
    waits = np.empty(arrivals.shape)
    start = 0
    for end in ends.tolist():
        mine = order[start:end]
        if mine.size:
            own_arrivals, own_services = arrivals[mine], services[mine]
            drift = np.zeros(mine.size)
            np.cumsum(own_services[:-1] - np.diff(own_arrivals), out=drift[1:])
            waits[mine] = drift - np.minimum.accumulate(drift)
        start = end
    return waits
