"""What runs around the machines, priced line by line: control plane, load balancer, addresses,
NAT gateways and the system node pool.

A platform is how the serving fleet is run: ``kubernetes`` (a managed cluster: EKS,
GKE, AKS) or ``vm-group`` (an autoscaling group of VMs behind a load balancer: an
EC2 Auto Scaling group, a managed instance group, a VM scale set). Both put the
same replicas on the same nodes (the fleet simulation is shared); they differ in
what else the provider bills:

- kubernetes: the control-plane fee per cluster-hour (GKE's monthly free-tier credit
  taken off only where ``platform.free_tier`` counts free allowances; AKS at its
  Standard tier, the one with an uptime SLA); a **system node pool** of two on-demand
  nodes, the cheapest CPU machine of the region that holds the cluster add-ons
  (``ADD_ONS``) split over two nodes, so CoreDNS and the autoscaler survive a node;
- both: the load balancer's hourly fee and its capacity charge from the traffic
  (AWS ALB: LCU-hours, the largest of new connections / 25 per second and processed
  GB / 1 per hour, each request taken as a new connection, the hourly mean; GCP and
  Azure: per GB processed); its public IPv4 addresses (an ALB has one per zone, two
  zones); and either a public IPv4 per node-hour (nodes in public subnets, the
  default) or ``platform.nat_gateways`` NAT gateways with one address each, billed
  per hour and per GB they carry (the container image and the model pulled at every
  node launch).

With ``platform.cluster: existing`` the control plane and the system pool are shown
as shared, not charged. Every price comes from the catalog's price book with its
source and date; a price missing there is named in the assumptions and not billed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from mlcost.catalog import Catalog, machine_spec
from mlcost.core import BillLine, Offer, Platform, PlatformPrice, Workload
from mlcost.cost import HOURS_PER_MONTH
from mlcost.plan._bill import BillSettings, storage_price
from mlcost.plan._fleet import node_allocatable

FloatArray = npt.NDArray[np.float64]

_GB = 1e9
# A production ALB spans two zones and holds one public IPv4 address in each.
_LB_ZONES = 2
_SYSTEM_NODES = 2
# ALB LCU dimensions (https://aws.amazon.com/elasticloadbalancing/pricing/): 25 new
# connections per second, 1 GB processed per hour (EC2 targets); active connections and
# rule evaluations stay far below their dimensions for a single-rule API.
_LCU_NEW_CONNECTIONS_PER_S = 25.0
_LCU_GB_PER_HOUR = 1.0
# HTTP overhead per request and response (request line, headers, TLS records): an assumption.
_HTTP_OVERHEAD_BYTES = 500
# The mlcost serve container image pulled at every node launch, besides the model: an assumption.
IMAGE_GB = 1.0


@dataclass(frozen=True, slots=True)
class AddOn:
    """A cluster add-on: replicas and each replica's requests, with where they come from."""

    name: str
    replicas: int
    vcpus: float
    memory_mib: float
    source: str


# The add-ons the serving stack needs besides the provider's DaemonSets: DNS, the metrics
# the HPA reads, a node autoscaler, the load balancer's controller.
ADD_ONS: dict[str, tuple[AddOn, ...]] = {
    "aws": (
        AddOn("CoreDNS", 2, 0.1, 70, "EKS CoreDNS add-on default requests (100m, 70Mi)"),
        AddOn("metrics-server", 1, 0.1, 200, "metrics-server components.yaml (100m, 200Mi)"),
        AddOn(
            "Karpenter", 2, 1.0, 1024, "Karpenter getting-started values (1 vCPU, 1Gi, 2 replicas)"
        ),
        AddOn(
            "AWS Load Balancer Controller",
            2,
            0.05,
            128,
            "chart sets no requests: 50m, 128Mi assumed",
        ),
    ),
    # GKE and AKS run the node autoscaler in the control plane; their DNS and metrics
    # add-ons still need a node.
    "gcp": (
        AddOn("kube-dns", 2, 0.26, 110, "GKE kube-dns pod requests (dnsmasq, sidecar, kubedns)"),
        AddOn("metrics-server", 1, 0.1, 200, "metrics-server components.yaml (100m, 200Mi)"),
    ),
    "azure": (
        AddOn("CoreDNS", 2, 0.1, 70, "AKS CoreDNS requests (100m, 70Mi)"),
        AddOn("metrics-server", 2, 0.05, 70, "AKS metrics-server (2 replicas)"),
    ),
}


