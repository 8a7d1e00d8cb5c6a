"""Simulated fleets priced on every allowed machine platform, each platform's bill built once.

The search simulates a fleet once and prices it on each platform the workload allows
(managed Kubernetes, a VM group): the same nodes, other lines around them. Each
platform's lines in a region (``platform_costs`` in ``_platform``) are built once per
search and reused for every fleet there, with the lines that follow the fleet (node
addresses, NAT data per node launch) added per candidate. ``Platforms`` also says which
interruption rate a spot offer was simulated at and how old that data is.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from mlcost.catalog import INTERRUPTION_DATA, Catalog, interruption_data_age_days
from mlcost.core import Offer, PlanError, Platform, Workload
from mlcost.cost import monthly_interruption_share
from mlcost.plan._bill import month_factor
from mlcost.plan._fleet import DEFAULT_SPOT_INTERRUPTION_BUCKET
from mlcost.plan._platform import IMAGE_GB, PlatformCosts, fleet_lines, platform_costs

if TYPE_CHECKING:  # the search builds Platforms and holds it: a runtime import would cycle
    from mlcost.plan._search import Candidate

FloatArray = npt.NDArray[np.float64]

# Interruption data older than this is flagged: the Advisor's buckets move month to month.
STALE_DATA_DAYS = 90


class Platforms:
    """Prices simulated fleets on every allowed platform; platform bills are built once per region."""

    def __init__(
        self, workload: Workload, catalog: Catalog, arrivals: FloatArray, requests_per_month: float
    ) -> None:
        self._workload = workload
        self.catalog = catalog
        self._arrivals = arrivals
        self._requests_per_month = requests_per_month
        self._factor = month_factor(workload.horizon_days)
        self._allowed: tuple[Platform, ...] = tuple(
            p for p in workload.platform.allowed if p != "serverless"
        )
        self._found: dict[tuple[Platform, str, str], PlatformCosts] = {}
        self.today = date.today()

    def costs(self, platform: Platform, provider: str, region: str) -> PlatformCosts:
        key = (platform, provider, region)
        if key not in self._found:
            self._found[key] = platform_costs(
                platform,
                provider=provider,
                region=region,
                workload=self._workload,
                catalog=self.catalog,
                arrivals_per_s=self._arrivals,
                requests_per_month=self._requests_per_month,
            )
        return self._found[key]

    def priced_on(self, candidate: Candidate, platform: Platform) -> Candidate:
        """``candidate`` (simulated, not yet on a platform) priced on one platform."""
        for priced in self.priced(
            candidate, variant_bytes=candidate.speed.variant.size_bytes, platforms=(platform,)
        ):
            return priced
        raise PlanError(f"platform {platform!r} is not one a fleet runs on")

    def interruption_basis(self, offer: Offer) -> str:
        """Which interruption rate a spot offer was simulated at, and how old its data is."""
        bucket = offer.interruption_bucket or DEFAULT_SPOT_INTERRUPTION_BUCKET
        data = INTERRUPTION_DATA
        age = interruption_data_age_days(self.today)
        where = (
            f"AWS Spot Instance Advisor bucket {bucket}"
            if offer.interruption_bucket
            else f"no interruption data for {offer.provider} {offer.instance_type}: the "
            f"{bucket} bucket assumed"
        )
        stale = (
            f" (WARNING: over {STALE_DATA_DAYS} days; the Advisor's buckets move month to month)"
            if age > STALE_DATA_DAYS
            else ""
        )
        return (
            f"{where}, read at its upper edge ({monthly_interruption_share(bucket):.0%} of "
            f"instances a month); data of {data.as_of} ({data.window}), {age} days old{stale}"
        )

    def priced(
        self,
        candidate: Candidate,
        *,
        variant_bytes: int,
        platforms: tuple[Platform, ...] | None = None,
    ) -> Iterator[Candidate]:
        """``candidate`` once per allowed machine platform, its bill with the platform's lines."""
        offer = candidate.speed.offer
        run = candidate.run
        node_hours = (run.on_demand_node_hours + run.spot_node_hours) * self._factor
        launches = 0.0
        if self._workload.platform.nat_gateways:
            nodes = run.on_demand_nodes + run.spot_nodes
            launches = (
                float(np.maximum(np.diff(nodes), 0).sum()) + run.interruptions
            ) * self._factor
        for platform in self._allowed if platforms is None else platforms:
            costs = self.costs(platform, offer.provider, offer.region)
            lines = costs.fixed + fleet_lines(
                costs,
                node_hours_per_month=node_hours,
                node_launches_per_month=launches,
                pulled_gb=IMAGE_GB + variant_bytes / 1e9,
            )
            yield replace(
                candidate,
                cost=candidate.cost.with_lines(lines, costs.assumptions),
                platform=platform,
                platform_service=costs.service,
            )
