"""The serving and system pools of a plan's Kubernetes option on GKE: a ComputeClass and the
``gcloud container node-pools create`` commands that make the same pools by hand.

Machine types must be GCP's. An option planned on GCP keeps its own. An option planned
on AWS is mapped, type by type, to the cheapest GCP machine of the catalog with at
least its vCPUs and memory, the same architecture (the image is built for one) and the
same accelerator model and count, in the GCP regions nearest the AWS one; the notes
say what was mapped, because no speed was measured or estimated on it and no bill
priced it. Where no GCP machine fits (an AWS-only accelerator, a TPU), there is no
GKE rendering, and the notes say why.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mlcost.catalog import Catalog
from mlcost.core import DeployError, Offer, PlanOption
from mlcost.deploy._kubernetes import POOL_LABEL
from mlcost.deploy._option import billed_system_pool, is_spot, node_disk_gib

# GKE's accelerator names for the catalog's (https://cloud.google.com/compute/docs/gpus).
GKE_ACCELERATORS = {
    "T4": "nvidia-tesla-t4",
    "L4": "nvidia-l4",
    "V100": "nvidia-tesla-v100",
    "A100-40GB": "nvidia-tesla-a100",
    "A100-80GB": "nvidia-a100-80gb",
    "H100": "nvidia-h100-80gb",
}
# Machine families that boot only from Hyperdisk; the rest from a balanced persistent disk.
_HYPERDISK_FAMILIES = ("c4", "c4a", "c4d", "n4", "n4a")
# Where an AWS region's nearest GCP regions are, by the regions' leading words.
_GCP_AREAS = {
    "us": ("us-",),
    "ca": ("northamerica-",),
    "sa": ("southamerica-",),
    "eu": ("europe-",),
    "ap": ("asia-", "australia-"),
    "me": ("me-",),
    "il": ("me-",),
    "af": ("africa-",),
}
# GKE's system pods (kube-dns, metrics-server) tolerate this taint; workloads do not.
SYSTEM_TAINT = "components.gke.io/gke-managed-components"
ZONE_COUNT = 2  # the plan spread pods over two zones (its cross-zone share)


@dataclass(frozen=True, slots=True)
class GkePools:
    """The option's pools on GKE: the ComputeClass for the serving pods, the commands that
    create the serving and system node pools, and what a reader must know about them."""

    compute_class: dict[str, Any]
    gcloud: str
    notes: tuple[str, ...]


def gke_pools(name: str, option: PlanOption, catalog: Catalog) -> GkePools:
    """The option's GKE pools; raises DeployError saying why there are none."""
    wanted = [option.offer] + [
        offer
        for instance_type in option.spot_types
        if instance_type != option.offer.instance_type
        and (offer := _offer(catalog, option.offer, instance_type)) is not None
    ]
    machines, notes = _gcp_machines(wanted, catalog, is_spot=is_spot(option), role="serving")
    accelerator = machines[0].accelerator_name
    if accelerator is not None and accelerator not in GKE_ACCELERATORS:
        raise DeployError(f"GKE has no accelerator name for {accelerator}")
    region = machines[0].region
    disk_gib, is_billed = node_disk_gib(option)
    if not is_billed:
        notes.append(f"GKE: boot disks of {disk_gib:g} GiB; the plan billed none (no price)")
    system = _system_machine(option, catalog, region, notes)
    if option.pricing == "mixed":
        notes.append(
            "GKE: a mixed fleet's on-demand base has no pool of its own here: the ComputeClass "
            "falls back to on-demand where spot is short, the gcloud pool is all spot"
        )
    notes += [
        f"GKE: pods reach ComputeClass {name}-serving by the nodeSelector "
        f"cloud.google.com/compute-class={name}-serving, or as their namespace's default "
        f"(label the namespace cloud.google.com/default-compute-class={name}-serving); it needs "
        "node pool auto-creation (Autopilot, or Standard with node auto-provisioning)",
        f"GKE: gke-node-pools.sh makes the same pools by hand in {region} (set CLUSTER and "
        f"ZONES); its pods select {POOL_LABEL}=serving, as mlcost deploy render --nodes "
        "node-groups has them do",
        "GKE: the rendered manifests are EKS's (ALB Ingress, the serve.yaml's machine); GCP gives "
        "a spot VM 30 s of notice, of which GKE's graceful node shutdown leaves workload pods "
        "about 15 s: the server's drain (preStop, request timeout, flush) must fit in it",
    ]
    return GkePools(
        _compute_class(f"{name}-serving", option, machines, disk_gib),
        _gcloud(name, option, machines, system, disk_gib, region),
        tuple(notes),
    )


