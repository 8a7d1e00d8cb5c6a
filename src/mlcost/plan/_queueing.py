"""Per-minute request latency of c replicas under Poisson traffic, and the simulation that checks it.

The planner replays a month minute by minute (43,200 minutes) for thousands of
candidate configurations, so the latency of a minute must be a few vectorized
numpy operations. Each minute is taken as a queue in steady state: Poisson
arrivals at ``arrivals_per_s``, ``servers`` replicas each serving one request
at a time (batch 1), first come first served, and a service time S fitted to
the profiler's batch-1 percentiles (``ServiceTime``). Where requests wait
depends on the load balancer (``Balancing``): a least-outstanding-requests
balancer sends each request to an idle replica whenever there is one, which
is close to one queue shared by the fleet, an M/G/c queue; behind a random
pick (kube-proxy in iptables mode) or round-robin each replica keeps its own
queue, and a request can wait behind a busy replica while another is idle.

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
- the response time ``T = W + S``, W independent of S under FCFS: S is a
  shift plus a mixture of exponentials, so ``P(T > t)`` is a closed-form sum
  of exponentials and hypoexponentials, inverted by safeguarded Newton steps
  to a relative 1e-10.

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
  squared coefficient of variation 1 / c: the E_c/G/1 queue. Its wait is
  solved, not approximated: P(W > 0) from the c - 1 roots of
  ``G(s) = (1 - s)^c`` in the right half plane (G the service time's
  transform, s in units of the fleet's arrival rate) and the exact
  Cramer-Lundberg rate and mass of the pole nearest 0 on the left
  (``_round_robin_table``, after Smith 1953 and Cohen 1982). Its p99 is
  within 3 % of ``simulate_queue`` on c in {1, 2, 4, 8}, rho in {0.3, 0.6,
  0.85} for the three shapes of the bench, and P(W > 0) within 0.002 of the
  simulated share that waits. For near-constant service it comes within
  8 % of the shared queue (evenly spaced arrivals rarely find their replica
  busy); for exponential service at rho 0.6 to 0.85 its p99 lies a third
  to a half of the way from the shared to the random one. The roots cost
  c / 2 complex Newton solves per utilisation, so tables are kept per
  service time and replica count up to 64 (about 0.6 s to build all 63 for
  one service time, then cached); past 64 replicas the 64-replica table is
  used. Arrivals taken as
  less regular than they are overstate the wait, so this errs on the safe
  side: the p99 is within 1.5 % of the exact E_c/G/1 one for the
  exponential and heavy-tailed shapes, but for near-constant service, with
  128 to 256 replicas, 3.5 to 5 % above the simulation at rho 0.85 and 19
  to 29 % above it at rho 0.95, which lowers ``max_arrivals_per_s`` by at
  most 4.5 % there (SLO 1.2 times the service p99).

``bench/plan_queueing.py`` prints each model against ``simulate_queue`` over a
grid. Not modelled: dynamic batching (a replica serving several requests at
once), cold starts, the transient between minutes (each minute is its own
steady state), and the difference between a least-outstanding balancer and a
truly shared queue (the balancer commits a request to a replica; with every
replica busy it can land behind a long one).
"""

from __future__ import annotations

import functools
import heapq
import math
from dataclasses import dataclass
from typing import Literal, NamedTuple, get_args

import numpy as np
import numpy.typing as npt

from mlcost.core import PlanError, Profile

FloatArray = npt.NDArray[np.float64]
ComplexArray = npt.NDArray[np.complex128]

# How the load balancer picks a replica: at random (kube-proxy in iptables mode), in turn
# (round-robin), or the one with the fewest requests in flight (modelled as one shared queue).
Balancing = Literal["random", "round-robin", "least-outstanding"]
_BALANCINGS: tuple[Balancing, ...] = get_args(Balancing)

