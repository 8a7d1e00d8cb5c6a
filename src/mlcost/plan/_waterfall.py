"""The savings waterfall: today's bill, then one change per bar, down to the winner.

The first bar is today's setup with its whole bill (platform, storage and
transfer lines included, so no saving comes from what was never counted).
Each later bar changes one dimension more than the bar before (scaling,
pricing, commitment, variant, machine, provider, platform), the change that
saves most first, and takes the cheapest simulated candidate that meets the
SLO with the other dimensions as they were; every bar's bill keeps the same
kinds of lines. A change the workload forbids is left out with the reason, not
shown as a $0 step; the changes that save nothing alone are made together at
the end, where a combination may.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlcost.catalog import Catalog
from mlcost.core import BillLine, CostBreakdown, PlanError, PlanOption, SloResult, WaterfallBar
from mlcost.cost import HOURS_PER_MONTH
from mlcost.plan._bill import fixed_costs, storage_and_transfer_lines
from mlcost.plan._checked import Checked, to_option
from mlcost.plan._platform import fleet_lines
from mlcost.plan._search import Candidate, Search

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


def waterfall(
    search: Search, catalog: Catalog, checked: Checked, current_variant: str
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
    label: str, candidate: Candidate, slo: SloResult, previous: float, checked: Checked
) -> WaterfallBar:
    option = to_option(candidate, slo, checked.search, risk=checked.risk(candidate))
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
