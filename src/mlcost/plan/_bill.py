"""What one simulated configuration costs a month: compute, storage and transfer.

Compute is billed per node-minute of the simulated fleet at the on-demand, spot or
commitment price. A commitment (savings plan, committed-use discount) covers only
the fleet's always-on nodes, the least it ran over the horizon; the rest is
on-demand. Storage is the model artifact in object storage plus each node's boot
disk for the hours the node ran. Transfer follows the requests:

- requests arriving from the internet are free (no provider bills ingress); the
  responses leave as internet egress when ``data_location`` is not given;
- with ``data_location`` in the same region nothing leaves the region;
- another region of the same provider: both directions at the inter-region price;
- another provider: the request leaves the data's provider and the response ours,
  both at the internet-egress price;
- inside the region, a load balancer spreads requests over the zones the pods run in:
  ``cross_zone_share`` of requests and responses cross a zone, billed both ways.

Every assumption a figure rests on is listed in ``CostBreakdown.assumptions``.
Horizon totals are scaled to a 730-hour month.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlcost.catalog import Catalog
from mlcost.core import CostBreakdown, Offer, StoragePrice, TransferPrice, Workload
from mlcost.cost import HOURS_PER_MONTH

_GB = 1e9
_GIB_PER_GB = 1e9 / 2**30


@dataclass(frozen=True, slots=True)
class BillSettings:
    """Assumptions of the bill that no price file gives.

    ``disk_gib_per_node`` is each node's boot/image disk (EKS managed node groups
    default to 20 GiB); ``cross_zone_share`` the share of requests a load
    balancer sends to a pod in another zone (0.5: pods spread over two zones).
    """

    disk_gib_per_node: float = 20.0
    cross_zone_share: float = 0.5


@dataclass(frozen=True, slots=True)
class Compute:
    """Node-hours of one simulated horizon by pricing, and the prices to bill them at."""

    on_demand_node_hours: float
    spot_node_hours: float
    committed_node_hours: float
    on_demand_usd_per_hour: float
    spot_usd_per_hour: float
    committed_usd_per_hour: float

    @property
    def node_hours(self) -> float:
        return self.on_demand_node_hours + self.spot_node_hours + self.committed_node_hours


@dataclass(frozen=True, slots=True)
class FixedCosts:
    """The parts of a bill that depend on where it runs and what it serves, not on the fleet."""

    storage_usd_per_month: float
    disk_usd_per_node_hour: float
    transfer_usd_per_month: float
    assumptions: tuple[str, ...]


def month_factor(horizon_days: int) -> float:
    """What multiplies a horizon's total to make it a 730-hour month."""
    return HOURS_PER_MONTH / (24.0 * horizon_days)


def fixed_costs(
    workload: Workload,
    offer: Offer,
    *,
    artifact_bytes: int,
    requests_per_month: float,
    catalog: Catalog,
    settings: BillSettings,
) -> FixedCosts:
    """Storage and transfer for serving ``workload`` from ``offer``'s region."""
    notes: list[str] = []
    object_price = _storage(catalog, offer.provider, "object")
    block_price = _storage(catalog, offer.provider, "block")
    storage = 0.0
    disk = 0.0
    if object_price is not None:
        storage = artifact_bytes / _GB * object_price.usd_per_gb_month
        notes.append(f"artifact {artifact_bytes / 1e6:.0f} MB in {object_price.name}")
    else:
        notes.append(
            f"no {offer.provider} object-storage price in the catalog: artifact not costed"
        )
    if block_price is not None:
        disk = (
            settings.disk_gib_per_node
            / _GIB_PER_GB
            * block_price.usd_per_gb_month
            / HOURS_PER_MONTH
        )
        notes.append(f"{settings.disk_gib_per_node:g} GiB {block_price.name} per node")
    else:
        notes.append(
            f"no {offer.provider} block-storage price in the catalog: node disks not costed"
        )
    transfer, transfer_notes = _transfer(workload, offer, requests_per_month, catalog, settings)
    return FixedCosts(storage, disk, transfer, tuple(notes + transfer_notes))


def bill(compute: Compute, fixed: FixedCosts, *, horizon_days: int) -> CostBreakdown:
    """The monthly bill of one simulated horizon."""
    factor = month_factor(horizon_days)
    return CostBreakdown(
        on_demand_usd_per_month=compute.on_demand_node_hours
        * compute.on_demand_usd_per_hour
        * factor,
        spot_usd_per_month=compute.spot_node_hours * compute.spot_usd_per_hour * factor,
        commitment_usd_per_month=compute.committed_node_hours
        * compute.committed_usd_per_hour
        * factor,
        storage_usd_per_month=fixed.storage_usd_per_month
        + compute.node_hours * fixed.disk_usd_per_node_hour * factor,
        transfer_usd_per_month=fixed.transfer_usd_per_month,
        assumptions=fixed.assumptions,
    )


def _storage(catalog: Catalog, provider: str, kind: str) -> StoragePrice | None:
    prices = [s for s in catalog.prices.storage if s.provider == provider and s.kind == kind]
    return min(prices, key=lambda s: s.usd_per_gb_month) if prices else None


def _transfer_price(catalog: Catalog, provider: str, kind: str) -> TransferPrice | None:
    for price in catalog.prices.transfer:
        if price.provider == provider and price.kind == kind:
            return price
    return None


def _transfer(
    workload: Workload,
    offer: Offer,
    requests_per_month: float,
    catalog: Catalog,
    settings: BillSettings,
) -> tuple[float, list[str]]:
    traffic = workload.traffic
    gb_in = requests_per_month * traffic.payload_in_bytes / _GB
    gb_out = requests_per_month * traffic.payload_out_bytes / _GB
    notes: list[str] = []
    usd = 0.0

    def charge(provider: str, kind: str, gb: float, what: str) -> None:
        nonlocal usd
        price = _transfer_price(catalog, provider, kind)
        if price is None:
            notes.append(f"no {provider} {kind} price in the catalog: {what} not costed")
            return
        billable = max(0.0, gb - price.free_gb_per_month)
        usd += billable * price.usd_per_gb
        notes.append(f"{what}: {gb:,.1f} GB/month at ${price.usd_per_gb:g}/GB ({kind})")

    where = workload.data_location
    if where is None:
        charge(offer.provider, "internet-egress", gb_out, "responses to the internet")
    elif where.provider != offer.provider:
        charge(where.provider, "internet-egress", gb_in, f"requests leaving {where.provider}")
        charge(offer.provider, "internet-egress", gb_out, f"responses back to {where.provider}")
    elif where.region != offer.region:
        charge(offer.provider, "inter-region", gb_in + gb_out, f"{where.region} <-> {offer.region}")
    crossing = (gb_in + gb_out) * settings.cross_zone_share
    if crossing > 0:
        charge(
            offer.provider,
            "inter-zone",
            crossing,
            f"{settings.cross_zone_share:.0%} of requests served in another zone",
        )
    return usd, notes
