"""From a search to an answer: the winner, the waterfall that reaches it, and what else was weighed.

The waterfall is a chain of ever wider searches over the same simulated candidates,
so every bar is a configuration that meets the SLO and the bars only fall:

1. the current setup, at its catalog (or stated) price;
2. autoscaling: the current model on the current machine type and pricing, autoscaled;
3. spot: the same, with spot or mixed pricing allowed;
4. compression and hardware change: any variant within the floor on any allowed machine;
5. anything further (a commitment on the always-on baseline): the winner.

A bar whose search finds nothing that meets the SLO is shown as not reachable and
the chain goes on from the bar before it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date

from mlcost.catalog import Catalog
from mlcost.core import (
    PLATFORMS,
    BillLine,
    CostBreakdown,
    Plan,
    PlanError,
    PlanOption,
    SavingsPlanAdvice,
    SensitivityRow,
    SloResult,
    SpotRisk,
    WaterfallBar,
)
from mlcost.cost import HOURS_PER_MONTH
from mlcost.plan._bill import fixed_costs, storage_and_transfer_lines
from mlcost.plan._platform import fleet_lines
from mlcost.plan._risk import Months, check_exactly, is_spot, over_seeds, sensitivity
from mlcost.plan._search import Candidate, Search

_RUNNERS_UP = 8


@dataclass(slots=True)
class _Checked:
    """Exact SLO results, computed once per simulated month (spot ones over many seeds)."""

    search: Search
    results: dict[int, SloResult]
    months: dict[tuple[int, str], Months]

    def slo(self, candidate: Candidate) -> SloResult:
        if candidate.slo is not None:
            return candidate.slo
        if is_spot(candidate):
            return self.over_seeds(candidate).slo
        key = id(candidate.run)  # platforms share one fleet run, and so its SLO result
        if key not in self.results:
            self.results[key] = check_exactly(candidate, self.search)
        return self.results[key]

    def over_seeds(self, candidate: Candidate) -> Months:
        key = (id(candidate.run), candidate.platform)
        if key not in self.months:
            self.months[key] = over_seeds(candidate, self.search)
        return self.months[key]

    def risk(self, candidate: Candidate) -> SpotRisk | None:
        return self.over_seeds(candidate).risk if is_spot(candidate) else None

    def cheapest(self, pool: Sequence[Candidate]) -> tuple[Candidate, SloResult] | None:
        """The cheapest screened-in candidate of ``pool`` that the exact check confirms.

        Candidates are checked in rank order until one is confirmed, so usually only the
        first gets the full latency model.
        """
        ranked = sorted((c for c in pool if c.is_screened_in), key=_rank)
        for candidate in ranked:
            result = self.slo(candidate)
            if result.is_met:
                return candidate, result
        return None


def _rank(candidate: Candidate) -> tuple[float, float, int, str, str]:
    """Cheapest first; on a tie the lower p99, then autoscaled (it follows traffic growth)."""
    return (
        round(candidate.monthly_usd, 2),
        candidate.speed.replica.latency_ms_p99,
        0 if candidate.scaling == "autoscaled" else 1,
        candidate.speed.offer.instance_type,
        candidate.platform,
    )


def answer(
    search: Search, catalog: Catalog, *, current_variant: str, today: date | None = None
) -> Plan:
    """The Plan for ``search``; raises PlanError naming the binding constraint when none fits."""
    checked = _Checked(search, {}, {})
    found = checked.cheapest(search.candidates)
    if found is None:
        raise PlanError(binding_constraint(search))
    winner, winner_slo = found
    met = [c for c in search.candidates if c.is_screened_in]
    winner_option = to_option(winner, winner_slo, risk=checked.risk(winner))
    runners = _runners_up(winner, search, checked)
    pareto = _pareto(met, checked)
    waterfall, waterfall_notes = _waterfall(search, catalog, checked, current_variant)
    is_estimated = winner.speed.replica.basis != "measured"
    requests_per_month = search.requests_per_month
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
        waterfall=waterfall,
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
    )


def _sensitivity(
    winner: Candidate, search: Search, checked: _Checked
) -> tuple[SensitivityRow, ...]:
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


def _runners_up(winner: Candidate, search: Search, checked: _Checked) -> tuple[PlanOption, ...]:
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
        for candidate in sorted(search.candidates, key=_rank):
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
    for candidate in sorted(chosen, key=_rank)[:_RUNNERS_UP]:
        slo = checked.slo(candidate)
        options.append(
            to_option(
                candidate,
                slo,
                why_not=_why_not(candidate, slo, winner),
                risk=checked.risk(candidate),
            )
        )
    return tuple(options)


def _pareto(met: Sequence[Candidate], checked: _Checked) -> tuple[PlanOption, ...]:
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
            options.append(to_option(candidate, slo, risk=checked.risk(candidate)))
    return tuple(options)


# The waterfall's dimensions, each one change a bar may make, with its label.
_CHANGES: tuple[tuple[str, str], ...] = (
    ("scaling", "autoscaling"),
    ("pricing", "spot"),
    ("commitment", "commitment"),
    ("variant", "compression"),
    ("machine", "hardware change"),
    ("provider", "provider change"),
    ("platform", "platform change"),
)


def _dimension(candidate: Candidate, change: str) -> object:
    """The value of one waterfall dimension for a candidate; None where it has none."""
    offer = candidate.speed.offer
    serverless = candidate.platform == "serverless"
    values: dict[str, object] = {
        "scaling": None if serverless else candidate.scaling,
        # A commitment covers on-demand nodes: its own dimension, on-demand here.
        "pricing": None if serverless else candidate.pricing.replace("savings", "on-demand"),
        "commitment": candidate.pricing == "savings",
        "variant": candidate.speed.variant.name,
        "machine": None if serverless else (offer.region, offer.instance_type),
        "provider": offer.provider,
        "platform": candidate.platform,
    }
    return values[change]


def _waterfall(
    search: Search, catalog: Catalog, checked: _Checked, current_variant: str
) -> tuple[tuple[WaterfallBar, ...], tuple[str, ...]]:
    """Today's bill, then one change per bar, the change that saves most first.

    Each bar frees one dimension of today's setup (scaling, spot pricing, a
    commitment, the variant, the machine, the provider, the platform) and takes the
    cheapest candidate that keeps the others as they are and meets the SLO. A
    dimension the workload does not allow is left out with the reason; dimensions
    that save nothing on their own are freed together at the end, where a
    combination (another variant on another platform) may save more.
    """
    workload = search.workload
    current = workload.current
    if current is None:
        return (), ()
    today = _today(search, catalog, current_variant)
    bars = [
        WaterfallBar(
            f"today: {current.count:g} x {current.instance_type} {current.pricing}, "
            f"{current.scaling}, {today.platform_service}",
            today.cost.total_usd_per_month,
            0.0,
            None,
            today.basis,
            today.cost,
        )
    ]
    fixed: dict[str, object] = {
        "scaling": current.scaling,
        "pricing": "spot" if current.pricing == "spot" else "on-demand",
        "commitment": current.pricing.startswith("savings"),
        "variant": current_variant,
        "machine": (current.region, current.instance_type),
        "provider": current.provider,
        "platform": current.platform,
    }
    notes: list[str] = []
    rules = workload.constraints
    if rules.max_spot_share == 0.0:
        notes.append("waterfall: no spot bar: constraints.max_spot_share is 0 (spot not allowed)")
    if not rules.commitments:
        notes.append("waterfall: no commitment bar: constraints.commitments allows none")
    open_changes = list(_CHANGES)

    def pool(free: set[str]) -> list[Candidate]:
        """Candidates that keep today's value on every dimension not in ``free``."""
        return [
            c
            for c in search.candidates
            if all(
                key in free
                or _dimension(c, key) == value
                or (_dimension(c, key) is None and "platform" in free)
                for key, value in fixed.items()
            )
        ]

    previous = today.cost.total_usd_per_month
    free: set[str] = set()
    while open_changes:
        best: tuple[float, str, str, Candidate, SloResult] | None = None
        for key, label in open_changes:
            trial = free | {key} | ({"machine"} if key == "provider" else set())
            found = checked.cheapest(pool(trial))
            if found is not None and (best is None or found[0].monthly_usd < best[0]):
                best = (found[0].monthly_usd, key, label, found[0], found[1])
        if best is None or best[0] > previous - 0.005:
            break
        _, key, label, candidate, slo = best
        free |= {key} | ({"machine"} if key == "provider" else set())
        open_changes = [(k, lab) for k, lab in open_changes if k not in free]
        bars.append(_bar(label, candidate, slo, previous, checked))
        previous = candidate.monthly_usd
    if open_changes:
        found = checked.cheapest(pool(free | {k for k, _ in open_changes}))
        if found is not None and found[0].monthly_usd < previous - 0.005:
            label = " + ".join(lab for _, lab in open_changes)
            bars.append(_bar(label, found[0], found[1], previous, checked))
    return tuple(bars), tuple(notes)


