"""SLO checks of a candidate: exactly over its month, and over many months of spot reclaims;
and the winner's sensitivity to what the plan assumed.

A spot month is one draw of reclaims, so one seed proves little: a fleet that drew no
reclaim shows "0 minutes over" whatever its risk. A spot or mixed candidate is
therefore simulated again over ``SearchSettings.risk_seeds`` seeds; the minutes over
the SLO of each month come from the per-minute screen (exact: a minute is over when
its arrivals exceed what its ready replicas take), the full latency model then runs on
the 95th-percentile month, and that month's result is the candidate's SLO result. The
bill of each month is priced on the candidate's platform, so the mean and the 95th
percentile cost include the on-demand hours of fallbacks.

The sensitivity table re-runs the winner with one assumption changed: the spot price
+/-50 %, the interruption rate x3 and x10, twice the traffic (same scaling limits),
and, for an all-spot winner, the same fleet with an on-demand base for its minimum.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from mlcost.core import SensitivityRow, SloResult, SpotRisk
from mlcost.plan._queueing import latency_ms_percentile, violations
from mlcost.plan._search import Candidate, Choice, Search, simulate
from mlcost.plan._service_time import ServiceTime

FloatArray = npt.NDArray[np.float64]
_P95 = 95.0
# Lambda's default concurrency quota per account and region (a soft limit, raised on request).
_LAMBDA_CONCURRENCY = 1000


def check_exactly(
    candidate: Candidate, search: Search, *, arrivals_per_s: FloatArray | None = None
) -> SloResult:
    """The full latency model over every minute of ``candidate``'s month."""
    slo = search.workload.slo
    arrivals = search.arrivals_per_s if arrivals_per_s is None else arrivals_per_s
    ready = candidate.run.ready_replicas
    if candidate.credits is not None and candidate.credits.throttled_minutes:
        # Held to its baseline, a node wants more CPU than it may use: its queue only grows.
        ready = np.where(candidate.credits.throttled, 0, ready)
    balancing = search.workload.platform.load_balancing
    result = violations(
        arrivals,
        ready,
        candidate.speed.service,
        slo_ms=slo.latency_ms,
        percentile=slo.latency_percentile,
        balancing=balancing,
    )
    busiest = int(np.argmax(arrivals / np.maximum(ready, 1)))
    worst = float(
        latency_ms_percentile(
            arrivals[busiest : busiest + 1],
            ready[busiest : busiest + 1],
            candidate.speed.service,
            slo.latency_percentile,
            balancing=balancing,
        )[0]
    )
    tail_share = 1.0 - slo.latency_percentile / 100.0
    is_met = (
        result.minutes_over_slo <= search.allowed_minutes
        and result.requests_over_slo <= tail_share * result.requests
    )
    return SloResult(
        latency_ms=slo.latency_ms,
        latency_percentile=slo.latency_percentile,
        minutes=result.minutes,
        minutes_over_slo=result.minutes_over_slo,
        allowed_minutes_over_slo=search.allowed_minutes,
        requests=result.requests,
        requests_over_slo=result.requests_over_slo,
        worst_latency_ms=worst,
        is_met=is_met,
    )


@dataclass(frozen=True, slots=True)
class Months:
    """A candidate simulated over many seeds: the P95 month's SLO result and the risk."""

    slo: SloResult
    risk: SpotRisk


def is_spot(candidate: Candidate) -> bool:
    return candidate.pricing in ("spot", "mixed") and candidate.choice is not None


def over_seeds(
    candidate: Candidate,
    search: Search,
    *,
    rate_factor: float = 1.0,
    arrivals_per_s: FloatArray | None = None,
) -> Months:
    """``candidate`` re-simulated over ``risk_seeds`` seeds (its spot rate x ``rate_factor``)."""
    assert candidate.choice is not None
    kind, scaling, spot, commitment, price = candidate.choice
    choice = (
        kind,
        scaling,
        replace(spot, interruptions_per_node_hour=spot.interruptions_per_node_hour * rate_factor),
        commitment,
        price,
    )
    arrivals = search.arrivals_per_s if arrivals_per_s is None else arrivals_per_s
    months = [
        _month(candidate, search, choice, arrivals, seed)
        for seed in range(search.settings.risk_seeds)
    ]
    minutes = np.array([m.minutes_over_slo for m in months], dtype=np.float64)
    costs = np.array([m.monthly_usd for m in months])
    reclaims = np.array([m.run.interruptions for m in months], dtype=np.float64)
    p95_minutes = float(np.percentile(minutes, _P95))
    # The month at the 95th percentile of minutes over gets the full latency model.
    order = np.argsort(minutes, kind="stable")
    at_p95 = months[int(order[min(len(order) - 1, math.ceil(0.95 * len(order)) - 1)])]
    slo = check_exactly(at_p95, search, arrivals_per_s=arrivals)
    worst_nodes = max((int(m.run.reclaimed_nodes.max(initial=0)) for m in months), default=0)
    worst_ready = min(int(m.run.ready_replicas.min()) for m in months)
    rate = spot.interruptions_per_node_hour * rate_factor
    risk = SpotRisk(
        seeds=len(months),
        monthly_usd_mean=float(costs.mean()),
        monthly_usd_p95=float(np.percentile(costs, _P95)),
        minutes_over_slo_mean=float(minutes.mean()),
        minutes_over_slo_p95=p95_minutes,
        reclaims_mean=float(reclaims.mean()),
        reclaims_p95=float(np.percentile(reclaims, _P95)),
        worst_reclaim_nodes=worst_nodes,
        worst_ready_replicas=worst_ready,
        interruptions_per_node_hour=rate,
        interruption_basis=search.platforms.interruption_basis(candidate.speed.offer),
    )
    return Months(slo, risk)