@dataclass(frozen=True, slots=True)
class _Items:
    """The price-book ids of one provider's platform prices, and its services' names."""

    cluster: str
    group: str
    control_plane: str
    lb_hour: str
    lb_capacity: str  # alb-lcu-hour (AWS) or a per-GB processing price
    ipv4_hour: str
    nat_hour: str
    nat_gb: str
    free_credit: str = ""


_ITEMS = {
    "aws": _Items(
        "EKS",
        "EC2 Auto Scaling group + ALB",
        "eks-control-plane",
        "alb-hour",
        "alb-lcu-hour",
        "public-ipv4-hour",
        "nat-gateway-hour",
        "nat-gateway-gb",
    ),
    # Cloud NAT bills $0.0014 per VM-hour up to a $0.044 gateway-hour cap: the cap is taken.
    "gcp": _Items(
        "GKE",
        "managed instance group + load balancer",
        "gke-control-plane",
        "lb-forwarding-rule-hour",
        "lb-data-processed-gib",
        "external-ipv4-in-use-hour",
        "cloud-nat-gateway-hour-cap",
        "cloud-nat-gib",
        free_credit="gke-free-tier-credit",
    ),
    # AKS at its Standard tier, the one with an uptime SLA (the Free tier has none).
    "azure": _Items(
        "AKS",
        "VM scale set + load balancer",
        "aks-standard-tier",
        "lb-standard-hour",
        "lb-standard-gb",
        "public-ip-standard-static-hour",
        "nat-gateway-hour",
        "nat-gateway-gb",
    ),
}


@dataclass(frozen=True, slots=True)
class PlatformCosts:
    """One platform in one region: its fixed monthly lines and its per-node rates.

    ``fixed`` lines do not depend on the serving fleet; ``ipv4`` is billed per
    serving node-hour (nodes in public subnets) and ``nat_gb`` per GB pulled at a
    node launch (through NAT gateways), each None where it does not apply.
    """

    platform: Platform
    service: str
    fixed: tuple[BillLine, ...]
    ipv4: PlatformPrice | None
    nat_gb: PlatformPrice | None
    assumptions: tuple[str, ...]


