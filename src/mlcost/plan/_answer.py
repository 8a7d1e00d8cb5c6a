"""From a search to an answer: the winner, the waterfall that reaches it, and what else was weighed.

The winner is the cheapest candidate the full latency model confirms; around it the
Plan shows the runners-up (the best other option per variant, pricing, machine type
and platform, and the nearest cheaper miss, each with why it lost), the Pareto front,
the best option of every platform, a commitment on the always-on nodes, the winner's
sensitivity, how old its prices are, and the savings waterfall (``_waterfall``). Every
option carries its month's kgCO2e; the ranking stays by dollars, and a region of the
winner's provider that is cleaner at a similar cost is pointed out (``_carbon_notes``).
When nothing meets the SLO, ``binding_constraint`` names what to relax.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date

from mlcost.catalog import Catalog
from mlcost.core import (
    PLATFORMS,
    Plan,
    PlanError,
    PlanOption,
    SavingsPlanAdvice,
    SensitivityRow,
    SloResult,
)
from mlcost.cost import HOURS_PER_MONTH
from mlcost.plan._carbon import candidate_carbon
from mlcost.plan._checked import Checked, rank, to_option
from mlcost.plan._risk import is_spot, sensitivity
from mlcost.plan._search import Candidate, Search
from mlcost.plan._waterfall import waterfall

_RUNNERS_UP = 8


def answer(
    search: Search, catalog: Catalog, *, current_variant: str, today: date | None = None
) -> Plan:
    """The Plan for ``search``; raises PlanError naming the binding constraint when none fits."""
    checked = Checked(search, {}, {})
    found = checked.cheapest(search.candidates)
    if found is None:
        raise PlanError(binding_constraint(search))
    winner, winner_slo = found
    met = [c for c in search.candidates if c.is_screened_in]
    winner_option = to_option(winner, winner_slo, checked.search, risk=checked.risk(winner))
    runners = _runners_up(winner, search, checked)
    pareto = _pareto(met, checked)
    bars, waterfall_notes = waterfall(search, catalog, checked, current_variant)
    is_estimated = winner.speed.replica.basis != "measured"
    requests_per_month = search.requests_per_month
    carbon_notes, cleaner = _carbon_notes(winner, winner_option, checked)
    return Plan(
        workload=search.workload.name or "workload",
        horizon_days=search.workload.horizon_days,
        requests=float(search.arrivals_per_s.sum() * 60.0),
        latency_ms=search.workload.slo.latency_ms,
        latency_percentile=search.workload.slo.latency_percentile,
        accuracy_floor=search.accuracy_floor,
        winner=winner_option,
        runners_up=runners,
        pareto=pareto,
        waterfall=bars,
        savings_plan=_savings_plan(winner, catalog),
        platforms=_best_per_platform(winner, search, checked),
        is_estimated=is_estimated,
        confirm_by=winner.speed.replica.confirm_by if is_estimated else "",
        candidates_simulated=len(search.candidates),
        candidates_meeting_slo=len(met),
        search_s=search.seconds,
        usd_per_1k_predictions=(
            winner.monthly_usd / requests_per_month * 1000.0 if requests_per_month else 0.0
        ),
        excluded=search.excluded + waterfall_notes + tuple(_unfit_summary(search)),
        sensitivity=_sensitivity(winner, search, checked),
        price_notes=price_notes(winner_option, today=today or date.today()),
        carbon_notes=carbon_notes,
        cleaner=cleaner,
    )


# A region at most this much dearer than the winner is "at a similar cost", and is pointed
# out when its kgCO2e is at least this much lower; the winner stays the cheapest.
CLEANER_COST_BAND = 0.05
CLEANER_CO2_CUT = 0.20


def _carbon_notes(
    winner: Candidate, option: PlanOption, checked: Checked
) -> tuple[tuple[str, ...], tuple[PlanOption, ...]]:
    """What the winner's kgCO2e rests on, and the cheapest option of each other region of its
    provider that is within the cost band and cleaner by the cut (or that none is)."""
    search, carbon = checked.search, option.carbon
    if carbon is None:
        return (f"energy and CO2e not estimated: {candidate_carbon(winner, search)[1]}",), ()
    notes = [
        f"{carbon.kg_co2e:,.2f} kgCO2e a month ({carbon.energy_kwh:,.1f} kWh at "
        f"{carbon.g_co2e_per_kwh:.0f} gCO2e/kWh), {carbon.method}"
    ]
    provider, home = option.offer.provider, option.offer.region
    regions = dict.fromkeys(
        c.speed.offer.region for c in search.candidates if c.speed.offer.provider == provider
    )
    others = [region for region in regions if region != home]
    if not others:
        notes.append(
            f"only {provider} {home} was searched, so no cleaner region was weighed; allow "
            "other regions in constraints.regions to compare"
        )
        return tuple(notes), ()
    cleaner = []
    for region in others:
        pool = [
            c
            for c in search.candidates
            if c.speed.offer.provider == provider and c.speed.offer.region == region
        ]
        found = checked.cheapest(pool)
        if found is None:
            continue
        best, slo = found
        other = to_option(
            best, slo, search, why_not=_why_not(best, slo, winner), risk=checked.risk(best)
        )
        if other.carbon is None or other.monthly_usd > option.monthly_usd * (1 + CLEANER_COST_BAND):
            continue
        if other.carbon.kg_co2e > carbon.kg_co2e * (1 - CLEANER_CO2_CUT):
            continue
        cleaner.append(other)
        extra = other.monthly_usd / option.monthly_usd - 1 if option.monthly_usd else 0.0
        notes.append(
            f"cleaner at a similar cost: {other.label} costs ${other.monthly_usd:,.2f}/month "
            f"({extra:+.1%}) and emits {other.carbon.kg_co2e:,.2f} kgCO2e a month "
            f"({other.carbon.kg_co2e / carbon.kg_co2e - 1:+.0%}; its grid "
            f"{other.carbon.g_co2e_per_kwh:.0f} vs {carbon.g_co2e_per_kwh:.0f} gCO2e/kWh); "
            "the plan is ranked by dollars, so it is not the winner"
        )
    if not cleaner:
        notes.append(
            f"no other {provider} region weighed ({', '.join(others)}) is within "
            f"{CLEANER_COST_BAND:.0%} of the winner's cost and {CLEANER_CO2_CUT:.0%} cleaner"
        )
    return tuple(notes), tuple(cleaner)


def _sensitivity(winner: Candidate, search: Search, checked: Checked) -> tuple[SensitivityRow, ...]:
    """The winner's sensitivity; a serverless winner also shows the best spot machine option's,
    so the spot risk it avoids is on the page."""
    rows = sensitivity(winner, search, checked.over_seeds(winner) if is_spot(winner) else None)
    if winner.platform != "serverless":
        return rows
    machines = [c for c in search.candidates if c.platform != "serverless" and is_spot(c)]
    found = checked.cheapest(machines)
    if found is None:
        return rows
    best = found[0]
    name = f"{best.speed.variant.name} on {best.speed.offer.instance_type} {best.pricing}"
    more = sensitivity(best, search, checked.over_seeds(best))
    return rows + tuple(replace(row, case=f"{name}: {row.case}") for row in more)


# Prices older than this are flagged: spot prices and list prices move within a quarter.
STALE_PRICE_DAYS = 90


def price_notes(option: PlanOption, *, today: date) -> tuple[str, ...]:
    """How old the prices behind ``option`` are: undated ones, and any past 90 days."""
    notes: list[str] = []
    charged = [line for line in option.cost.lines if line.is_charged and line.usd_per_month > 0]
    undated = [line.item for line in charged if line.as_of is None]
    if undated:
        notes.append(
            f"{len(undated)} of {len(charged)} charged prices have no date in their source: "
            + "; ".join(undated[:4])
            + (" ..." if len(undated) > 4 else "")
        )
    for line in charged:
        if line.as_of is not None and (today - line.as_of).days > STALE_PRICE_DAYS:
            notes.append(
                f"{line.item}: price as of {line.as_of} is {(today - line.as_of).days} days old "
                f"(over {STALE_PRICE_DAYS}); refresh it with mlcost catalog import"
            )
    risk = option.spot_risk
    if risk is not None:
        notes.append(f"spot interruption rate: {risk.interruption_basis}")
    return tuple(notes)


def _why_not(candidate: Candidate, slo: SloResult, winner: Candidate) -> str:
    if not slo.is_met:
        return (
            f"misses the SLO: {slo.minutes_over_slo} minutes over p{slo.latency_percentile:g} "
            f"{slo.latency_ms:g} ms (allowed {slo.allowed_minutes_over_slo}), "
            f"{slo.share_of_requests_over_slo:.2%} of requests slower"
        )
    extra = candidate.monthly_usd - winner.monthly_usd
    if extra < 0.005:
        mine, best = candidate.speed.replica.latency_ms_p99, winner.speed.replica.latency_ms_p99
        if mine > best:
            gain = ((candidate.speed.accuracy or 0.0) - (winner.speed.accuracy or 0.0)) * 100
            more = f", though {gain:.2f} pt more accurate" if gain > 0.005 else ""
            return f"same cost, slower: replica p99 {mine:.1f} ms vs {best:.1f} ms{more}"
        if candidate.scaling == "fixed" and winner.scaling == "autoscaled":
            return "same cost and speed; the winner is autoscaled and follows traffic growth"
        return "same cost and speed; ranked after the winner by machine name"
    share = extra / winner.monthly_usd if winner.monthly_usd else 0.0
    return f"costs ${extra:,.2f}/month more (+{share:.0%})"


def _runners_up(winner: Candidate, search: Search, checked: Checked) -> tuple[PlanOption, ...]:
    """The best other option per variant, per pricing, per machine type; and a cheaper miss."""
    groups: list[Callable[[Candidate], object]] = [
        lambda c: c.speed.variant.name,
        lambda c: (c.pricing, c.scaling),
        lambda c: c.speed.offer.instance_type,
        lambda c: c.platform,
    ]
    chosen: list[Candidate] = []
    for key in groups:
        seen = {key(winner)}
        for candidate in sorted(search.candidates, key=rank):
            if not candidate.is_screened_in or key(candidate) in seen or candidate is winner:
                continue
            seen.add(key(candidate))
            if candidate not in chosen:
                chosen.append(candidate)
            if len(seen) > 3:
                break
    cheaper_misses = [
        c for c in search.candidates if not c.is_screened_in and c.monthly_usd < winner.monthly_usd
    ]
    if cheaper_misses:
        chosen.append(max(cheaper_misses, key=lambda c: c.monthly_usd))  # the nearest miss
    options = []
    for candidate in sorted(chosen, key=rank)[:_RUNNERS_UP]:
        slo = checked.slo(candidate)
        options.append(
            to_option(
                candidate,
                slo,
                checked.search,
                why_not=_why_not(candidate, slo, winner),
                risk=checked.risk(candidate),
            )
        )
    return tuple(options)


def _pareto(met: Sequence[Candidate], checked: Checked) -> tuple[PlanOption, ...]:
    """Options no other beats on all of cost, replica p99 latency and accuracy."""

    def point(c: Candidate) -> tuple[float, float, float]:
        return (c.monthly_usd, c.speed.replica.latency_ms_p99, -(c.speed.accuracy or 0.0))

    front: list[Candidate] = []
    for candidate in sorted(met, key=point):
        p = point(candidate)
        if any(all(a <= b for a, b in zip(point(f), p, strict=True)) for f in front):
            continue
        front.append(candidate)
    options = []
    for candidate in front[:_RUNNERS_UP]:
        slo = checked.slo(candidate)
        if slo.is_met:
            options.append(to_option(candidate, slo, checked.search, risk=checked.risk(candidate)))
    return tuple(options)


def _savings_plan(winner: Candidate, catalog: Catalog) -> SavingsPlanAdvice | None:
    """A commitment on the always-on nodes only; upper-bound rates are flagged as such."""
    run, offer = winner.run, winner.speed.offer
    nodes = int(run.always_on_nodes)
    if nodes < 1 or winner.pricing == "savings":
        return None
    commitments = catalog.commitments_for(offer)
    if not commitments:
        return None
    best = max(commitments, key=lambda c: c.discount_fraction)
    # The always-on nodes run at the price the winner pays for them today.
    paid = offer.spot_usd_per_hour if winner.pricing == "spot" else offer.on_demand_usd_per_hour
    committed = offer.on_demand_usd_per_hour * (1.0 - best.discount_fraction)
    saved = (paid or 0.0) - committed
    if saved <= 0:
        return None
    return SavingsPlanAdvice(
        commitment=f"{best.name} {best.term_years}y",
        nodes=nodes,
        instance_type=offer.instance_type,
        discount_fraction=best.discount_fraction,
        is_upper_bound=best.is_upper_bound,
        saved_usd_per_month=saved * nodes * HOURS_PER_MONTH,
        source=best.source,
    )


def _best_per_platform(
    winner: Candidate, search: Search, checked: Checked
) -> tuple[PlanOption, ...]:
    """The cheapest option of every platform weighed that meets the SLO, the winner's included."""
    options = []
    for platform in PLATFORMS:
        pool = [c for c in search.candidates if c.platform == platform]
        found = checked.cheapest(pool)
        if found is None:
            continue
        candidate, slo = found
        why = "" if candidate is winner else _why_not(candidate, slo, winner)
        options.append(
            to_option(candidate, slo, checked.search, why_not=why, risk=checked.risk(candidate))
        )
    return tuple(sorted(options, key=lambda o: o.monthly_usd))


