"""Per-minute request latency of c replicas under Poisson traffic.

The planner replays a month minute by minute (43,200 minutes) for thousands of
candidate configurations, so the latency of a minute must be a few vectorized
numpy operations. Each minute is taken as a queue in steady state: Poisson
arrivals at ``arrivals_per_s``, ``servers`` replicas each serving one request
at a time (batch 1), first come first served, and a service time S fitted to
the profiler's batch-1 percentiles (``ServiceTime``, ``_service_time.py``).
Where requests wait depends on the load balancer (``Balancing``): a
least-outstanding-requests balancer sends each request to an idle replica
whenever there is one, which is close to one queue shared by the fleet, an
M/G/c queue; behind a random pick (kube-proxy in iptables mode) or
round-robin each replica keeps its own queue, and a request can wait behind
a busy replica while another is idle.

The shared queue ("least-outstanding"), with a = lambda E[S] the offered
load and rho = a / c:

- P(W > 0), the share of requests that wait: Erlang C, from the Erlang B
  recursion in its reciprocal form ``1/B(k) = 1 + (k/a) / B(k-1)``, stable
  for hundreds of servers (Jagerman 1974, "Some properties of the Erlang loss
  function", Bell System Technical Journal 53(3):525-551);
- the tail of the wait: the Cramer-Lundberg asymptote ``K e^(-x t)`` of the
  M/G/1 queue (Asmussen 2003, "Applied Probability and Queues", 2nd ed.;
  Abate, Choudhury and Whitt 1995, "Exponential approximations for tail
  probabilities in queues, I: Waiting times", Operations Research
  43(5):885-901), taken for the single server c times faster, the
  multi-server queue's heavy-traffic equivalent (Kollerstrom 1974, "Heavy
  traffic theory for queues with several servers. I", Journal of Applied
  Probability 11(3):544-552), and scaled by Erlang C over rho:
  ``P(W > t) = min(C, C (K / rho) e^(-c x t))``. For exponential service this
  is the exact M/M/c law ``C e^(-(c mu - lambda) t)``; for c = 1 it is the
  exact M/G/1 P(W > 0) and tail; in heavy traffic the rate tends to the
  Allen-Cunneen/Kingman one, ``2 (c mu - lambda) / (1 + cs2)`` (Allen 1990,
  "Probability, Statistics, and Queueing Theory", 2nd ed.; Whitt 1993,
  "Approximations for the GI/G/m queue", Production and Operations
  Management 2(2):114-161). That rate alone, with Erlang C as the tail mass,
  put the p99 18 % too high at c = 1, rho = 0.3 for real-model latencies
  (p99/p50 = 1.3) against ``simulate_queue``. This form is within 5 % of it
  on c in {1, 2, 4, 8}, rho in {0.3, 0.6, 0.85}; its worst gap seen, for
  p99/p50 = 1.3 with 2 to 4 replicas at rho 0.15 to 0.45, is about 9 % low (a
  waiting request there waits for the first of c requests in service to
  finish, which for near-constant service is longer than the fast server's
  residual);
- the response time ``T = W + S``, W independent of S under FCFS: a
  closed-form survival function, inverted by safeguarded Newton steps to a
  relative 1e-10 (``_service_time.py``).

A queue per replica, each with one server, so the same exponential wait
tail ``min(P(W > 0), K e^(-eta t))`` and the same ``W + S`` inversion:

- "random": Poisson traffic split at random is Poisson at lambda / c into
  each replica (thinning), so each replica is the M/G/1 queue above with one
  server at rate lambda / c: exact P(W > 0) = rho and the exact
  Cramer-Lundberg tail. Its latency depends on rho alone, so
  ``max_arrivals_per_s`` is c times the one-replica figure. At rho = 0.6
  the p99 is 1.75 (c = 2) to 2.5 (c = 10) times the shared queue's for
  exponential service, and 1.8 to 4.1 times for near-constant service,
  whose shared queue hardly waits;
- "round-robin": each replica sees every c-th arrival, Erlang(c) gaps with
  squared coefficient of variation 1 / c: the E_c/G/1 queue, solved exactly
  and tabulated per service time and replica count up to 64, the 64-replica
  table serving larger fleets (``_round_robin.py``: the method, its sources
  and its accuracy). For near-constant service it comes within 8 % of the
  shared queue (evenly spaced arrivals rarely find their replica busy); for
  exponential service at rho 0.6 to 0.85 its p99 lies a third to a half of
  the way from the shared to the random one.

``bench/plan_queueing.py`` prints each model against ``simulate_queue``
(``_queue_simulation.py``) over a grid. A replica that batches (a
``BatchService``, ``_batching.py``) is its own queue whatever the balancing,
fed lambda / c, and read from its simulated table; every function here takes
either. Not modelled: cold starts, the transient
between minutes (each minute is its own steady state), and the difference
between a least-outstanding balancer and a truly shared queue (the balancer
commits a request to a replica; with every replica busy it can land behind
a long one).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
import numpy.typing as npt

from mlcost.core import PlanError
from mlcost.plan._batching import (
    BatchService,
    batching_max_per_s,
    batching_percentile_ms,
    batching_share_over_ms,
)
from mlcost.plan._round_robin import (
    _ROUND_ROBIN_MAX_SERVERS,
    _ROUND_ROBIN_RHO_STEPS,
    _round_robin_table,
)
from mlcost.plan._service_time import (
    _BISECTION_STEPS,
    _MS_PER_S,
    ServiceTime,
    _mgf_minus_one,
    _mgf_slope,
    _response_tail,
    _solve_tail_s,
    _tail_share,
    _Wait,
)

FloatArray = npt.NDArray[np.float64]

# How the load balancer picks a replica: at random (kube-proxy in iptables mode), in turn
# (round-robin), or the one with the fewest requests in flight (modelled as one shared queue).
Balancing = Literal["random", "round-robin", "least-outstanding"]
_BALANCINGS: tuple[Balancing, ...] = get_args(Balancing)

# Up to this many servers, Erlang B steps every minute to the largest count (no sort).
_FEW_SERVERS = 16
# Bisection steps on rho for the largest rate meeting an SLO (2^-30 ~ 1e-9: far below any noise).
_RATE_BISECTION_STEPS = 30
# The wait-tail table is solved at rho = k / _RHO_STEPS and read by linear interpolation.
_RHO_STEPS = 1024


@dataclass(frozen=True, slots=True)
class SloViolations:
    """How a run of minutes fares against a latency SLO; request counts are expectations."""

    minutes: int
    minutes_over_slo: int
    requests: float
    requests_in_minutes_over_slo: float
    requests_over_slo: float

    @property
    def share_of_requests_over_slo(self) -> float:
        """Share of all requests slower than the SLO (0.004 = 0.4 %); 0 when there were none."""
        return self.requests_over_slo / self.requests if self.requests > 0.0 else 0.0


def erlang_c(offered_load: npt.ArrayLike, servers: npt.ArrayLike) -> FloatArray:
    """Return the Erlang C probability that a request waits, elementwise (1 where a >= c).

    ``offered_load`` is a = lambda / mu in erlangs, ``servers`` is c; they
    broadcast. Erlang B comes from the recursion
    ``B(k) = a B(k-1) / (k + a B(k-1))``, B(0) = 1, run in reciprocal form,
    then ``C = c B / (c - a (1 - B))`` (Jagerman 1974). Each element costs c
    steps. Where a >= c the queue is unstable and C is 1.
    """
    load, count = np.broadcast_arrays(
        np.asarray(offered_load, dtype=np.float64), np.asarray(servers, dtype=np.int64)
    )
    load_flat, count_flat = load.ravel(), count.ravel()
    blocking = _erlang_b(load_flat, count_flat)
    waiting = np.ones(load_flat.shape)
    denominator = count_flat - load_flat * (1.0 - blocking)
    np.divide(count_flat * blocking, denominator, out=waiting, where=load_flat < count_flat)
    return waiting.reshape(load.shape)


def utilisation(
    arrivals_per_s: npt.ArrayLike, servers: npt.ArrayLike, service: ServiceTime | BatchService
) -> FloatArray:
    """Return lambda E[S] / c per minute, the busy share of each replica (>= 1: unstable).

    A minute with no servers has utilisation +inf when requests arrive and 0
    when none do.

    Raises PlanError on negative or non-finite arrivals, or negative or
    fractional server counts.
    """
    rate, count = _check_inputs(arrivals_per_s, servers)
    return _utilisation(rate, count, service)


def latency_ms_percentile(
    arrivals_per_s: npt.ArrayLike,
    servers: npt.ArrayLike,
    service: ServiceTime | BatchService,
    percentile: float,
    *,
    balancing: Balancing = "least-outstanding",
) -> FloatArray:
    """Return each minute's response-time percentile (wait + service), ms; +inf when unstable.

    The model of the module docstring for ``balancing``: the share that
    waits, the exponential tail of how long, and the percentile of
    ``W + S`` from its closed-form survival function. With
    "least-outstanding" the fleet is one M/G/c queue (Erlang C and the
    Cramer-Lundberg tail of the c-times-faster M/G/1 queue); with "random"
    each replica is an M/G/1 queue fed ``arrivals_per_s / servers``; with
    "round-robin" an E_c/G/1 queue. ``arrivals_per_s`` and ``servers``
    broadcast against each other. Minutes with utilisation >= 1 return +inf
    (the queue grows without bound); a minute with no arrivals returns the
    service-time percentile (what one request would see).

    Raises PlanError on negative or non-finite arrivals, negative or
    fractional server counts, a percentile outside (0, 100), or an unknown
    balancing.
    """
    alpha = _tail_share(percentile)
    _check_balancing(balancing)
    rate, count = _check_inputs(arrivals_per_s, servers)
    if isinstance(service, BatchService):
        latency = np.full(rate.shape, np.inf)  # requests and no replica: unstable
        served, per_replica = _per_replica(rate, count)
        latency[served] = batching_percentile_ms(per_replica, service, percentile)
        return latency
    rho = _utilisation(rate, count, service)
    stable = rho < 1.0
    wait = _balanced_wait_law(rate[stable], count[stable], service, balancing)
    latency = np.full(rho.shape, np.inf)
    latency[stable] = (service.shift_s + _solve_tail_s(wait, service, alpha)) * _MS_PER_S
    return latency


def share_over_slo(
    arrivals_per_s: npt.ArrayLike,
    servers: npt.ArrayLike,
    service: ServiceTime | BatchService,
    slo_ms: float,
    *,
    balancing: Balancing = "least-outstanding",
) -> FloatArray:
    """Return each minute's expected share of requests slower than ``slo_ms``, P(W + S > slo).

    Same model as ``latency_ms_percentile`` for ``balancing``; unstable
    minutes give 1. Multiplied by a minute's request count it is the
    requests over the SLO.

    Raises PlanError as ``latency_ms_percentile`` does, or when ``slo_ms``
    is not a positive number.
    """
    if not (slo_ms > 0.0 and math.isfinite(slo_ms)):
        raise PlanError(
            f"slo_ms must be a positive number of milliseconds, got {slo_ms}; check the SLO"
        )
    _check_balancing(balancing)
    rate, count = _check_inputs(arrivals_per_s, servers)
    if isinstance(service, BatchService):
        share = np.ones(rate.shape)  # requests and no replica: all over the SLO
        served, per_replica = _per_replica(rate, count)
        share[served] = batching_share_over_ms(per_replica, service, slo_ms)
        return share
    rho = _utilisation(rate, count, service)
    stable = rho < 1.0
    wait = _balanced_wait_law(rate[stable], count[stable], service, balancing)
    tail_s = slo_ms / _MS_PER_S - service.shift_s
    share = np.ones(rho.shape)
    if tail_s > 0.0:
        share[stable], _ = _response_tail(np.full(wait.prob.shape, tail_s), wait, service)
    return share


def max_arrivals_per_s(
    servers: npt.ArrayLike,
    service: ServiceTime | BatchService,
    *,
    slo_ms: float,
    percentile: float,
    balancing: Balancing = "least-outstanding",
) -> FloatArray:
    """Return, for each server count, the largest arrival rate whose percentile latency <= slo_ms.

    The inverse of ``latency_ms_percentile`` in the rate: a minute with c
    replicas meets the SLO iff its arrivals per second are at most
    ``max_arrivals_per_s(c)``, so a month is screened by one lookup per
    minute. The percentile response time is at most the SLO iff
    ``P(T > slo) <= 1 - percentile / 100`` (the survival function is
    decreasing), and ``P(T > slo)`` grows with the rate, so a bisection on
    the utilisation rho in (0, 1), all server counts at once, finds the
    boundary; the returned rate lies on the meeting side, within a relative
    1e-9 of it (30 halvings of the utilisation). With "random" balancing
    each replica is the same M/G/1 queue whatever c, so the answer is
    exactly c times the one-server figure. 0 where an idle replica already
    misses the SLO (the service-time percentile alone exceeds it) and for 0
    servers. Same shape as ``servers``.

    Raises PlanError on negative or fractional server counts, a percentile
    outside (0, 100), an SLO that is not a positive number, or an unknown
    balancing.
    """
    alpha = _tail_share(percentile)
    if not (slo_ms > 0.0 and math.isfinite(slo_ms)):
        raise PlanError(
            f"slo_ms must be a positive number of milliseconds, got {slo_ms}; check the SLO"
        )
    _check_balancing(balancing)
    _, count = _check_inputs(0.0, servers)
    if isinstance(service, BatchService):
        per_replica = batching_max_per_s(service, slo_ms=slo_ms, percentile=percentile)
        return np.asarray(count * per_replica, dtype=np.float64)
    distinct, position = np.unique(count, return_inverse=True)
    tail_s = slo_ms / _MS_PER_S - service.shift_s
    best = np.zeros(distinct.shape)
    if tail_s > 0.0 and service.quantile_ms(percentile) <= slo_ms:
        counts = distinct[distinct > 0.0]
        if balancing == "random":
            one = _bisect_max_rho(np.ones(1), service, tail_s, alpha, "least-outstanding")
            best[distinct > 0.0] = counts * (one / service.mean_s)
        else:
            rho = _bisect_max_rho(counts, service, tail_s, alpha, balancing)
            best[distinct > 0.0] = rho * (counts / service.mean_s)
    return best[position].reshape(count.shape)


def violations(
    arrivals_per_s: npt.ArrayLike,
    servers: npt.ArrayLike,
    service: ServiceTime | BatchService,
    *,
    slo_ms: float,
    percentile: float,
    minute_s: float = 60.0,
    balancing: Balancing = "least-outstanding",
) -> SloViolations:
    """Return the minutes whose latency percentile exceeds ``slo_ms``, and the requests involved.

    A minute is over the SLO when its ``percentile`` response time exceeds
    ``slo_ms``, i.e. when more than ``100 - percentile`` % of its requests
    are slower than the SLO (unstable minutes always are). Request counts
    are expectations: ``arrivals_per_s * minute_s`` per minute, and
    ``P(T > slo)`` times that for the requests slower than the SLO. Same
    model as ``share_over_slo`` for ``balancing``.

    Raises PlanError as ``share_over_slo`` does.
    """
    alpha = _tail_share(percentile)
    share = share_over_slo(arrivals_per_s, servers, service, slo_ms, balancing=balancing)
    rate = np.broadcast_to(np.asarray(arrivals_per_s, dtype=np.float64), share.shape)
    requests = rate * minute_s
    is_over = share > alpha
    return SloViolations(
        minutes=int(share.size),
        minutes_over_slo=int(np.count_nonzero(is_over)),
        requests=float(requests.sum()),
        requests_in_minutes_over_slo=float(requests[is_over].sum()),
        requests_over_slo=float((share * requests).sum()),
    )


def _check_balancing(balancing: str) -> None:
    """Raise PlanError unless ``balancing`` is one of ``Balancing``'s names."""
    if balancing not in _BALANCINGS:
        raise PlanError(
            f"unknown balancing {balancing!r}: choose 'random', 'round-robin' or "
            "'least-outstanding', after how the load balancer picks a replica"
        )