def _offer(catalog: Catalog, like: Offer, instance_type: str) -> Offer | None:
    return catalog.offer(instance_type, region=like.region, provider=like.provider)


def _system_machine(
    option: PlanOption, catalog: Catalog, region: str, notes: list[str]
) -> tuple[int, Offer] | None:
    """The billed system pool's nodes and its GCP machine (mapped in ``region``), or None."""
    billed = billed_system_pool(option)
    found = None if billed is None else _offer(catalog, option.offer, billed[1])
    if billed is None or found is None:
        notes.append("GKE: no system node pool: the plan billed none (an existing cluster's)")
        return None
    machines, mapped = _gcp_machines([found], catalog, is_spot=False, role="system", region=region)
    notes += mapped
    return billed[0], machines[0]


def _gcp_machines(
    wanted: Sequence[Offer],
    catalog: Catalog,
    *,
    is_spot: bool,
    role: str,
    region: str | None = None,
) -> tuple[list[Offer], list[str]]:
    """GCP machines for ``wanted`` (the first decides the region unless ``region`` does), and
    the mapping notes (naming the pool's ``role``); raises DeployError where none holds the
    first."""
    if wanted[0].provider == "gcp":
        return list(wanted), []
    area = _GCP_AREAS.get(wanted[0].region.split("-")[0], ())
    machines: list[Offer] = []
    notes: list[str] = []
    for offer in wanted:
        fits = [o for o in catalog.offers if o.provider == "gcp" and _holds(o, offer, is_spot)]
        where = machines[0].region if machines else region
        if where is not None:
            fits = [o for o in fits if o.region == where]
        near = [o for o in fits if o.region.startswith(area)] or fits
        if not near and not machines:
            accelerators = (
                f", {offer.accelerator_count}x {offer.accelerator_name}"
                if offer.has_accelerator
                else ""
            )
            raise DeployError(
                f"no GCP machine in the catalog holds {offer.instance_type}'s {offer.vcpus} "
                f"vCPUs, {offer.memory_gib:g} GiB, {offer.arch}{accelerators}"
                + (" at a spot price" if is_spot else "")
                + (f" in {where}" if where else "")
            )
        if not near:
            continue  # a further spot type without a GCP twin: the pool has the others
        best = min(near, key=lambda o: (_price(o, is_spot), o.region, o.instance_type))
        if best.instance_type not in {m.instance_type for m in machines}:
            machines.append(best)
        notes.append(
            f"GKE {role} pool: {offer.instance_type} ({offer.provider}) mapped to "
            f"{_machine_type(best)} in "
            f"{best.region}, the cheapest catalog GCP machine with at least its vCPUs, memory, "
            f"architecture and accelerators (${_price(best, is_spot):.4f}/h "
            f"{'spot' if is_spot else 'on-demand'}); not planned there: no speed was measured "
            "on it and no bill priced it"
        )
    return machines, notes


def _holds(candidate: Offer, offer: Offer, is_spot: bool) -> bool:
    return (
        candidate.arch == offer.arch
        and candidate.vcpus >= offer.vcpus
        and candidate.memory_gib >= offer.memory_gib
        and candidate.accelerator_name == offer.accelerator_name
        and candidate.accelerator_count >= offer.accelerator_count
        and candidate.usd_per_hour(is_spot=is_spot) is not None
    )


def _price(offer: Offer, is_spot: bool) -> float:
    price = offer.usd_per_hour(is_spot=is_spot)
    return price if price is not None else math.inf


def _machine_type(offer: Offer) -> str:
    """The machine type of a GCP offer (a host + GPU composition names its host)."""
    return offer.instance_type.split(" + ")[0]


def _disk_type(offer: Offer) -> str:
    family = _machine_type(offer).split("-")[0]
    return "hyperdisk-balanced" if family in _HYPERDISK_FAMILIES else "pd-balanced"