@dataclass(frozen=True, slots=True)
class _Today:
    cost: CostBreakdown
    basis: str
    platform_service: str


def _today(search: Search, catalog: Catalog, current_variant: str) -> _Today:
    """Today's setup billed like a candidate: its machines, its platform, storage, transfer."""
    workload = search.workload
    current = workload.current
    assert current is not None
    offer = catalog.offer(current.instance_type, region=current.region, provider=current.provider)
    price = current.usd_per_hour
    basis = "stated by the user" if price is not None else "catalog list price"
    if offer is None:
        raise PlanError(
            f"current: {current.instance_type} is not in the catalog for {current.provider} "
            f"{current.region}; import its price (mlcost catalog import) so its platform, "
            "storage and transfer can be billed too"
        )
    if price is None:
        wanted = offer.usd_per_hour(is_spot=current.pricing == "spot")
        if wanted is None:
            raise PlanError(
                f"current: the catalog has no {current.pricing} price for {current.instance_type}; "
                "give current.usd_per_hour"
            )
        price = wanted
    pricing = "spot" if current.pricing == "spot" else "on-demand"
    node_hours = current.count * HOURS_PER_MONTH
    source = "your stated price (current.usd_per_hour)" if current.usd_per_hour else offer.source
    compute = BillLine(
        "compute",
        f"{current.instance_type} {current.pricing}",
        node_hours,
        "node-hour",
        price,
        node_hours * price,
        source,
        None if current.usd_per_hour else offer.as_of,
        pricing=pricing,
    )
    size = next(
        (s.variant.size_bytes for s in search.speeds if s.variant.name == current_variant), 0
    )
    fixed = fixed_costs(
        workload,
        offer,
        artifact_bytes=size,
        requests_per_month=search.requests_per_month,
        catalog=catalog,
        settings=search.settings.bill,
    )
    extra, notes = storage_and_transfer_lines(fixed, node_hours_per_month=node_hours)
    costs = search.platforms.costs(current.platform, current.provider, current.region)
    lines = costs.fixed + fleet_lines(
        costs, node_hours_per_month=node_hours, node_launches_per_month=0.0, pulled_gb=0.0
    )
    cost = CostBreakdown((compute, *extra, *lines), notes + costs.assumptions)
    return _Today(
        cost, f"{basis}; platform, storage and transfer billed as for the plan", costs.service
    )