def platform_costs(
    platform: Platform,
    *,
    provider: str,
    region: str,
    workload: Workload,
    catalog: Catalog,
    arrivals_per_s: FloatArray,
    requests_per_month: float,
) -> PlatformCosts:
    """The platform bill of ``platform`` (kubernetes or vm-group) in ``region``, once per search."""
    book = catalog.prices
    items = _ITEMS[provider]
    settings = workload.platform
    notes: list[str] = []
    lines: list[BillLine] = []

    def add(item: str, quantity: float, what: str, *, charged: bool = True, note: str = "") -> None:
        price = book.platform_price(provider, item)
        if price is None:
            notes.append(f"no {provider} {item} price in the catalog: {what} not billed")
            return
        lines.append(price_line(price, quantity, what, charged=charged, note=note))

    is_kubernetes = platform == "kubernetes"
    has_pool = False
    if is_kubernetes:
        shared = settings.cluster == "existing"
        note = "shared, not charged: the cluster exists" if shared else ""
        add(
            items.control_plane,
            HOURS_PER_MONTH,
            f"{items.cluster} control plane",
            charged=not shared,
            note=note,
        )
        if items.free_credit and settings.free_tier and not shared:
            credit = book.platform_price(provider, items.free_credit)
            if credit is not None:
                fee = sum(line.usd_per_month for line in lines)
                lines.append(
                    BillLine(
                        "platform",
                        credit.name,
                        1.0,
                        "month",
                        -credit.usd,
                        -min(fee, credit.usd),
                        credit.source,
                        credit.as_of,
                        "one per billing account (platform.free_tier)",
                    )
                )
        pool = system_pool(provider, region, catalog)
        has_pool = pool is not None
        if pool is None:
            notes.append(
                f"no on-demand CPU machine in {region} holds the add-ons: system pool not billed"
            )
        else:
            offer, text = pool
            lines.append(
                BillLine(
                    "platform",
                    f"system pool: {_SYSTEM_NODES} x {offer.instance_type} on-demand ({text})",
                    _SYSTEM_NODES * HOURS_PER_MONTH,
                    "node-hour",
                    offer.on_demand_usd_per_hour,
                    _SYSTEM_NODES * HOURS_PER_MONTH * offer.on_demand_usd_per_hour,
                    offer.source,
                    offer.as_of,
                    note,
                    is_charged=not shared,
                )
            )
            lines.extend(_system_pool_disks(catalog, provider, note, charged=not shared))
    add(items.lb_hour, HOURS_PER_MONTH, "load balancer, hourly")
    traffic = workload.traffic
    per_request = traffic.payload_in_bytes + traffic.payload_out_bytes + 2 * _HTTP_OVERHEAD_BYTES
    if provider == "aws":
        # The horizon's LCU-hours, scaled to a month as its requests are.
        horizon_requests = max(float(arrivals_per_s.sum()) * 60.0, 1e-9)
        lcu = lcu_hours(arrivals_per_s, bytes_per_request=per_request) * (
            requests_per_month / horizon_requests
        )
        add(items.lb_capacity, lcu, "load balancer capacity units (each request a new connection)")
    else:
        capacity = book.platform_price(provider, items.lb_capacity)
        add(
            items.lb_capacity,
            requests_per_month * per_request / bytes_per(capacity),
            "load balancer data processed",
        )
    ipv4 = book.platform_price(provider, items.ipv4_hour)
    addresses = _LB_ZONES if provider == "aws" else 1
    add(
        items.ipv4_hour,
        addresses * HOURS_PER_MONTH,
        f"{addresses} public IPv4 of the load balancer",
    )
    nat_gb = None
    if settings.nat_gateways:
        count = settings.nat_gateways
        add(items.nat_hour, count * HOURS_PER_MONTH, f"{count} NAT gateway(s)")
        add(items.ipv4_hour, count * HOURS_PER_MONTH, f"{count} public IPv4 of the NAT gateway(s)")
        nat_gb = book.platform_price(provider, items.nat_gb)
        if nat_gb is None:
            notes.append(f"no {provider} {items.nat_gb} price: NAT data not billed")
        ipv4 = None  # nodes in private subnets have no public address
    elif ipv4 is None:
        notes.append(f"no {provider} {items.ipv4_hour} price: node addresses not billed")
    if has_pool and ipv4 is not None and settings.cluster == "new":
        lines.append(
            price_line(
                ipv4,
                _SYSTEM_NODES * HOURS_PER_MONTH,
                "public IPv4 of the system pool's nodes",
            )
        )
    service = items.cluster if is_kubernetes else items.group
    return PlatformCosts(platform, service, tuple(lines), ipv4, nat_gb, tuple(notes))


