"""One offer under each pricing model: on-demand, spot, savings plan / committed use."""

from __future__ import annotations

from dataclasses import dataclass

from mlcost.catalog import Catalog
from mlcost.core import Offer
from mlcost.cost._unit_economics import HOURS_PER_MONTH, monthly_usd


@dataclass(frozen=True, slots=True)
class PricingOption:
    """An hourly price for an offer under one pricing model, and where it comes from."""

    pricing: str
    usd_per_hour: float
    basis: str
    is_upper_bound: bool = False

    def monthly_usd(self, *, count: float = 1.0, hours: float = HOURS_PER_MONTH) -> float:
        return monthly_usd(self.usd_per_hour, count=count, hours=hours)


def pricing_options(offer: Offer, catalog: Catalog) -> list[PricingOption]:
    """Every pricing model the catalog knows for ``offer``, on-demand first."""
    options = [
        PricingOption("on-demand", offer.on_demand_usd_per_hour, f"{offer.origin} list price")
    ]
    if offer.spot_usd_per_hour is not None:
        seen = (
            f", seen {offer.spot_seen_on}" if offer.spot_seen_on else ", date not exposed by source"
        )
        bucket = f", interruptions {offer.interruption_bucket}" if offer.interruption_bucket else ""
        options.append(PricingOption("spot", offer.spot_usd_per_hour, f"spot price{seen}{bucket}"))
    for commitment in catalog.commitments_for(offer):
        bound = "up to " if commitment.is_upper_bound else ""
        options.append(
            PricingOption(
                f"{commitment.name} {commitment.term_years}y",
                offer.on_demand_usd_per_hour * (1.0 - commitment.discount_fraction),
                f"{bound}{commitment.discount_fraction:.1%} off on-demand",
                is_upper_bound=commitment.is_upper_bound,
            )
        )
    return options
