"""What one simulated configuration costs a month, line by line: compute, storage and transfer.

Each line is quantity x unit price, with the price's source and date (``BillLine``);
the platform lines (control plane, load balancer, addresses, NAT, system pool) come
from ``plan/_platform.py`` and serverless bills from ``plan/_serverless.py``.

Compute is billed per node-minute of the simulated fleet at the on-demand, spot or
commitment price. A commitment (savings plan, committed-use discount) covers only
the fleet's always-on nodes, the least it ran over the horizon; the rest is
on-demand. Storage is the model artifact in object storage plus each node's boot
disk for the hours the node ran, per GiB-month as block storage is billed. Transfer follows the requests:

- requests arriving from the internet are free (no provider bills ingress); the
  responses leave as internet egress when ``data_location`` is not given;
- with ``data_location`` in the same region nothing leaves the region;
- another region of the same provider: both directions at the inter-region price;
- another provider: the request leaves the data's provider and the response ours,
  both at the internet-egress price;
- inside the region, a load balancer spreads requests over the zones the pods run in:
  ``cross_zone_share`` of requests and responses cross a zone, billed both ways.

Free allowances (AWS's first 100 GB of egress a month) are per account and
usually spent elsewhere: they are taken off only with ``platform.free_tier``.
Every assumption a figure rests on is listed in ``CostBreakdown.assumptions``.
Horizon totals are scaled to a 730-hour month.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlcost.catalog import Catalog
from mlcost.core import BillLine, CostBreakdown, Offer, StoragePrice, TransferPrice, Workload
from mlcost.cost import HOURS_PER_MONTH

_GB = 1e9


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
    """Node-hours of one simulated horizon by pricing, and the offer whose prices bill them.

    ``committed_usd_per_hour`` is the commitment's rate (0 without one); ``commitment``
    names it.
    """

    offer: Offer
    on_demand_node_hours: float
    spot_node_hours: float
    committed_node_hours: float = 0.0
    committed_usd_per_hour: float = 0.0
    commitment: str = ""

    @property
    def node_hours(self) -> float:
        return self.on_demand_node_hours + self.spot_node_hours + self.committed_node_hours


@dataclass(frozen=True, slots=True)
class FixedCosts:
    """The parts of a bill that depend on where it runs and what it serves, not on the fleet.

    ``lines`` are monthly (the artifact in object storage, transfer); ``disk`` is the
    block-storage price of each node's disk of ``disk_gib`` (None: not priced).
    """

    lines: tuple[BillLine, ...]
    disk: StoragePrice | None
    disk_gib: float
    assumptions: tuple[str, ...]

    @property
    def transfer_usd_per_month(self) -> float:
        return sum(line.usd_per_month for line in self.lines if line.category == "transfer")


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
    lines: list[BillLine] = []
    object_price = storage_price(catalog, offer.provider, "object")
    block_price = storage_price(catalog, offer.provider, "block")
    if object_price is not None:
        gb = artifact_bytes / _GB
        lines.append(
            BillLine(
                "storage",
                f"model artifact ({artifact_bytes / 1e6:.0f} MB) in {object_price.name}",
                gb,
                "GB-month",
                object_price.usd_per_gb_month,
                gb * object_price.usd_per_gb_month,
                object_price.source,
                object_price.as_of,
            )
        )
    else:
        notes.append(
            f"no {offer.provider} object-storage price in the catalog: artifact not costed"
        )
    if block_price is None and settings.disk_gib_per_node > 0:
        notes.append(
            f"no {offer.provider} block-storage price in the catalog: node disks not costed"
        )
    free = workload.platform.free_tier
    lines.extend(_transfer(workload, offer, requests_per_month, catalog, settings, notes, free))
    return FixedCosts(tuple(lines), block_price, settings.disk_gib_per_node, tuple(notes))


def storage_and_transfer_lines(
    fixed: FixedCosts, *, node_hours_per_month: float
) -> tuple[tuple[BillLine, ...], tuple[str, ...]]:
    """The fixed lines, plus the node disks for ``node_hours_per_month``."""
    lines = list(fixed.lines)
    if fixed.disk is not None and fixed.disk_gib > 0 and node_hours_per_month > 0:
        # Block storage is billed per provisioned GiB-month (AWS writes "GB-month" for it).
        quantity = fixed.disk_gib * node_hours_per_month / HOURS_PER_MONTH
        lines.append(
            BillLine(
                "storage",
                f"node disks: {fixed.disk_gib:g} GiB {fixed.disk.name} per node",
                quantity,
                "GiB-month",
                fixed.disk.usd_per_gb_month,
                quantity * fixed.disk.usd_per_gb_month,
                fixed.disk.source,
                fixed.disk.as_of,
            )
        )
    return tuple(lines), fixed.assumptions


def bill(compute: Compute, fixed: FixedCosts, *, horizon_days: int) -> CostBreakdown:
    """The monthly bill of one simulated horizon: compute lines, then storage and transfer."""
    factor = month_factor(horizon_days)
    offer = compute.offer
    unseen = "" if offer.spot_seen_on else "the source does not say when the spot price was seen"
    zones = offer.note.split("; ")[0] if offer.note.startswith("spot price:") else ""
    spot_note = "; ".join(filter(None, (zones, unseen)))
    # (pricing, label, node-hours, $/h, price date, note), one compute line each where used.
    parts = (
        (
            "on-demand",
            "on-demand",
            compute.on_demand_node_hours,
            offer.on_demand_usd_per_hour,
            offer.as_of,
            "",
        ),
        (
            "spot",
            "spot",
            compute.spot_node_hours,
            offer.spot_usd_per_hour or 0.0,
            offer.spot_seen_on,
            spot_note,
        ),
        (
            "commitment",
            compute.commitment,
            compute.committed_node_hours,
            compute.committed_usd_per_hour,
            offer.as_of,
            "",
        ),
    )
    lines = tuple(
        BillLine(
            "compute",
            f"{offer.instance_type} {label}",
            hours * factor,
            "node-hour",
            usd_per_hour,
            hours * factor * usd_per_hour,
            offer.source,
            as_of,
            note,
            pricing=pricing,
        )
        for pricing, label, hours, usd_per_hour, as_of, note in parts
        if hours > 0
    )
    extra, notes = storage_and_transfer_lines(
        fixed, node_hours_per_month=compute.node_hours * factor
    )
    return CostBreakdown(lines + extra, notes)


def storage_price(catalog: Catalog, provider: str, kind: str) -> StoragePrice | None:
    """The cheapest ``object`` or ``block`` storage price of ``provider``, or None."""
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
    notes: list[str],
    count_free: bool,
) -> list[BillLine]:
    traffic = workload.traffic
    gb_in = requests_per_month * traffic.payload_in_bytes / _GB
    gb_out = requests_per_month * traffic.payload_out_bytes / _GB
    lines: list[BillLine] = []

    def charge(provider: str, kind: str, gb: float, what: str) -> None:
        price = _transfer_price(catalog, provider, kind)
        if price is None:
            notes.append(f"no {provider} {kind} price in the catalog: {what} not costed")
            return
        free = price.free_gb_per_month if count_free else 0.0
        billable = max(0.0, gb - free)
        note = f"{free:g} GB free a month (platform.free_tier)" if free else price.note
        lines.append(
            BillLine(
                "transfer",
                f"{what} ({kind})",
                gb,
                "GB",
                price.usd_per_gb,
                billable * price.usd_per_gb,
                price.source,
                price.as_of,
                note,
            )
        )

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
    return lines