def _compute_class(
    name: str, option: PlanOption, machines: Sequence[Offer], disk_gib: float
) -> dict[str, Any]:
    """Each machine as a priority, spot first (then on-demand for a mixed fleet); no scale-up
    beyond them, as Karpenter's pool allows none."""
    capacities = [True, False] if option.pricing == "mixed" else [is_spot(option)]
    priorities: list[dict[str, Any]] = []
    for spot in capacities:
        for machine in machines:
            priority: dict[str, Any] = {
                "machineType": _machine_type(machine),
                "spot": spot,
                "storage": {"bootDiskType": _disk_type(machine), "bootDiskSize": int(disk_gib)},
            }
            if machine.accelerator_name is not None:
                priority["gpu"] = {
                    "type": GKE_ACCELERATORS[machine.accelerator_name],
                    "count": machine.accelerator_count,
                    "driverVersion": "default",
                }
            priorities.append(priority)
    pool_config: dict[str, Any] = {
        "imageType": "cos_containerd",
        "nodeLabels": {POOL_LABEL: "serving"},
    }
    if machines[0].has_accelerator:
        pool_config["taints"] = [{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}]
    return {
        "apiVersion": "cloud.google.com/v1",
        "kind": "ComputeClass",
        "metadata": {"name": name},
        "spec": {
            "priorities": priorities,
            "nodePoolAutoCreation": {"enabled": True},
            "nodePoolConfig": pool_config,
            "whenUnsatisfiable": "DoNotScaleUp",
        },
    }


def _gcloud(
    name: str,
    option: PlanOption,
    machines: Sequence[Offer],
    system: tuple[int, Offer] | None,
    disk_gib: float,
    region: str,
) -> str:
    """The two node pools as gcloud commands: the serving one autoscaled between the plan's
    fewest and most nodes (+1 for a rolling update's surge pod), the system one fixed."""
    machine = machines[0]
    least = option.always_on_nodes
    serving = [
        *_common(region, machine, disk_gib),
        *([("--spot", ""), ("--location-policy", "ANY")] if is_spot(option) else []),
        ("--enable-autoscaling", ""),
        ("--num-nodes", str(math.ceil(least / ZONE_COUNT))),
        ("--total-min-nodes", str(least)),
        ("--total-max-nodes", str(max(option.nodes_max, least) + 1)),
        ("--node-labels", f"{POOL_LABEL}=serving"),
    ]
    if machine.accelerator_name is not None:
        gpu = GKE_ACCELERATORS[machine.accelerator_name]
        serving += [
            (
                "--accelerator",
                f"type={gpu},count={machine.accelerator_count},gpu-driver-version=default",
            ),
            ("--node-taints", "nvidia.com/gpu=true:NoSchedule"),
        ]
    commands = [(f"{name}-serving", serving)]
    if system is not None:
        nodes, system_machine = system
        commands.append(
            (
                f"{name}-system",
                [
                    *_common(region, system_machine, disk_gib),
                    ("--num-nodes", str(math.ceil(nodes / ZONE_COUNT))),
                    ("--node-labels", f"{POOL_LABEL}=system"),
                    ("--node-taints", f"{SYSTEM_TAINT}=true:NoSchedule"),
                ],
            )
        )
    lines = [
        "#!/bin/bash",
        f"# GKE node pools for {option.label}, as mlcost deploy node-groups mapped them.",
        "set -euo pipefail",
        ': "${CLUSTER:?set CLUSTER to the GKE cluster}"',
        f': "${{ZONES:?set ZONES to {ZONE_COUNT} zones of {region}, comma-separated}}"',
    ]
    for pool, flags in commands:
        words = [f"gcloud container node-pools create {pool}"]
        words += [f"{flag} {_shell_word(value)}".rstrip() for flag, value in flags]
        lines.append(" \\\n  ".join(words))
    return "\n".join(lines) + "\n"


def _common(region: str, machine: Offer, disk_gib: float) -> list[tuple[str, str]]:
    return [
        ("--cluster", "$CLUSTER"),
        ("--location", region),
        ("--node-locations", "$ZONES"),
        ("--machine-type", _machine_type(machine)),
        ("--image-type", "COS_CONTAINERD"),
        ("--disk-type", _disk_type(machine)),
        ("--disk-size", f"{disk_gib:g}"),
        ("--max-surge-upgrade", "1"),
        ("--max-unavailable-upgrade", "0"),
    ]


def _shell_word(value: str) -> str:
    """A flag's value for the shell: quoted, but the script's variables left to expand."""
    return f'"{value}"' if value.startswith("$") else shlex.quote(value) if value else ""