def _check_inputs(
    arrivals_per_s: npt.ArrayLike, servers: npt.ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """Return arrivals and server counts as broadcast float arrays, or raise PlanError."""
    rate = np.asarray(arrivals_per_s, dtype=np.float64)
    count = np.asarray(servers, dtype=np.float64)
    if not np.all(np.isfinite(rate) & (rate >= 0.0)):
        raise PlanError(
            "arrivals_per_s must be finite and >= 0 in every minute; check the traffic series"
        )
    if not np.all((count >= 0.0) & (count == np.floor(count)) & (count < 2**31)):
        raise PlanError(
            "servers must be whole numbers >= 0 in every minute; round the replica counts"
        )
    rate_b, count_b = np.broadcast_arrays(rate, count)
    return np.array(rate_b, dtype=np.float64), np.array(count_b, dtype=np.float64)


def _per_replica(rate: FloatArray, count: FloatArray) -> tuple[npt.NDArray[np.bool_], FloatArray]:
    """The minutes a batching fleet serves (a replica, or no traffic), and each one's arrivals
    per replica there: every batching replica is its own queue at rate / c."""
    served = (count > 0.0) | (rate == 0.0)
    return served, rate[served] / np.maximum(count[served], 1.0)


def _utilisation(
    rate: FloatArray, count: FloatArray, service: ServiceTime | BatchService
) -> FloatArray:
    """Return lambda E[S] / c, with 0 / 0 = 0 and x / 0 = inf."""
    load = rate * service.mean_s
    rho = np.full(load.shape, np.inf)
    np.divide(load, count, out=rho, where=count > 0.0)
    rho[load == 0.0] = 0.0
    return rho


def _erlang_b(load: FloatArray, count: npt.NDArray[np.int64]) -> FloatArray:
    """Return Erlang B for each element, by the recursion run to k = c in reciprocal form.

    ``1/B(k) = 1 + (k/a) / B(k-1)`` is ``B(k) = a B(k-1) / (k + a B(k-1))``
    inverted: a sum of positive terms, so nothing cancels, and no division
    per step. An overflow to inf means B below 1e-308 and returns 0.
    """
    per_load = np.full(load.shape, np.inf)
    np.divide(1.0, load, out=per_load, where=load > 0.0)
    top = int(count.max(initial=0))
    with np.errstate(over="ignore", invalid="ignore"):
        if top <= _FEW_SERVERS:
            # Every element steps to ``top`` and keeps its value from step c.
            inverse = np.ones(load.shape)
            for k in range(1, top + 1):
                inverse = np.where(count >= k, 1.0 + (k * per_load) * inverse, inverse)
            return np.asarray(1.0 / inverse, dtype=np.float64)
        # Sorted by c descending, the elements still stepping at k are a prefix, so the
        # work is sum(c) rather than max(c) * n. int32 keys sort by radix.
        order = np.argsort(-count.astype(np.int32), kind="stable")
        per_load_sorted = per_load[order]
        active = np.searchsorted(-count[order], -np.arange(1, top + 1), side="right")
        inverse_sorted = np.ones(load.shape)
        for k in range(1, top + 1):
            n = int(active[k - 1])
            inverse_sorted[:n] = 1.0 + (k * per_load_sorted[:n]) * inverse_sorted[:n]
    blocking = np.empty(load.shape)
    blocking[order] = 1.0 / inverse_sorted
    return blocking


def _balanced_wait_law(
    rate: FloatArray, count: FloatArray, service: ServiceTime, balancing: Balancing
) -> _Wait:
    """Return the wait of each stable minute for ``balancing`` (see the module docstring)."""
    if balancing == "least-outstanding":
        return _wait_law(rate, count, service)
    if balancing == "random":
        # Poisson traffic split at random is Poisson at rate / c into each replica.
        per_replica = np.zeros(rate.shape)
        np.divide(rate, count, out=per_replica, where=count > 0.0)
        return _wait_law(per_replica, np.minimum(count, 1.0), service)
    return _round_robin_wait_law(rate, count, service)


def _bisect_max_rho(
    counts: FloatArray, service: ServiceTime, tail_s: float, alpha: float, balancing: Balancing
) -> FloatArray:
    """Return the largest utilisation (to 2^-30) with P(W + X > tail_s) <= alpha, per count."""
    to_rate = counts / service.mean_s
    low, high = np.zeros(counts.shape), np.ones(counts.shape)
    for _ in range(_RATE_BISECTION_STEPS):
        middle = 0.5 * (low + high)
        wait = _balanced_wait_law(middle * to_rate, counts, service, balancing)
        share, _ = _response_tail(np.full(counts.shape, tail_s), wait, service)
        is_met = share <= alpha
        low = np.where(is_met, middle, low)
        high = np.where(is_met, high, middle)
    return low


def _wait_law(rate: FloatArray, count: FloatArray, service: ServiceTime) -> _Wait:
    """Return the wait of each stable minute: P(W > t) = min(C, C (K / rho) e^(-c x t)).

    C is Erlang C; x(rho) and K(rho) / rho come from the service time's table
    (``_decay_table``). Where the asymptote exceeds C near t = 0 it is cut
    to C, which is a delay before the exponential tail starts. Minutes with
    no arrivals have no wait.
    """
    load = rate * service.mean_s
    rho = np.zeros(rate.shape)
    np.divide(load, count, out=rho, where=count > 0.0)
    decay_per_s, mass_ratio = _decay_table(service)
    # Linear interpolation on the uniform grid (np.interp's search is slower here).
    position = rho * _RHO_STEPS
    index = np.minimum(position.astype(np.int64), _RHO_STEPS - 1)
    weight = position - index
    wait_rate = np.maximum(count, 1.0) * _lerp(decay_per_s, index, weight)
    delay_prob = np.where(rate > 0.0, erlang_c(load, count.astype(np.int64)), 0.0)
    tail_mass = delay_prob * _lerp(mass_ratio, index, weight)
    return _cut_tail(delay_prob, tail_mass, wait_rate)


def _cut_tail(delay_prob: FloatArray, tail_mass: FloatArray, rate_per_s: FloatArray) -> _Wait:
    """Return the wait with P(W > t) = min(P(W > 0), K e^(-rate t)), K = ``tail_mass``.

    Where the asymptote exceeds P(W > 0) near t = 0 the cut is a delay
    before the exponential starts; where it lies below, P(W > 0) is taken
    as K (the tail is what the percentiles read).
    """
    wait_prob = np.minimum(delay_prob, tail_mass)
    has_delay = (tail_mass > wait_prob) & (wait_prob > 0.0)  # nobody waits: no delay either
    with np.errstate(divide="ignore", invalid="ignore"):
        delay_s = np.where(has_delay, np.log(tail_mass / wait_prob) / rate_per_s, 0.0)
    return _Wait(wait_prob, delay_s, rate_per_s)


def _lerp(table: FloatArray, index: npt.NDArray[np.int64], weight: FloatArray) -> FloatArray:
    """Return table[index] + weight * (table[index + 1] - table[index])."""
    low = table[index]
    return np.asarray(low + weight * (table[index + 1] - low), dtype=np.float64)


@functools.lru_cache(maxsize=64)
def _decay_table(service: ServiceTime) -> tuple[FloatArray, FloatArray]:
    """Return x(rho) per s and K(rho) / rho at rho = k / 1024: the M/G/1 wait tail per utilisation.

    At arrival rate lambda = rho / E[S] the M/G/1 waiting time has the
    Cramer-Lundberg tail ``P(W > t) ~ K e^(-x t)``: x is the positive root of
    ``lambda (M(x) - 1) = x``, M the moment generating function of S, and
    ``K = (1 - rho) / (lambda M'(x) - 1)``. The server c times faster, fed
    c lambda, has rate c x and the same K: both depend on rho and the shape
    of S only, so one table per service time serves every minute. The root
    lies in (0, slowest phase rate), where M is finite and the left side is
    convex; bisection finds it. At rho = 1 the limits are x = 0, K / rho = 1;
    rho = 0 repeats the first step's values (no one waits there anyway).
    """
    rho = np.arange(1, _RHO_STEPS) / _RHO_STEPS
    arrivals_per_s = rho / service.mean_s
    low = np.zeros(rho.shape)
    high = np.full(rho.shape, min(service.phase_rates_per_s))
    for _ in range(_BISECTION_STEPS):
        middle = 0.5 * (low + high)
        with np.errstate(over="ignore"):  # M(x) = inf is simply past the root
            excess = arrivals_per_s * _mgf_minus_one(service, middle)
        is_below_root = excess < middle
        low = np.where(is_below_root, middle, low)
        high = np.where(is_below_root, high, middle)
    root = 0.5 * (low + high)
    mass = (1.0 - rho) / (arrivals_per_s * _mgf_slope(service, root) - 1.0)
    decay_per_s = np.concatenate([root[:1], root, [0.0]])
    mass_ratio = np.concatenate([mass[:1] / rho[0], mass / rho, [1.0]])
    decay_per_s.flags.writeable = False
    mass_ratio.flags.writeable = False
    return decay_per_s, mass_ratio


def _round_robin_wait_law(rate: FloatArray, count: FloatArray, service: ServiceTime) -> _Wait:
    """Return each stable minute's per-replica wait under round-robin: the E_c/G/1 queue.

    One replica (or none, with no traffic) is M/G/1 (``_wait_law``). From
    two replicas up, P(W > 0), the Cramer-Lundberg mass K and rate eta are
    read from the table of the replica count (``_round_robin_table``;
    counts past ``_ROUND_ROBIN_MAX_SERVERS`` read that count's) at the
    utilisation, and ``P(W > t) = min(P(W > 0), K e^(-eta t))``.
    """
    is_single = count < 2.0
    single = _wait_law(rate[is_single], count[is_single], service)
    several = ~is_single
    capped = np.minimum(count[several], _ROUND_ROBIN_MAX_SERVERS).astype(np.int64)
    distinct, which = np.unique(capped, return_inverse=True)
    tables = [_round_robin_table(service, int(c)) for c in distinct.tolist()]
    stacked = np.stack(tables) if tables else np.zeros((0, 3, _ROUND_ROBIN_RHO_STEPS + 1))
    position = rate[several] * service.mean_s / count[several] * _ROUND_ROBIN_RHO_STEPS
    index = np.minimum(position.astype(np.int64), _ROUND_ROBIN_RHO_STEPS - 1)
    weight = position - index
    low, high = stacked[which, :, index], stacked[which, :, index + 1]
    delay_prob, tail_mass, decay_per_s = (low + weight[:, None] * (high - low)).T
    turns = _cut_tail(delay_prob, tail_mass, decay_per_s)
    merged = [np.empty(rate.shape) for _ in _Wait._fields]
    for field, one, taking_turns in zip(merged, single, turns, strict=True):
        field[is_single], field[several] = one, taking_turns
    return _Wait(*merged)
