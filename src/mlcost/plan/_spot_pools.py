"""Which spot pools a spot fleet spreads over, and the price it pays there.

A spot pool is one instance type in one zone: capacity runs out, and nodes
are reclaimed, per pool (``_fleet``'s whole-pool reclaims). A fleet spreads
its spot nodes over ``spot_zones`` zones, and may diversify over several
instance types as Karpenter does when a NodePool allows a list of them: more
pools, so a reclaim takes fewer nodes at once and less spare capacity covers
it.

- Zones: the catalog ships the cheapest zone's spot price; where it knows each
  zone's price (AWS, ``spot_zones.csv``) a fleet over n zones pays the mean of
  the n cheapest.
- Instance types: a type joins a fleet's list only where the fleet loses
  nothing by it: same provider, region and architecture, the same vCPUs and
  accelerators, at least the memory, as many serving pods per node, and a
  replica at least as fast. The fleet is then simulated at the first type's
  speed and pays the mean spot price of the types (Karpenter's
  price-capacity-optimized choice is taken as no better than even use), at the
  highest interruption bucket among them, so diversifying never flatters.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace

from mlcost.catalog import Catalog
from mlcost.core import INTERRUPTION_BUCKETS, Offer
from mlcost.plan._fleet import DEFAULT_SPOT_INTERRUPTION_BUCKET
from mlcost.plan._speeds import Speed


def spread_over_zones(offer: Offer, catalog: Catalog, zones: int) -> Offer:
    """``offer`` with its spot price the mean of the ``zones`` cheapest zones a fleet spreads
    over, where the catalog knows its zone prices (the shipped price is the cheapest zone's)."""
    prices = catalog.spot_zone_prices(offer)[:zones]
    if len(prices) < 2 or offer.spot_usd_per_hour is None:
        return offer
    mean = sum(prices) / len(prices)
    shown = ", ".join(f"${price:g}" for price in prices)
    note = (
        f"spot price: the mean of the {len(prices)} cheapest zones the fleet spreads over ({shown})"
    )
    return replace(
        offer,
        spot_usd_per_hour=round(mean, 6),
        note="; ".join(filter(None, (note, offer.note))),
    )


def diversified(speeds: Sequence[Speed], types: int) -> list[tuple[Speed, tuple[str, ...]]]:
    """For each spot-priced speed, the same fleet diversified over up to ``types`` instance
    types (itself and the cheapest companions that lose it nothing), with the instance types;
    speeds without a companion are left out."""
    if types < 2:
        return []
    groups: dict[tuple[object, ...], list[Speed]] = defaultdict(list)
    for speed in speeds:
        if speed.offer.spot_usd_per_hour is not None:
            groups[_group(speed)].append(speed)
    result = []
    for group in groups.values():
        for speed in group:
            companions = sorted(
                (other for other in group if other is not speed and _joins(other, speed)),
                key=lambda other: (other.offer.spot_usd_per_hour, other.offer.instance_type),
            )[: types - 1]
            if companions:
                result.append(_blend(speed, companions))
    return result


def _group(speed: Speed) -> tuple[object, ...]:
    offer = speed.offer
    return (
        speed.variant.name,
        offer.provider,
        offer.region,
        offer.arch,
        offer.vcpus,
        offer.accelerator_name,
        offer.accelerator_count,
    )


def _joins(other: Speed, speed: Speed) -> bool:
    """Whether ``other``'s nodes can stand in for ``speed``'s at no loss."""
    return (
        other.offer.memory_gib >= speed.offer.memory_gib
        and other.pods_per_node >= speed.pods_per_node
        and other.replica.latency_ms_p99 <= speed.replica.latency_ms_p99
        and other.replica.latency_ms_p50 <= speed.replica.latency_ms_p50
    )


def _blend(speed: Speed, companions: Sequence[Speed]) -> tuple[Speed, tuple[str, ...]]:
    members = (speed, *companions)
    prices = [member.offer.spot_usd_per_hour or 0.0 for member in members]
    buckets = [
        member.offer.interruption_bucket or DEFAULT_SPOT_INTERRUPTION_BUCKET for member in members
    ]
    worst = max(buckets, key=INTERRUPTION_BUCKETS.index)
    types = tuple(member.offer.instance_type for member in members)
    shown = ", ".join(f"{name} ${price:g}" for name, price in zip(types, prices, strict=True))
    note = (
        f"spot over {len(types)} instance types (Karpenter-style: {shown}): the mean price, "
        f"the highest interruption bucket ({worst}), simulated at "
        f"{speed.offer.instance_type}'s speed"
    )
    offer = replace(
        speed.offer,
        spot_usd_per_hour=round(sum(prices) / len(prices), 6),
        interruption_bucket=worst,
        note="; ".join(filter(None, (note, speed.offer.note))),
    )
    return replace(speed, offer=offer), types