_MS_PER_S = 1000.0
# The median and the p99 of an exponential lie ln 2 and ln 100 means above its start.
_LN_2 = math.log(2.0)
_LN_100 = math.log(100.0)
# Past this squared coefficient of variation the p99 of a balanced-means H2 stops growing
# with it (the slow phase gets rarer than 1 %), so heavier tails cannot be fitted.
_MAX_SCV = 16.0
# Up to this many servers, Erlang B steps every minute to the largest count (no sort).
_FEW_SERVERS = 16
_NEWTON_MAX_STEPS = 100
_NEWTON_RTOL = 1e-10
_BISECTION_STEPS = 100
# Bisection steps on rho for the largest rate meeting an SLO (2^-30 ~ 1e-9: far below any noise).
_RATE_BISECTION_STEPS = 30
# The wait-tail table is solved at rho = k / _RHO_STEPS and read by linear interpolation.
_RHO_STEPS = 1024
# The round-robin tables cost c / 2 complex roots per step, so they use a coarser grid: read
# at any rho, 256 steps move the p99 by under 3e-4 relative from the exact E_c/G/1 value.
_ROUND_ROBIN_RHO_STEPS = 256
# Past this many replicas round-robin uses this many's table (see the module docstring).
_ROUND_ROBIN_MAX_SERVERS = 64
# Newton on the roots of unity's equations converges in 4 to 6 steps from 1 - omega.
_ROOT_NEWTON_MAX_STEPS = 40
_ROOT_NEWTON_RTOL = 1e-13
# Bisection steps for the Lundberg root y in (0, slowest phase rate): 2^-60 ~ 1e-18.
_LUNDBERG_BISECTION_STEPS = 60


