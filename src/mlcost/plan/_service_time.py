"""The batch-1 service time of one replica, and the response time ``T = W + S`` in closed form.

``ServiceTime`` is the service time S fitted to the profiler's batch-1
percentiles: a shift plus a mixture of exponentials, a shifted exponential
when the tail is no heavier than an exponential's, else a balanced-means
two-phase hyperexponential (Whitt 1982, "Approximating a point process by a
renewal process, I: Two basic methods", Operations Research 30(1):125-147).
The latency model (``_queueing.py``) gives each minute's wait W the form
``_Wait``: none, or a delay followed by an exponential tail. From them:

- the response time ``T = W + S``, W independent of S under FCFS: S is a
  shift plus a mixture of exponentials, so ``P(T > t)`` is a closed-form sum
  of exponentials and hypoexponentials (``_response_tail``), inverted by
  safeguarded Newton steps to a relative 1e-10 (``_solve_tail_s``); a
  percentile of S alone is the same inversion with no wait;
- the moment generating function of S and its slope, whose root gives the
  Cramer-Lundberg tail of the wait (``_queueing._decay_table``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from mlcost.core import PlanError, Profile

FloatArray = npt.NDArray[np.float64]

_MS_PER_S = 1000.0
# The median and the p99 of an exponential lie ln 2 and ln 100 means above its start.
_LN_2 = math.log(2.0)
_LN_100 = math.log(100.0)
# Past this squared coefficient of variation the p99 of a balanced-means H2 stops growing
# with it (the slow phase gets rarer than 1 %), so heavier tails cannot be fitted.
_MAX_SCV = 16.0
_NEWTON_MAX_STEPS = 100
_NEWTON_RTOL = 1e-10
_BISECTION_STEPS = 100


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

    def scaled(self, factor: float) -> ServiceTime:
        """The same shape, every time ``factor`` times longer."""
        return ServiceTime(
            self.shift_s * factor,
            self.phase_probs,
            tuple(rate / factor for rate in self.phase_rates_per_s),
        )

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
