"""Per-minute request latency of c replicas under Poisson traffic, and the simulation that checks it.

The planner replays a month minute by minute (43,200 minutes) for thousands of
candidate configurations, so the latency of a minute must be a few vectorized
numpy operations. Each minute is taken as an M/G/c queue in steady state:
Poisson arrivals at ``arrivals_per_s``, ``servers`` replicas each serving one
request at a time (batch 1), first come first served, and a service time
fitted to the profiler's batch-1 percentiles (``ServiceTime``).

The model (all formulas vectorized over minutes):

- probability of waiting: Erlang C, computed from the Erlang B recursion
  ``B(k) = a B(k-1) / (k + a B(k-1))``, which is stable for hundreds of
  servers (Jagerman 1974, "Some properties of the Erlang loss function",
  Bell System Technical Journal 53(3)), then ``C = c B / (c - a (1 - B))``;
- the wait of a request that waits: exponential with rate
  ``theta = 2 (c mu - lambda) / (1 + cs2)``, i.e. the exact M/M/c conditional
  wait scaled by the Allen-Cunneen factor ``(ca2 + cs2) / 2`` with ``ca2 = 1``
  for Poisson arrivals (Allen 1990, "Probability, Statistics, and Queueing
  Theory", 2nd ed., section 6.4; Whitt 1993, "Approximations for the GI/G/m
  queue", Production and Operations Management 2(2):114-161, which also
  argues for the exponential conditional-wait shape);
- response time ``T = W + S`` with ``W`` independent of ``S`` (FCFS): the
  service time is a shift plus a mixture of exponentials, so ``P(T > t)`` is a
  closed-form sum of exponentials and hypoexponentials; its percentile is
  found by safeguarded Newton iteration on ``log P(T > t)``, to 1e-10.

Exact for M/M/c (exponential service: Erlang C and the exponential wait are the
true M/M/c law). For other service shapes ``simulate_queue`` is the reference;
``bench/plan_queueing.py`` prints the gap.

Not modelled: dynamic batching (a replica serving several requests at once),
cold starts, and the transient between minutes (each minute is its own
steady state).
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from mlcost.core import Profile

FloatArray = npt.NDArray[np.float64]

MS_PER_S = 1000.0
# P(S > median) = 1/2 and P(S > p99) = 1/100 for an exponential: ln 2 and ln 100 mean lengths.
_LN_2 = math.log(2.0)
_LN_100 = math.log(100.0)
# Past this squared coefficient of variation a balanced-means H2 fitted to a tail quantile
# is no longer monotone in it (the slow phase gets rarer than 1 %), so fits stop here.
_MAX_SCV = 16.0
# Up to this many servers Erlang B steps every minute to the largest count (no sort).
_FEW_SERVERS = 16
_NEWTON_MAX_STEPS = 100
_NEWTON_RTOL = 1e-10


@dataclass(frozen=True, slots=True)
class ServiceTime:
    """Batch-1 service time of one replica: ``shift_s`` plus a mixture of exponentials.

    With ``phase_probs`` weights and ``phase_rates_per_s`` rates, the time is
    ``shift_s + Exp(rate_i)`` with probability ``prob_i``. One phase is a
    shifted exponential: a floor (the compute a request always costs) and an
    exponential tail (queueing inside the runtime, cache misses, longer
    inputs). Two phases (a hyperexponential) describe tails heavier than an
    exponential. This family gives the response-time distribution of the
    queue in closed form, which is what makes 43,200 minutes cheap.
    Build it with ``from_percentiles`` or ``from_profile``.
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
            raise ValueError(
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
        utilisation exactly, the quantity capacity depends on most), else the
        p50. A shifted exponential fits whenever the tail is no heavier than
        an exponential's (p99/p50 <= ln 100 / ln 2 = 6.64, or
        p99/mean <= ln 100 = 4.61); a heavier tail gets a balanced-means
        two-phase hyperexponential (Whitt 1982, "Approximating a point process
        by a renewal process", Management Science 28(2)) with its squared
        coefficient of variation solved from the tail.

        Raises ValueError when the percentiles are not positive and
        increasing, or the tail is heavier than cs2 = 16 can describe.
        """
        if not (0.0 < p50_ms < p99_ms and math.isfinite(p99_ms)):
            raise ValueError(
                f"service time percentiles p50={p50_ms} ms, p99={p99_ms} ms cannot describe a "
                "latency: they must be finite with 0 < p50 < p99; re-measure the variant"
            )
        if mean_ms is not None and not (0.0 < mean_ms < p99_ms):
            raise ValueError(
                f"service time mean {mean_ms} ms is not between 0 and the p99 {p99_ms} ms; "
                "pass the mean of the same measurement, or leave it out to fit the p50"
            )
        p99_s = p99_ms / MS_PER_S
        if mean_ms is None:
            centre_s, centre_lengths, tail_ratio = p50_ms / MS_PER_S, _LN_2, p99_ms / p50_ms
        else:
            centre_s, centre_lengths, tail_ratio = mean_ms / MS_PER_S, 1.0, p99_ms / mean_ms
        if tail_ratio <= (_LN_100 / centre_lengths) * (1.0 + 1e-12):
            # shift + Exp(rate): the centre sits centre_lengths and the p99 ln(100) tail means
            # above the shift.
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
        """Squared coefficient of variation (variance / mean^2); 1 for an exponential."""
        tail_mean = self.mean_s - self.shift_s
        second_moment = sum(
            2.0 * p / r**2 for p, r in zip(self.phase_probs, self.phase_rates_per_s, strict=True)
        )
        return (second_moment - tail_mean**2) / self.mean_s**2

    def quantile_ms(self, percentile: float) -> float:
        """Return the service time (ms) below which ``percentile`` % of requests finish."""
        alpha = _tail_share(percentile)
        zero = np.zeros(1)
        tail_s = _solve_tail_s(zero, np.ones(1), self, alpha)
        return float(self.shift_s + tail_s[0]) * MS_PER_S

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
    """How a run of minutes fares against a latency SLO (request counts are expectations)."""

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
    """Return the Erlang C probability that a request waits, elementwise.

    ``offered_load`` is a = lambda / mu (erlangs), ``servers`` is c. Erlang B
    comes from the recursion ``B(k) = a B(k-1) / (k + a B(k-1))``, B(0) = 1,
    then ``C = c B / (c - a (1 - B))`` (Jagerman 1974). Each element costs c
    steps; the elements are sorted by c so a step touches only those that
    need it. Where a >= c the queue is unstable and C is 1.
    """
    load, count = np.broadcast_arrays(
        np.asarray(offered_load, dtype=np.float64), np.asarray(servers, dtype=np.int64)
    )
    load_flat, count_flat = load.ravel(), count.ravel()
    blocking = _erlang_b(load_flat, count_flat)
    # C = c B / (c - a (1 - B)) where a < c; 1 elsewhere (every request waits, for ever).
    waiting = np.ones(load_flat.shape)
    denominator = count_flat - load_flat * (1.0 - blocking)
    np.divide(count_flat * blocking, denominator, out=waiting, where=load_flat < count_flat)
    return waiting.reshape(load.shape)


def _erlang_b(load: FloatArray, count: npt.NDArray[np.int64]) -> FloatArray:
    """Return Erlang B, ``B(k) = a B(k-1) / (k + a B(k-1))`` run to k = c for each element."""
    top = int(count.max(initial=0))
    if top <= _FEW_SERVERS:
        # Few servers: every element steps to ``top`` and keeps its value from step c.
        blocking = np.ones(load.shape)
        for k in range(1, top + 1):
            ab = load * blocking
            np.divide(ab, k + ab, out=blocking, where=count >= k)
        return blocking
    # Many servers: sorted by c descending, the elements still stepping at k are a prefix,
    # so the work is sum(c) rather than max(c) * n. int32 keys sort by radix.
    order = np.argsort(-count.astype(np.int32), kind="stable")
    load_sorted = load[order]
    active = np.searchsorted(-count[order], -np.arange(1, top + 1), side="right")
    b_sorted = np.ones(load.shape)
    for k in range(1, top + 1):
        n = int(active[k - 1])
        ab = load_sorted[:n] * b_sorted[:n]
        b_sorted[:n] = ab / (k + ab)
    blocking = np.empty(load.shape)
    blocking[order] = b_sorted
    return blocking


def utilisation(
    arrivals_per_s: npt.ArrayLike, servers: npt.ArrayLike, service: ServiceTime
) -> FloatArray:
    """Return lambda * E[S] / c per minute: the busy share of each replica (>= 1: unstable).

    A minute with no servers has utilisation +inf when requests arrive and 0
    when none do.
    """
    rate, count = _check_inputs(arrivals_per_s, servers)
    return _utilisation(rate, count, service)


def latency_ms_percentile(
    arrivals_per_s: npt.ArrayLike,
    servers: npt.ArrayLike,
    service: ServiceTime,
    percentile: float,
) -> FloatArray:
    """Return each minute's response-time percentile (wait + service), ms; +inf when unstable.

    The M/G/c model of the module docstring: Erlang C for the probability of
    waiting, an exponential wait with the Allen-Cunneen rate
    ``2 (c mu - lambda) / (1 + cs2)``, and the percentile of ``W + S`` from
    the closed-form ``P(W + S > t)``. ``arrivals_per_s`` and ``servers``
    broadcast against each other. Minutes with utilisation >= 1 return +inf
    (the queue grows without bound); a minute with no arrivals returns the
    service-time percentile (what one request would see).

    Raises ValueError on negative or non-finite arrivals, negative or
    fractional server counts, or a percentile outside (0, 100).
    """
    alpha = _tail_share(percentile)
    rate, count = _check_inputs(arrivals_per_s, servers)
    rho = _utilisation(rate, count, service)
    stable = rho < 1.0
    wait_prob, wait_rate = _wait_law(rate[stable], count[stable], service)
    tail_s = _solve_tail_s(wait_prob, wait_rate, service, alpha)
    latency = np.full(rho.shape, np.inf)
    latency[stable] = (service.shift_s + tail_s) * MS_PER_S
    return latency


def share_over_slo(
    arrivals_per_s: npt.ArrayLike,
    servers: npt.ArrayLike,
    service: ServiceTime,
    slo_ms: float,
) -> FloatArray:
    """Return each minute's expected share of requests slower than ``slo_ms``: P(W + S > slo).

    Same model as ``latency_ms_percentile``; unstable minutes give 1.
    Multiply by the minute's request count for the requests over the SLO.

    Raises ValueError as ``latency_ms_percentile`` does, or when ``slo_ms``
    is not positive.
    """
    if not (slo_ms > 0.0 and math.isfinite(slo_ms)):
        raise ValueError(f"slo_ms must be a positive number of milliseconds, got {slo_ms}")
    rate, count = _check_inputs(arrivals_per_s, servers)
    rho = _utilisation(rate, count, service)
    stable = rho < 1.0
    wait_prob, wait_rate = _wait_law(rate[stable], count[stable], service)
    tail_s = np.full(wait_prob.shape, slo_ms / MS_PER_S - service.shift_s)
    survival, _ = _response_tail(tail_s, wait_prob, wait_rate, service)
    share = np.ones(rho.shape)
    share[stable] = np.where(tail_s < 0.0, 1.0, survival)
    return share


def violations(
    arrivals_per_s: npt.ArrayLike,
    servers: npt.ArrayLike,
    service: ServiceTime,
    *,
    slo_ms: float,
    percentile: float,
    minute_s: float = 60.0,
) -> SloViolations:
    """Return the minutes whose latency percentile exceeds ``slo_ms``, and the requests involved.

    A minute is over the SLO when its ``percentile`` response time exceeds
    ``slo_ms``, i.e. when more than ``100 - percentile`` % of its requests
    are slower than the SLO (unstable minutes always are). Request counts
    are expectations: ``arrivals_per_s * minute_s`` per minute, and
    ``P(T > slo)`` times that for the requests slower than the SLO.

    Raises ValueError as ``share_over_slo`` does.
    """
    alpha = _tail_share(percentile)
    share = share_over_slo(arrivals_per_s, servers, service, slo_ms)
    rate, _ = np.broadcast_arrays(np.asarray(arrivals_per_s, dtype=np.float64), share)
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
) -> FloatArray:
    """Return the response times (ms) of a discrete-event simulation of the M/G/c FCFS queue.

    Poisson arrivals at ``rate_per_s`` for ``duration_s`` seconds, service
    times from ``service.sample_s``, ``servers`` identical replicas each
    serving one request at a time, first come first served: each arrival
    takes the replica that frees first (a heap of free times, the
    Kiefer-Wolfowitz workload recursion). Requests arriving before
    ``warmup_s`` (default: a tenth of the run) are dropped, so the queue
    starts empty but the answer is close to steady state. Deterministic for
    a given ``seed``; about 100,000 requests a second of CPU.

    Raises ValueError on a non-positive rate, duration or server count.
    """
    if not (rate_per_s > 0.0 and duration_s > 0.0 and servers >= 1):
        raise ValueError(
            f"simulate_queue needs a positive rate, duration and server count, got "
            f"rate_per_s={rate_per_s}, duration_s={duration_s}, servers={servers}"
        )
    warmup = 0.1 * duration_s if warmup_s is None else warmup_s
    rng = np.random.default_rng(seed)
    expected = rate_per_s * duration_s
    gaps = rng.exponential(1.0 / rate_per_s, size=int(expected + 6.0 * math.sqrt(expected) + 16))
    arrivals = np.cumsum(gaps)
    while arrivals[-1] < duration_s:  # astronomically rare: draw more gaps
        more = rng.exponential(1.0 / rate_per_s, size=arrivals.size)
        arrivals = np.concatenate([arrivals, arrivals[-1] + np.cumsum(more)])
    arrivals = arrivals[arrivals < duration_s]
    services = service.sample_s(rng, arrivals.size)
    free_at = [0.0] * servers
    starts: list[float] = []
    for arrival, duration in zip(arrivals.tolist(), services.tolist(), strict=True):
        start = arrival if arrival > free_at[0] else free_at[0]
        heapq.heapreplace(free_at, start + duration)
        starts.append(start)
    response_s = np.asarray(starts) - arrivals + services
    return np.asarray(response_s[arrivals >= warmup] * MS_PER_S, dtype=np.float64)


def _tail_share(percentile: float) -> float:
    """Return 1 - percentile / 100, the share of requests above the percentile."""
    if not 0.0 < percentile < 100.0:
        raise ValueError(f"percentile must be strictly between 0 and 100, got {percentile}")
    return 1.0 - percentile / 100.0


def _check_inputs(
    arrivals_per_s: npt.ArrayLike, servers: npt.ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """Return arrivals and server counts as broadcast float arrays, or raise ValueError."""
    rate = np.asarray(arrivals_per_s, dtype=np.float64)
    count = np.asarray(servers, dtype=np.float64)
    if not np.all(np.isfinite(rate) & (rate >= 0.0)):
        raise ValueError("arrivals_per_s must be finite and >= 0 in every minute")
    if not np.all((count >= 0.0) & (count == np.floor(count)) & (count < 2**31)):
        raise ValueError("servers must be whole numbers >= 0 in every minute")
    rate_b, count_b = np.broadcast_arrays(rate, count)
    return np.array(rate_b, dtype=np.float64), np.array(count_b, dtype=np.float64)


def _utilisation(rate: FloatArray, count: FloatArray, service: ServiceTime) -> FloatArray:
    """Return lambda E[S] / c, with 0 / 0 = 0 and x / 0 = inf."""
    work = rate * service.mean_s
    rho = np.full(work.shape, np.inf)
    np.divide(work, count, out=rho, where=count > 0.0)
    rho[work == 0.0] = 0.0
    return rho


def _wait_law(
    rate: FloatArray, count: FloatArray, service: ServiceTime
) -> tuple[FloatArray, FloatArray]:
    """Return (P(W > 0), rate of the exponential wait of those who wait) for stable minutes."""
    mu = 1.0 / service.mean_s
    wait_prob = erlang_c(rate / mu, count.astype(np.int64))
    # Allen-Cunneen: E[W | W > 0] = (ca2 + cs2) / 2 / (c mu - lambda), ca2 = 1 for Poisson.
    wait_rate = 2.0 * (count * mu - rate) / (1.0 + service.scv)
    return wait_prob, wait_rate


def _response_tail(
    tail_s: FloatArray, wait_prob: FloatArray, wait_rate: FloatArray, service: ServiceTime
) -> tuple[FloatArray, FloatArray]:
    """Return P(W + X > u) and its density at u = ``tail_s`` (time past the service shift).

    X is the service time less its shift, a mixture of Exp(r_i); W is 0 with
    probability 1 - P(W > 0), else Exp(theta). W + Exp(r) is hypoexponential:
    with m = min(theta, r), M = max(theta, r) and phi(x) = (1 - e^-x) / x,
    P(W + Exp(r) > u) = e^(-m u) (1 + m u phi((M - m) u)) and its density is
    m M u e^(-m u) phi((M - m) u); both are stable when theta ~ r.
    """
    u = np.maximum(tail_s, 0.0)
    survival = np.zeros(u.shape)
    density = np.zeros(u.shape)
    no_wait = 1.0 - wait_prob
    for prob, rate in zip(service.phase_probs, service.phase_rates_per_s, strict=True):
        decay = np.exp(-rate * u)
        low = np.minimum(wait_rate, rate)
        high = np.maximum(wait_rate, rate)
        decay_low = np.exp(-low * u)
        spread = (high - low) * u
        phi = np.ones(u.shape)
        np.divide(-np.expm1(-spread), spread, out=phi, where=spread > 0.0)
        low_u_phi = low * u * phi
        survival += prob * (no_wait * decay + wait_prob * decay_low * (1.0 + low_u_phi))
        density += prob * (no_wait * rate * decay + wait_prob * high * low_u_phi * decay_low)
    return survival, density


def _solve_tail_s(
    wait_prob: FloatArray, wait_rate: FloatArray, service: ServiceTime, alpha: float
) -> FloatArray:
    """Return u with P(W + X > u) = alpha, by safeguarded Newton steps on log P(W + X > u).

    Bracket: T exceeds both W and X, and P(W + X > a + b) <= P(W > a) + P(X > b),
    so u lies between max(W's, X's lower alpha-quantile bounds) and the sum of
    their alpha/2-quantile upper bounds. A Newton step leaving the bracket is
    replaced by bisection.
    """
    rates = np.asarray(service.phase_rates_per_s)
    slow, fast = float(rates.min()), float(rates.max())
    with np.errstate(divide="ignore"):
        log_wait = np.log(wait_prob)
    log_alpha = math.log(alpha)
    # The lower bound is often the answer itself (no waiting): widen it past rounding.
    low = (1.0 - 1e-9) * np.maximum(
        -log_alpha / fast, np.maximum(log_wait - log_alpha, 0.0) / wait_rate
    )
    high = (1.0 + 1e-9) * (
        (math.log(2.0) - log_alpha) / slow
        + np.maximum(log_wait - log_alpha + math.log(2.0), 0.0) / wait_rate
    )
    u = low.copy()
    todo = np.arange(u.size)
    for _ in range(_NEWTON_MAX_STEPS):
        if todo.size == 0:
            break
        u_t, low_t, high_t = u[todo], low[todo], high[todo]
        survival, density = _response_tail(u_t, wait_prob[todo], wait_rate[todo], service)
        is_above = survival > alpha
        low_t = np.where(is_above, u_t, low_t)
        high_t = np.where(is_above, high_t, u_t)
        with np.errstate(divide="ignore", invalid="ignore"):
            proposal = u_t + (np.log(survival) - log_alpha) * survival / density
        inside = np.isfinite(proposal) & (proposal >= low_t) & (proposal <= high_t)
        new_u = np.where(inside, proposal, 0.5 * (low_t + high_t))
        u[todo], low[todo], high[todo] = new_u, low_t, high_t
        todo = todo[np.abs(new_u - u_t) > _NEWTON_RTOL * new_u]
    return u


def _fit_hyperexponential(tail_ratio: float, centre_s: float, *, is_mean: bool) -> ServiceTime:
    """Return the balanced-means H2 whose p99 / centre is ``tail_ratio`` (bisection on cs2).

    Balanced means (Whitt 1982): with cs2 = v, p1 = (1 + sqrt((v - 1) / (v + 1))) / 2,
    rate_i = 2 p_i / mean. The p99 / p50 and p99 / mean ratios grow with v up to v ~ 18.
    """

    def unit_mean(scv: float) -> ServiceTime:
        p1 = 0.5 * (1.0 + math.sqrt((scv - 1.0) / (scv + 1.0)))
        return ServiceTime(0.0, (p1, 1.0 - p1), (2.0 * p1, 2.0 * (1.0 - p1)))

    def ratio(shape: ServiceTime) -> float:
        centre = 1.0 if is_mean else shape.quantile_ms(50.0) / MS_PER_S
        return shape.quantile_ms(99.0) / MS_PER_S / centre

    if tail_ratio > ratio(unit_mean(_MAX_SCV)):
        raise ValueError(
            f"the service time tail is too heavy to model: p99 is {tail_ratio:.1f} times the "
            f"{'mean' if is_mean else 'p50'} (at most {ratio(unit_mean(_MAX_SCV)):.1f} is "
            "supported); check the measurement for outliers such as warm-up requests"
        )
    low, high = 1.0, _MAX_SCV
    for _ in range(60):
        middle = 0.5 * (low + high)
        low, high = (middle, high) if ratio(unit_mean(middle)) < tail_ratio else (low, middle)
    shape = unit_mean(0.5 * (low + high))
    unit_centre_s = 1.0 if is_mean else shape.quantile_ms(50.0) / MS_PER_S
    scale = centre_s / unit_centre_s
    return ServiceTime(0.0, shape.phase_probs, tuple(r / scale for r in shape.phase_rates_per_s))