@dataclass(frozen=True, slots=True)
class ServiceTime:
    """Batch-1 service time of one replica: ``shift_s`` plus a mixture of exponentials.

    The time is ``shift_s + Exp(rate_i)`` with probability ``prob_i``, from
    ``phase_probs`` and ``phase_rates_per_s``. One phase is a shifted
    exponential: a floor (the compute every request costs) and an exponential
    tail (longer inputs, cache misses, runtime jitter). Two phases (a
    hyperexponential) describe tails heavier than an exponential's. With this
    family the response time of the queue has a closed form, which is what
    makes 43,200 minutes cheap. Build it with ``from_percentiles`` or
    ``from_profile``; the constructor raises PlanError on impossible values.
    """

    shift_s: float
    phase_probs: tuple[float, ...]
    phase_rates_per_s: tuple[float, ...]

    def __post_init__(self) -> None:
        probs, rates = self.phase_probs, self.phase_rates_per_s
        if not (
            math.isfinite(self.shift_s)
            and self.shift_s >= 0.0
            and len(probs) == len(rates) >= 1
            and all(p > 0.0 for p in probs)
            and abs(sum(probs) - 1.0) < 1e-9
            and all(math.isfinite(r) and r > 0.0 for r in rates)
        ):
            raise PlanError(
                f"invalid service time (shift_s={self.shift_s}, phase_probs={probs}, "
                f"phase_rates_per_s={rates}): the shift must be >= 0, the weights positive "
                "and summing to 1, one positive finite rate per weight; build it with "
                "ServiceTime.from_percentiles"
            )

    @classmethod
    def from_percentiles(
        cls, p50_ms: float, p99_ms: float, *, mean_ms: float | None = None
    ) -> ServiceTime:
        """Return the service time whose p99 is ``p99_ms`` and whose centre is the p50 or the mean.

        The two parameters come from two statistics: the p99 (the SLO lives in
        the tail) and the centre, the measured mean when given (it fixes the
        utilisation exactly, what capacity depends on most), else the p50. A
        shifted exponential fits whenever the tail is no heavier than an
        exponential's (p99/p50 <= ln 100 / ln 2 = 6.64, or p99/mean <=
        ln 100 = 4.61); a heavier tail gets a balanced-means two-phase
        hyperexponential (Whitt 1982, "Approximating a point process by a
        renewal process, I: Two basic methods", Operations Research
        30(1):125-147) whose squared coefficient of variation (1 to 16) is
        solved from the tail.

        Raises PlanError when the figures are not positive with p50 < p99
        and mean < p99, or the tail is heavier than cs2 = 16 describes.
        """
        if not (0.0 < p50_ms < p99_ms and math.isfinite(p99_ms)):
            raise PlanError(
                f"service time percentiles p50={p50_ms} ms, p99={p99_ms} ms cannot describe a "
                "latency: they must be finite with 0 < p50 < p99; re-measure the variant"
            )
        if mean_ms is not None and not 0.0 < mean_ms < p99_ms:
            raise PlanError(
                f"service time mean {mean_ms} ms is not between 0 and the p99 {p99_ms} ms; "
                "pass the mean of the same measurement, or leave it out to fit the p50"
            )
        p99_s = p99_ms / _MS_PER_S
        if mean_ms is None:
            centre_s, centre_lengths, tail_ratio = p50_ms / _MS_PER_S, _LN_2, p99_ms / p50_ms
        else:
            centre_s, centre_lengths, tail_ratio = mean_ms / _MS_PER_S, 1.0, p99_ms / mean_ms
        if tail_ratio <= (_LN_100 / centre_lengths) * (1.0 + 1e-12):
            # Shift + Exp: the centre lies centre_lengths tail means above the shift, the
            # p99 ln(100) of them.
            tail_mean_s = (p99_s - centre_s) / (_LN_100 - centre_lengths)
            shift_s = max(0.0, centre_s - centre_lengths * tail_mean_s)
            return cls(shift_s, (1.0,), (1.0 / tail_mean_s,))
        return _fit_hyperexponential(tail_ratio, centre_s, is_mean=mean_ms is not None)

    @classmethod
    def from_profile(cls, profile: Profile) -> ServiceTime:
        """Return the service time fitted to a profile's batch-1 p50 and p99 latency."""
        return cls.from_percentiles(profile.latency_ms_p50, profile.latency_ms_p99)

    @property
    def mean_s(self) -> float:
        """Mean service time, seconds."""
        return self.shift_s + sum(
            p / r for p, r in zip(self.phase_probs, self.phase_rates_per_s, strict=True)
        )

    @property
    def scv(self) -> float:
        """Squared coefficient of variation, variance / mean^2: 1 for an exponential."""
        tail_mean_s = self.mean_s - self.shift_s
        second_moment = sum(
            2.0 * p / r**2 for p, r in zip(self.phase_probs, self.phase_rates_per_s, strict=True)
        )
        return (second_moment - tail_mean_s**2) / self.mean_s**2

    def quantile_ms(self, percentile: float) -> float:
        """Return the service time, ms, below which ``percentile`` % of requests finish.

        Raises PlanError when ``percentile`` is not strictly between 0 and 100.
        """
        no_wait = _Wait(np.zeros(1), np.zeros(1), np.ones(1))
        tail_s = _solve_tail_s(no_wait, self, _tail_share(percentile))
        return float(self.shift_s + tail_s[0]) * _MS_PER_S

    def sample_s(self, rng: np.random.Generator, n: int) -> FloatArray:
        """Return ``n`` independent service times, seconds, drawn with ``rng``."""
        rates = np.asarray(self.phase_rates_per_s)
        if rates.size == 1:
            draws = rng.exponential(1.0 / rates[0], size=n)
        else:
            phase = rng.choice(rates.size, size=n, p=np.asarray(self.phase_probs))
            draws = rng.exponential(1.0, size=n) / rates[phase]
        return np.asarray(self.shift_s + draws, dtype=np.float64)


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
    arrivals_per_s: npt.ArrayLike, servers: npt.ArrayLike, service: ServiceTime
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
    service: ServiceTime,
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
    rho = _utilisation(rate, count, service)
    stable = rho < 1.0
    wait = _balanced_wait_law(rate[stable], count[stable], service, balancing)
    latency = np.full(rho.shape, np.inf)
    latency[stable] = (service.shift_s + _solve_tail_s(wait, service, alpha)) * _MS_PER_S
    return latency


