"""What every renderer reads off a plan option besides its fields: names, node types, the
pools and disks its bill holds.

The plan records some of what it priced only as bill lines (the system pool, the node
disks); reading them back here keeps each renderer to what was billed, in one place.
"""

from __future__ import annotations

import math
import re

from mlcost.core import PlanOption
from mlcost.plan import BillSettings

_SYSTEM_POOL = re.compile(r"system pool: (\d+) x (\S+) on-demand")
_NODE_DISK = re.compile(r"node disks: ([\d.]+) GiB ")


def resource_name(workload: str) -> str:
    """The workload's name as a DNS label (Kubernetes objects, node groups, services)."""
    name = re.sub(r"[^a-z0-9-]+", "-", workload.lower()).strip("-")[:40].strip("-")
    return name or "mlcost"


def is_spot(option: PlanOption) -> bool:
    """Whether the option's serving nodes run on spot (all of them, or above a base)."""
    return option.pricing in ("spot", "mixed")


def serving_instance_types(option: PlanOption) -> list[str]:
    """The instance types the plan priced the serving nodes on: its spot types, else its one."""
    return list(option.spot_types) or [option.offer.instance_type]


def on_demand_base_nodes(option: PlanOption) -> int:
    """The on-demand nodes under a mixed fleet: those its fewest replicas need (the planner's
    base for min_replicas); 0 for any other pricing."""
    if option.pricing != "mixed":
        return 0
    return math.ceil(option.min_replicas / max(1, option.pods_per_node))


def billed_system_pool(option: PlanOption) -> tuple[int, str] | None:
    """The on-demand system pool the plan billed (nodes, instance type), or None where it
    billed none (a vm-group, or an existing cluster's pool shown as shared)."""
    for line in option.cost.lines:
        found = _SYSTEM_POOL.search(line.item)
        if found and line.is_charged:
            return int(found.group(1)), found.group(2)
    return None


def node_disk_gib(option: PlanOption) -> tuple[float, bool]:
    """Each node's disk (GiB) as the plan billed it, and whether it was billed: without a
    block-storage price the planner's default size, unbilled."""
    for line in option.cost.lines:
        found = _NODE_DISK.match(line.item)
        if found:
            return float(found.group(1)), True
    return BillSettings().disk_gib_per_node, False