def _unfit_summary(search: Search) -> list[str]:
    reasons: dict[str, dict[str, None]] = {}
    for unfit in search.unfit:
        provider, region, machine = unfit.offer_key
        reasons.setdefault(unfit.reason, {})[f"{unfit.variant}@{machine} ({provider} {region})"] = (
            None
        )
    lines = []
    for reason, found in reasons.items():
        where = list(found)
        shown = ", ".join(where[:3]) + (f" and {len(where) - 3} more" if len(where) > 3 else "")
        lines.append(f"{shown}: {reason}")
    return lines


def binding_constraint(search: Search) -> str:
    """One line: why nothing meets the SLO, and what to relax."""
    slo = search.workload.slo
    target = f"p{slo.latency_percentile:g} <= {slo.latency_ms:g} ms"
    too_slow = [u for u in search.unfit if u.latency_ms_p99 is not None]
    if not search.speeds and too_slow:
        fastest = min(too_slow, key=lambda u: u.latency_ms_p99 or 0.0)
        p99 = fastest.latency_ms_p99 or 0.0
        return (
            f"binding constraint: the latency SLO {target}: the fastest replica "
            f"({fastest.variant} on {fastest.offer_key[2]}) has p99 {p99:.1f} ms alone; relax "
            f"slo.latency_ms above {p99 * 1.5:.0f}, allow a lower accuracy floor for a faster "
            "variant, or allow faster machines"
        )
    if not search.speeds:
        if search.unfit:
            fastest = min(search.unfit, key=lambda u: u.reason)
            return (
                f"binding constraint: no allowed machine can serve any variant within the "
                f"accuracy floor {search.accuracy_floor:.2%} ({fastest.variant} on "
                f"{fastest.offer_key[2]}: {fastest.reason}); allow more machines "
                "(constraints.accelerators, constraints.regions) or relax slo.latency_ms"
            )
        return "binding constraint: no candidate to simulate; widen constraints"
    best = min(search.speeds, key=lambda s: s.replica.latency_ms_p99)
    if all(c.minutes_over_slo > search.allowed_minutes for c in search.candidates):
        return (
            f"binding constraint: the latency SLO {target}: no candidate meets it for enough "
            f"minutes; the fastest replica ({best.variant.name} on {best.offer.instance_type}) "
            f"has p99 {best.replica.latency_ms_p99:.1f} ms alone ({best.replica.basis}); relax "
            f"slo.latency_ms above {best.replica.latency_ms_p99 * 1.5:.0f}, allow a lower "
            "accuracy floor for a faster variant, or allow faster machines"
        )
    return (
        f"binding constraint: the latency SLO {target} over the month: candidates pass the "
        "per-minute screen but too many requests are slower than the SLO; relax slo.latency_ms "
        "or raise constraints.min_replicas"
    )