def share_over_slo(
    arrivals_per_s: npt.ArrayLike,
    servers: npt.ArrayLike,
    service: ServiceTime,
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
    service: ServiceTime,
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
    service: ServiceTime,
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


class _Wait(NamedTuple):
    """The wait W per minute: 0 w.p. 1 - prob, else delay_s + Exp(rate_per_s)."""

    prob: FloatArray
    delay_s: FloatArray
    rate_per_s: FloatArray


def _tail_share(percentile: float) -> float:
    """Return 1 - percentile / 100, the share of requests above the percentile."""
    if not 0.0 < percentile < 100.0:
        raise PlanError(
            f"percentile must be strictly between 0 and 100, got {percentile}; give 99 for the p99"
        )
    return 1.0 - percentile / 100.0


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


def _utilisation(rate: FloatArray, count: FloatArray, service: ServiceTime) -> FloatArray:
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


@functools.lru_cache(maxsize=1024)
def _round_robin_table(service: ServiceTime, servers: int) -> FloatArray:
    """Return rows P(W > 0), K and eta per s at rho = k / 256, k = 0..256, of the E_c/G/1 wait.

    Each replica is fed every c-th arrival of a Poisson stream at rate
    lambda = c rho / E[S]: Erlang(c, lambda) gaps. In the time unit
    1 / lambda, with G(s) = E[e^(-s lambda S)] and M(y) = G(-y), the
    factorisation of the E_c/G/1 wait (Smith 1953, "On the distribution of
    queueing times", Proc. Cambridge Philos. Soc. 49(3):449-461; Cohen
    1982, "The Single Server Queue", 2nd ed., North-Holland) gives its transform as
    ``c (1 - rho) s prod_j (s - sigma_j) / (-sigma_j) / (G(s) - (1 - s)^c)``,
    sigma_1..sigma_(c-1) the zeros of the denominator with Re > 0. Each is
    the root of ``sigma = 1 - omega_j G(sigma)^(1/c)``, omega_j = e^(2 pi i j
    / c), found by Newton from 1 - omega_j (one equation per root of unity,
    as in Adan and Zhao 1996, "Analyzing GI/Er/1 queues", Operations
    Research Letters 19:183-190, for the dual queue); the roots come in
    conjugate pairs, so half are solved. Then ``P(W = 0) = c (1 - rho) /
    prod sigma_j``, and the pole at -y, y > 0 the root of
    ``M(y) = (1 + y)^c``, gives ``P(W > t) ~ K e^(-y lambda t)`` with
    ``K = c (1 - rho) prod (1 + y / sigma_j) / ((1 + y)^(c - 1) ((1 + y)
    (log M)'(y) - c))``. At c = 1 these are M/G/1's rho and K. The ends:
    nobody waits at rho = 0, and at rho = 1 everyone does, K = 1, eta = 0.
    """
    rho = np.arange(1, _ROUND_ROBIN_RHO_STEPS) / _ROUND_ROBIN_RHO_STEPS
    fleet_rate_per_s = servers * rho / service.mean_s
    shift = service.shift_s * fleet_rate_per_s
    phases = [
        (prob, rate / fleet_rate_per_s)
        for prob, rate in zip(service.phase_probs, service.phase_rates_per_s, strict=True)
    ]
    half = np.arange(1, servers // 2 + 1)
    omega = np.exp(2j * np.pi * half / servers)
    sigma = _erlang_roots(shift, phases, omega, servers)
    pair_weight = np.where(2 * half == servers, 1.0, 2.0)  # omega = -1 is its own conjugate
    y = _lundberg_root(shift, phases, servers)
    tail = sum(prob * rate / (rate - y) for prob, rate in phases)
    log_slope = shift + sum(prob * rate / (rate - y) ** 2 for prob, rate in phases) / tail
    # prod (1 - omega_j) = c, so prod sigma_j / c is a product of factors near 1.
    log_relative = np.log(sigma / (1.0 - omega)).real @ pair_weight
    delay_prob = np.maximum(-np.expm1(np.log1p(-rho) - log_relative), 0.0)
    log_gain = np.log1p(y[:, None] / sigma).real @ pair_weight - (servers - 1) * np.log1p(y)
    tail_mass = servers * (1.0 - rho) * np.exp(log_gain) / ((1.0 + y) * log_slope - servers)
    decay_per_s = y * fleet_rate_per_s
    table = np.stack(
        [
            np.concatenate([[0.0], delay_prob, [1.0]]),
            np.concatenate([[0.0], tail_mass, [1.0]]),
            np.concatenate([decay_per_s[:1], decay_per_s, [0.0]]),
        ]
    )
    table.flags.writeable = False
    return table


def _erlang_roots(
    shift: FloatArray,
    phases: list[tuple[float, FloatArray]],
    omega: ComplexArray,
    servers: int,
) -> ComplexArray:
    """Return sigma with ``sigma = 1 - omega G(sigma)^(1/c)``, per (rho, omega), by Newton.

    G(s) = e^(-s d) sum_i p_i r_i / (r_i + s), d = ``shift`` and r_i the
    phase rates per rho (in the unit 1 / lambda). In Re s > -min r_i every
    term of the sum has a positive real part, so its principal logarithm is
    the branch of G^(1/c) that is 1 at s = 0.
    """
    sigma = np.broadcast_to(1.0 - omega, (shift.size, omega.size)).copy()
    shift_col = shift[:, None]
    for _ in range(_ROOT_NEWTON_MAX_STEPS):
        mix = np.zeros(sigma.shape, dtype=np.complex128)
        mix_slope = np.zeros(sigma.shape, dtype=np.complex128)
        for prob, rate in phases:
            term = prob * rate[:, None] / (rate[:, None] + sigma)
            mix += term
            mix_slope -= term / (rate[:, None] + sigma)
        root_g = omega * np.exp((np.log(mix) - shift_col * sigma) / servers)
        step = (sigma - 1.0 + root_g) / (1.0 + root_g * (mix_slope / mix - shift_col) / servers)
        sigma -= step
        if np.all(np.abs(step) <= _ROOT_NEWTON_RTOL * np.abs(sigma)):
            break
    return sigma


def _lundberg_root(
    shift: FloatArray, phases: list[tuple[float, FloatArray]], servers: int
) -> FloatArray:
    """Return y in (0, min r_i) with log M(y) = c log(1 + y), per rho, by bisection.

    log M(y) - c log(1 + y) is 0 at y = 0, falls there (slope c (rho - 1)),
    is convex and grows without bound at the slowest phase rate, so it has
    one positive root. The lower end is returned: it stays below the pole.
    """
    low = np.zeros(shift.shape)
    high = np.minimum.reduce([rate for _, rate in phases])
    for _ in range(_LUNDBERG_BISECTION_STEPS):
        middle = 0.5 * (low + high)
        with np.errstate(divide="ignore"):  # M(y) = inf is simply past the root
            log_mgf = shift * middle + np.log(
                sum(prob * rate / (rate - middle) for prob, rate in phases)
            )
        is_below_root = log_mgf < servers * np.log1p(middle)
        low = np.where(is_below_root, middle, low)
        high = np.where(is_below_root, high, middle)
    return low


def _mgf_minus_one(service: ServiceTime, x: FloatArray) -> FloatArray:
    """Return E[e^(x S)] - 1, without cancellation at small x.

    With S = d + X: ``M(x) - 1 = expm1(x d) M_X(x) + sum_i p_i x / (r_i - x)``.
    """
    tail = np.zeros(x.shape)
    excess = np.zeros(x.shape)
    for prob, rate in zip(service.phase_probs, service.phase_rates_per_s, strict=True):
        tail += prob * rate / (rate - x)
        excess += prob * x / (rate - x)
    return np.asarray(np.expm1(x * service.shift_s) * tail + excess, dtype=np.float64)


def _mgf_slope(service: ServiceTime, x: FloatArray) -> FloatArray:
    """Return M'(x) = E[S e^(x S)] = e^(x d) (d M_X(x) + sum_i p_i r_i / (r_i - x)^2)."""
    tail = np.zeros(x.shape)
    slope = np.zeros(x.shape)
    for prob, rate in zip(service.phase_probs, service.phase_rates_per_s, strict=True):
        tail += prob * rate / (rate - x)
        slope += prob * rate / (rate - x) ** 2
    shift = service.shift_s
    return np.asarray(np.exp(x * shift) * (shift * tail + slope), dtype=np.float64)


def _response_tail(
    tail_s: FloatArray, wait: _Wait, service: ServiceTime
) -> tuple[FloatArray, FloatArray]:
    """Return P(W + X > u) and its density at u = ``tail_s``, the time past the service shift.

    X, the service time less its shift, is Exp(r_i) with probability p_i; W
    is 0, or delay + Exp(theta). Past the delay, v = u - delay, the sum
    Exp(theta) + Exp(r) is hypoexponential: with
    ``D = (e^(-theta v) - e^(-r v)) / (r - theta)``,
    ``P(Exp(theta) + Exp(r) > v) = e^(-theta v) + theta D`` and its density is
    ``r theta D``. Where r ~ theta, D is computed from
    ``v e^(-(r + theta) v / 2) sinh(y / 2) / (y / 2)``, y = |r - theta| v, by
    its series, so nothing cancels.
    """
    u = np.maximum(tail_s, 0.0)
    v = np.maximum(u - wait.delay_s, 0.0)
    theta = wait.rate_per_s
    survival = np.zeros(u.shape)
    density = np.zeros(u.shape)
    wait_decay = np.exp(-theta * v)
    for prob, rate in zip(service.phase_probs, service.phase_rates_per_s, strict=True):
        if np.all(v == u):
            decay_u = decay_v = np.exp(-rate * u)
        else:
            decay_u, decay_v = np.exp(-rate * u), np.exp(-rate * v)
        gap = rate - theta
        with np.errstate(divide="ignore", invalid="ignore"):
            spread = (wait_decay - decay_v) / gap
        y = np.abs(gap) * v
        is_close = y < 1e-2
        if is_close.any():
            yc = y[is_close]
            middle = np.sqrt(wait_decay[is_close] * decay_v[is_close])
            spread[is_close] = v[is_close] * middle * (1.0 + yc**2 / 24.0 + yc**4 / 1920.0)
        no_wait = (1.0 - wait.prob) * decay_u
        survival += prob * (no_wait + wait.prob * (wait_decay + theta * spread))
        density += prob * rate * (no_wait + wait.prob * theta * spread)
    return survival, density


def _solve_tail_s(wait: _Wait, service: ServiceTime, alpha: float) -> FloatArray:
    """Return u with P(W + X > u) = alpha, by safeguarded Newton steps on log P(W + X > u).

    Bracket: W + X exceeds both W and X, and P(W + X > a + b) <= P(W > a) +
    P(X > b), so u lies between the larger of their alpha-quantiles' lower
    bounds and the sum of their alpha/2-quantiles' upper bounds. Newton
    starts from the dominant-term guess; a step that leaves the bracket is
    replaced by bisection; each minute stops once its step is below a
    relative 1e-10 (three to four evaluations for most minutes).
    """
    rates = np.asarray(service.phase_rates_per_s)
    log_alpha = math.log(alpha)
    with np.errstate(divide="ignore"):
        log_prob = np.log(wait.prob)
    wait_low = np.where(
        wait.prob > alpha, wait.delay_s + (log_prob - log_alpha) / wait.rate_per_s, 0.0
    )
    wait_high = wait.delay_s + np.maximum(log_prob - log_alpha + _LN_2, 0.0) / wait.rate_per_s
    # The lower bound is often the answer itself (no waiting): widen it past rounding.
    low = (1.0 - 1e-9) * np.maximum(-log_alpha / float(rates.max()), wait_low)
    high = (1.0 + 1e-9) * ((_LN_2 - log_alpha) / float(rates.min()) + wait_high)
    u = np.clip(_dominant_term_guess_s(wait, service, alpha), low, high)
    todo = np.arange(u.size)
    for _ in range(_NEWTON_MAX_STEPS):
        if todo.size == 0:
            break
        u_t, low_t, high_t = u[todo], low[todo], high[todo]
        wait_t = _Wait(wait.prob[todo], wait.delay_s[todo], wait.rate_per_s[todo])
        survival, density = _response_tail(u_t, wait_t, service)
        is_above = survival > alpha
        low_t = np.where(is_above, u_t, low_t)
        high_t = np.where(is_above, high_t, u_t)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            proposal = u_t + (np.log(survival) - log_alpha) * survival / density
        inside = np.isfinite(proposal) & (proposal >= low_t) & (proposal <= high_t)
        new_u = np.where(inside, proposal, 0.5 * (low_t + high_t))
        u[todo], low[todo], high[todo] = new_u, low_t, high_t
        todo = todo[np.abs(new_u - u_t) > _NEWTON_RTOL * new_u]
    return u


def _dominant_term_guess_s(wait: _Wait, service: ServiceTime, alpha: float) -> FloatArray:
    """Return where the slowest-decaying term of P(W + X > u) alone equals alpha.

    P(W + X > u) is a sum of exponentials in u; far in the tail the one with
    the smallest rate, the wait's theta or the slowest phase's r, dominates:
    ``p sum_i p_i r_i / (r_i - theta) e^(-theta (u - delay))`` when theta is
    smaller, else ``p_s ((1 - p) + p theta / (theta - r) e^(r delay)) e^(-r u)``.
    A start for Newton's method, not an answer: it may lie outside the bracket.
    """
    probs = np.asarray(service.phase_probs)
    rates = np.asarray(service.phase_rates_per_s)
    slowest = int(np.argmin(rates))
    slow_rate, slow_prob = float(rates[slowest]), float(probs[slowest])
    theta, prob, delay = wait.rate_per_s, wait.prob, wait.delay_s
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        wait_weight = prob * sum(
            float(p) * float(r) / (float(r) - theta) for p, r in zip(probs, rates, strict=True)
        )
        wait_guess = delay + np.log(wait_weight / alpha) / theta
        service_weight = slow_prob * (
            (1.0 - prob) + prob * theta / (theta - slow_rate) * np.exp(slow_rate * delay)
        )
        service_guess = np.log(service_weight / alpha) / slow_rate
        guess = np.where(theta < slow_rate, wait_guess, service_guess)
    return np.asarray(np.where(np.isfinite(guess), guess, 0.0), dtype=np.float64)


def _fit_hyperexponential(tail_ratio: float, centre_s: float, *, is_mean: bool) -> ServiceTime:
    """Return the balanced-means H2 whose p99 / centre is ``tail_ratio``, by bisection on cs2.

    Balanced means (Whitt 1982): with cs2 = v, ``p1 = (1 + sqrt((v - 1) / (v + 1))) / 2``
    and ``rate_i = 2 p_i / mean``. Both p99 / p50 and p99 / mean grow with v up
    to v ~ 18; the search stays below ``_MAX_SCV``.

    Raises PlanError when the ratio is beyond what cs2 = 16 gives.
    """

    def unit_mean(scv: float) -> ServiceTime:
        p1 = 0.5 * (1.0 + math.sqrt((scv - 1.0) / (scv + 1.0)))
        return ServiceTime(0.0, (p1, 1.0 - p1), (2.0 * p1, 2.0 * (1.0 - p1)))

    def centre_of(shape: ServiceTime) -> float:
        return 1.0 if is_mean else shape.quantile_ms(50.0) / _MS_PER_S

    def ratio_of(shape: ServiceTime) -> float:
        return shape.quantile_ms(99.0) / _MS_PER_S / centre_of(shape)

    heaviest = ratio_of(unit_mean(_MAX_SCV))
    if tail_ratio > heaviest:
        raise PlanError(
            f"the service time tail is too heavy to model: p99 is {tail_ratio:.1f} times the "
            f"{'mean' if is_mean else 'p50'} and at most {heaviest:.1f} is supported; check "
            "the measurement for outliers such as warm-up requests"
        )
    low, high = 1.0, _MAX_SCV
    for _ in range(_BISECTION_STEPS // 2):
        middle = 0.5 * (low + high)
        low, high = (middle, high) if ratio_of(unit_mean(middle)) < tail_ratio else (low, middle)
    shape = unit_mean(0.5 * (low + high))
    scale = centre_s / centre_of(shape)
    return ServiceTime(0.0, shape.phase_probs, tuple(r / scale for r in shape.phase_rates_per_s))