def _system_pool_disks(
    catalog: Catalog, provider: str, note: str, *, charged: bool
) -> list[BillLine]:
    """The system pool's boot disks, at the size and price the serving nodes' are billed."""
    disk = storage_price(catalog, provider, "block")
    gib = BillSettings().disk_gib_per_node
    if disk is None or gib <= 0:
        return []
    quantity = _SYSTEM_NODES * gib
    return [
        BillLine(
            "storage",
            f"node disks of the system pool: {_SYSTEM_NODES} x {gib:g} GiB {disk.name}",
            quantity,
            "GiB-month",
            disk.usd_per_gb_month,
            quantity * disk.usd_per_gb_month,
            disk.source,
            disk.as_of,
            note,
            is_charged=charged,
        )
    ]


def price_line(
    price: PlatformPrice, quantity: float, what: str, *, charged: bool = True, note: str = ""
) -> BillLine:
    """A platform line: ``quantity`` units at ``price`` (``charged`` False: shown, not billed)."""
    return BillLine(
        "platform",
        what,
        quantity,
        price.unit,
        price.usd,
        quantity * price.usd,
        price.source,
        price.as_of,
        note or price.note,
        is_charged=charged,
    )


def fleet_lines(
    costs: PlatformCosts,
    *,
    node_hours_per_month: float,
    node_launches_per_month: float,
    pulled_gb: float,
) -> tuple[BillLine, ...]:
    """The platform lines that follow the serving fleet: node addresses or NAT data."""
    lines: list[BillLine] = []
    if costs.ipv4 is not None:
        lines.append(
            price_line(costs.ipv4, node_hours_per_month, "public IPv4 of the serving nodes")
        )
    if costs.nat_gb is not None:
        lines.append(
            price_line(
                costs.nat_gb,
                node_launches_per_month * pulled_gb * _GB / bytes_per(costs.nat_gb),
                f"NAT data: image + model ({pulled_gb:.2f} GB) per node launch",
            )
        )
    return tuple(lines)


def bytes_per(price: PlatformPrice | None) -> float:
    """Bytes in one unit of a per-data price: GiB where the price says so, else GB."""
    return 2.0**30 if price is not None and price.unit.startswith("GiB") else _GB


def lcu_hours(arrivals_per_s: FloatArray, *, bytes_per_request: float) -> float:
    """ALB LCU-hours over the horizon: per hour, the largest dimension at its hourly mean."""
    minutes = arrivals_per_s.size - arrivals_per_s.size % 60
    hourly = arrivals_per_s[:minutes].reshape(-1, 60).mean(axis=1)
    if arrivals_per_s.size > minutes:
        hourly = np.append(hourly, arrivals_per_s[minutes:].mean())
    connections = hourly / _LCU_NEW_CONNECTIONS_PER_S
    processed = hourly * 3600.0 * bytes_per_request / _GB / _LCU_GB_PER_HOUR
    return float(np.maximum(connections, processed).sum())


def system_pool(provider: str, region: str, catalog: Catalog) -> tuple[Offer, str] | None:
    """The cheapest on-demand CPU offer whose two nodes hold the provider's add-ons, and why."""
    add_ons = ADD_ONS[provider]
    # Replicas spread over the two nodes: each holds ceil(replicas / 2) of every add-on.
    vcpus = sum(a.vcpus * math.ceil(a.replicas / _SYSTEM_NODES) for a in add_ons)
    memory = sum(a.memory_mib * math.ceil(a.replicas / _SYSTEM_NODES) for a in add_ons)
    fits: list[Offer] = []
    for offer in catalog.offers:
        if offer.provider != provider or offer.region != region or offer.has_accelerator:
            continue
        if machine_spec(offer) is None:
            continue
        free_vcpus, free_mib = node_allocatable(offer.vcpus, offer.memory_gib, provider)
        if free_vcpus >= vcpus and free_mib >= memory:
            fits.append(offer)
    if not fits:
        return None
    best = min(fits, key=lambda o: (o.on_demand_usd_per_hour, o.instance_type))
    names = ", ".join(a.name for a in add_ons)
    return best, f"{names}: {vcpus:.2f} vCPU, {memory:.0f} MiB per node"