def _month(
    candidate: Candidate, search: Search, choice: Choice, arrivals: FloatArray, seed: int
) -> Candidate:
    """``candidate``'s fleet bought as ``choice``, simulated for one seed, on its platform."""
    month = simulate(
        candidate.speed,
        choice,
        arrivals,
        search.workload,
        search.platforms.catalog,
        search.allowed_minutes,
        replace(search.settings, seed=seed),
    )
    return search.platforms.priced_on(month, candidate.platform)


def sensitivity(
    winner: Candidate, search: Search, months: Months | None
) -> tuple[SensitivityRow, ...]:
    """The winner under changed assumptions (module docstring)."""
    if winner.platform == "serverless":
        return _function_sensitivity(winner, search)
    if winner.choice is None:
        return ()
    rows: list[SensitivityRow] = []

    def row(case: str, found: Months | None, candidate: Candidate, note: str = "") -> None:
        if found is None:
            slo = check_exactly(candidate, search)
            rows.append(
                SensitivityRow(
                    case,
                    candidate.monthly_usd,
                    candidate.monthly_usd,
                    float(slo.minutes_over_slo),
                    slo.is_met,
                    note,
                )
            )
            return
        rows.append(
            SensitivityRow(
                case,
                found.risk.monthly_usd_mean,
                found.risk.monthly_usd_p95,
                found.risk.minutes_over_slo_p95,
                found.slo.is_met,
                note,
            )
        )

    spot = is_spot(winner)
    row("as planned", months, winner)
    if spot:
        for factor in (0.5, 1.5):
            priced = _spot_price_scaled(winner, factor)
            rows.append(
                SensitivityRow(
                    f"spot price x{factor:g}",
                    _scaled_mean(months, winner, priced),
                    _scaled_mean(months, winner, priced, p95=True),
                    months.risk.minutes_over_slo_p95 if months else 0.0,
                    months.slo.is_met if months else True,
                    "same fleet, spot lines repriced",
                )
            )
        for factor in (3.0, 10.0):
            row(
                f"interruption rate x{factor:g}",
                over_seeds(winner, search, rate_factor=factor),
                winner,
            )
    doubled = search.arrivals_per_s * 2.0
    if spot:
        row(
            "traffic x2",
            over_seeds(winner, search, arrivals_per_s=doubled),
            winner,
            "same scaling limits",
        )
    else:
        month = _month(winner, search, winner.choice, doubled, search.settings.seed)
        slo = check_exactly(month, search, arrivals_per_s=doubled)
        rows.append(
            SensitivityRow(
                "traffic x2",
                month.monthly_usd,
                month.monthly_usd,
                float(slo.minutes_over_slo),
                slo.is_met,
                "same scaling limits",
            )
        )
    if winner.pricing == "spot":
        base = next(
            (
                c
                for c in search.candidates
                if c.speed is winner.speed
                and c.scaling == winner.scaling
                and c.platform == winner.platform
                and c.pricing == "mixed"
            ),
            None,
        )
        if base is not None:
            row("on-demand base (mixed)", over_seeds(base, search), base, "min replicas on-demand")
    return tuple(rows)


def _spot_price_scaled(candidate: Candidate, factor: float) -> float:
    """The monthly cost change when the spot lines cost ``factor`` times as much."""
    spot = candidate.cost.spot_usd_per_month
    return spot * (factor - 1.0)


def _scaled_mean(
    months: Months | None, candidate: Candidate, change: float, *, p95: bool = False
) -> float:
    if months is None:
        return candidate.monthly_usd + change
    base = months.risk.monthly_usd_p95 if p95 else months.risk.monthly_usd_mean
    return base + change


def _function_sensitivity(winner: Candidate, search: Search) -> tuple[SensitivityRow, ...]:
    """A serverless winner: its bill scales with requests and duration; no queue, no spot."""
    cost, slo = winner.cost, winner.slo
    assert slo is not None
    per_request = sum(
        line.usd_per_month
        for line in cost.lines
        if line.category in ("compute", "platform", "transfer")
    )
    duration = sum(line.usd_per_month for line in cost.lines if "duration" in line.item)
    service = winner.speed.service
    assert isinstance(service, ServiceTime)  # a function serves one request at a time
    slower = service.quantile_ms(slo.latency_percentile) * 2.0
    budget = search.workload.slo.latency_ms
    peak = int(winner.run.desired_replicas.max())
    return (
        SensitivityRow(
            "as planned",
            cost.total_usd_per_month,
            cost.total_usd_per_month,
            float(slo.minutes_over_slo),
            slo.is_met,
        ),
        SensitivityRow(
            "traffic x2",
            cost.total_usd_per_month + per_request,
            cost.total_usd_per_month + per_request,
            float(slo.minutes_over_slo),
            slo.is_met and 2 * peak <= _LAMBDA_CONCURRENCY,
            f"requests, duration and transfer double; {2 * peak} instances at the peak "
            f"(account default limit {_LAMBDA_CONCURRENCY:,})",
        ),
        SensitivityRow(
            "duration x2 (the estimate off by 2x)",
            cost.total_usd_per_month + duration,
            cost.total_usd_per_month + duration,
            0.0 if slower <= budget else float(slo.minutes),
            slo.is_met and slower <= budget,
            f"warm p{slo.latency_percentile:g} {slower:.0f} ms against {budget:g} ms",
        ),
    )