def _bar(
    label: str, candidate: Candidate, slo: SloResult, previous: float, checked: _Checked
) -> WaterfallBar:
    option = to_option(candidate, slo, risk=checked.risk(candidate))
    return WaterfallBar(
        f"{label}: {_describe(option)}",
        option.monthly_usd,
        previous - option.monthly_usd,
        option,
        f"simulated, speed {option.speed_basis}",
        option.cost,
    )


def _describe(option: PlanOption) -> str:
    if option.platform == "serverless":
        return f"{option.variant} on {option.platform_service}, per request"
    pricing = option.commitment or option.pricing
    return (
        f"{option.variant} on {option.nodes_mean:.1f} x {option.offer.instance_type} on average, "
        f"{pricing}, {option.scaling}, {option.platform_service}"
    )


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
    winner: Candidate, search: Search, checked: _Checked
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
        options.append(to_option(candidate, slo, why_not=why, risk=checked.risk(candidate)))
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


def to_option(
    candidate: Candidate, slo: SloResult, *, why_not: str = "", risk: SpotRisk | None = None
) -> PlanOption:
    """The Plan's record of one candidate."""
    speed, run = candidate.speed, candidate.run
    nodes = run.on_demand_nodes + run.spot_nodes
    node_minutes = float(nodes.sum())
    return PlanOption(
        variant=speed.variant.name,
        offer=speed.offer,
        pricing=candidate.pricing,
        scaling=candidate.scaling,
        commitment=candidate.commitment,
        accuracy=speed.accuracy,
        latency_ms_p50=speed.replica.latency_ms_p50,
        latency_ms_p99=speed.replica.latency_ms_p99,
        speed_basis=speed.replica.basis,
        speed_method=speed.replica.method,
        confirm_by=speed.replica.confirm_by,
        pods_per_node=speed.pods_per_node,
        replicas_min=int(run.ready_replicas.min()),
        replicas_mean=float(run.desired_replicas.mean()),
        replicas_max=int(run.desired_replicas.max()),
        nodes_mean=float(nodes.mean()),
        nodes_max=int(nodes.max()),
        always_on_nodes=int(run.always_on_nodes),
        spot_node_share=float(run.spot_nodes.sum()) / node_minutes if node_minutes else 0.0,
        interruptions_expected=float(run.expected_interruptions),
        cost=candidate.cost,
        monthly_usd=candidate.monthly_usd,
        slo=slo,
        why_not=why_not,
        spare_nodes=candidate.spare_nodes,
        platform=candidate.platform,
        platform_service=candidate.platform_service,
        cold_starts_expected=candidate.cold_starts,
        cold_start_ms=candidate.cold_start_ms,
        spot_risk=risk,
        spot_types=candidate.spot_types,
        prerequisites=candidate.prerequisites,
    )
